import { createHash } from 'node:crypto';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { readAdminToken, readWriteKey } from '../config/secrets.ts';
import { BaliseError } from '../errors.ts';
import { IMPORT_FORMATS, type ImportFormat } from '../import/formats.ts';
import { countImported, waitForLoad, type ImportCounts } from '../import/report.ts';
import { runImport } from '../import/run.ts';
import { apiBaseUrl } from './client.ts';

interface ImportCliOptions {
  format: string;
  host?: string;
  concurrency: string;
  checkpoint?: string;
  restart?: boolean;
  wait: boolean;
  waitTimeout: string;
  json?: boolean;
}

/** One checkpoint per input path and format, under the data directory. */
function defaultCheckpoint(dataDir: string, input: string, format: string): string {
  const id = createHash('sha256')
    .update(`${path.resolve(input)}\n${format}`)
    .digest('hex')
    .slice(0, 16);
  return path.join(dataDir, 'imports', `${id}.json`);
}

/** `balise import <file|dir>`: load a Segment/RudderStack archive or an Amplitude export through the running API. */
export function registerImportCommand(program: Command): void {
  program
    .command('import <input>')
    .description('import history from a Segment or RudderStack archive (JSON lines, gzipped or not) or an Amplitude export (zip), through the running API; resumable')
    .option('--format <format>', `${IMPORT_FORMATS.join(' | ')} | auto`, 'auto')
    .option('--host <url>', 'Balise API base URL (default http://127.0.0.1:$PORT)')
    .option('--concurrency <n>', 'batches in flight at once', '4')
    .option('--checkpoint <file>', 'where progress is kept (default: under the data directory, one per input)')
    .option('--restart', 'ignore the checkpoint and import everything again')
    .option('--no-wait', 'do not wait for the worker to load the rows before counting them')
    .option('--wait-timeout <seconds>', 'how long to wait for the worker to load the rows', '300')
    .option('--json', 'print the report as JSON')
    .action(async (input: string, opts: ImportCliOptions) => {
      const format = opts.format as ImportFormat | 'auto';
      if (format !== 'auto' && !IMPORT_FORMATS.includes(format)) throw new BaliseError('invalid_parameter', `--format must be one of ${IMPORT_FORMATS.join(', ')}, auto`);
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new BaliseError('invalid_parameter', '--concurrency must be an integer between 1 and 64');
      const waitSeconds = Number(opts.waitTimeout);
      if (!Number.isFinite(waitSeconds) || waitSeconds < 0) throw new BaliseError('invalid_parameter', '--wait-timeout must be a number of seconds');
      const config = loadConfig();
      const baseUrl = opts.host ?? apiBaseUrl(config);
      const writeKey = readWriteKey(config);
      if (!writeKey) throw new BaliseError('write_key_missing', `no write key: set BALISE_WRITE_KEYS or start Balise once so that ${config.dataDir}/write-key exists`);
      const checkpointFile = opts.checkpoint ?? defaultCheckpoint(config.dataDir, input, format);

      const tty = Boolean(process.stderr.isTTY) && !opts.json;
      const bar = tty
        ? new cliProgress.SingleBar({ format: 'import [{bar}] {percentage}% | {lines} lines | {eta_formatted} left', hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic)
        : undefined;
      let started = false;
      const t0 = Date.now();
      const run = await runImport({
        input,
        format,
        baseUrl,
        writeKey,
        checkpointFile,
        restart: opts.restart,
        concurrency,
        // Headroom under the request limit for the envelope and any multi-byte miscount.
        limits: { maxBytes: config.ingest.maxRequestBytes - 1024, maxEvents: config.ingest.maxBatchEvents },
        onProgress: (p) => {
          if (!bar) return;
          if (!started) bar.start(Math.max(1, p.bytesTotal), 0, { lines: 0 });
          started = true;
          bar.update(p.bytesDone, { lines: p.lines });
        },
      });
      bar?.stop();
      const sendSeconds = (Date.now() - t0) / 1000;
      const totals = run.checkpoint.totals;

      let counts: ImportCounts | undefined;
      let countNote = '';
      const adminToken = readAdminToken(config);
      if (!opts.wait) countNote = 'not counted (--no-wait)';
      else if (!adminToken) countNote = 'not counted: no admin token (BALISE_ADMIN_TOKEN or the data directory) to ask the server';
      else {
        const api = { baseUrl, adminToken };
        const loaded = await waitForLoad(api, waitSeconds * 1000);
        counts = await countImported(api, run.checkpoint);
        if (!loaded) countNote = `the worker had not loaded everything after ${waitSeconds} s: the counts are provisional`;
      }

      const loadSeconds = (Date.now() - t0) / 1000 - sendSeconds;
      const report = {
        input: run.checkpoint.input,
        run: run.checkpoint.run,
        checkpoint: checkpointFile,
        alreadyComplete: run.alreadyComplete,
        resumed: run.resumed,
        ...totals,
        ...(counts ?? {}),
        sendSeconds,
        loadSeconds,
        note: countNote || undefined,
        problems: run.checkpoint.problems,
      };
      if (opts.json) {
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      if (run.alreadyComplete) console.log(`Already imported (checkpoint ${checkpointFile}); pass --restart to import it again. That import:`);
      else console.log(`${run.resumed ? 'Resumed and imported' : 'Imported'} ${run.checkpoint.input} in ${sendSeconds.toFixed(1)} s (+ ${loadSeconds.toFixed(1)} s for the worker to load it):`);
      console.log(
        `  ${totals.lines} lines read, ${totals.sent} events sent, ${totals.accepted} accepted, ${totals.quarantined} quarantined${totals.suppressed ? `, ${totals.suppressed} suppressed (erased people)` : ''} by the server`,
      );
      if (counts) {
        console.log(`  stored       ${counts.stored}`);
        console.log(`  quarantined  ${counts.quarantined}  (invalid for the plan or malformed: see the dashboard, then \`balise replay quarantine\`)`);
        console.log(`  duplicates   ${counts.duplicates}  (accepted, not stored under this import: messageId already stored, or older than a retention period)`);
      } else console.log(`  accepted ${totals.accepted}, quarantined ${totals.quarantined} (server verdicts); stored and duplicate rows ${countNote}`);
      if (countNote && counts) console.log(`  note: ${countNote}`);
      if (totals.unparseable || totals.tooLarge) {
        console.log(`  not sent     ${totals.unparseable} lines that are not JSON, ${totals.tooLarge} too large for a request`);
        for (const problem of run.checkpoint.problems) console.log(`    ${problem}`);
      }
    });
}
