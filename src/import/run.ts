/**
 * `balise import`: reads the archive, maps each line, sends batches to the running server's
 * `POST /v1/import` (the same validation, quarantine and dedupe as live traffic) with bounded
 * concurrency, and moves the checkpoint only over batches the server acknowledged.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BaliseError } from '../errors.ts';
import { batchBody, createBatchBuilder, fitsAlone, type BatchLimits } from './batches.ts';
import { isCheckpoint, Ledger, MAX_PROBLEMS, newCheckpoint, type Checkpoint, type LedgerEntry } from './checkpoint.ts';
import { detectFormat, toMessage, type ImportFormat } from './formats.ts';
import { sendBatch } from './sender.ts';
import { listSources } from './sources.ts';

const CHECKPOINT_EVERY_MS = 200;

export interface ImportProgress {
  bytesDone: number;
  bytesTotal: number;
  lines: number;
}

export interface ImportOptions {
  input: string;
  format: ImportFormat | 'auto';
  /** The running server, e.g. http://127.0.0.1:3000. */
  baseUrl: string;
  writeKey: string;
  checkpointFile: string;
  /** Ignore an existing checkpoint and import everything again (under a new run id). */
  restart?: boolean;
  /** Batches in flight at once. */
  concurrency?: number;
  limits: BatchLimits;
  maxAttempts?: number;
  onProgress?: (progress: ImportProgress) => void;
  onRetry?: (reason: string) => void;
}

export interface ImportRun {
  checkpoint: Checkpoint;
  /** The checkpoint said this input was already imported completely: nothing was sent. */
  alreadyComplete: boolean;
  resumed: boolean;
}

export function loadCheckpoint(file: string): Checkpoint | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!isCheckpoint(parsed)) throw new BaliseError('import_checkpoint_invalid', `${file} is not an import checkpoint: remove it or pass --restart`);
  return parsed;
}

/** Written whole to a temporary file, then renamed: a crash leaves the old or the new one, never half. */
export function saveCheckpoint(file: string, checkpoint: Checkpoint): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(checkpoint, null, 1));
  fs.renameSync(tmp, file);
}

export async function runImport(options: ImportOptions): Promise<ImportRun> {
  const input = path.resolve(options.input);
  const existing = options.restart ? undefined : loadCheckpoint(options.checkpointFile);
  if (existing && existing.format !== options.format) {
    throw new BaliseError('import_checkpoint_mismatch', `${options.checkpointFile} belongs to an import with --format ${existing.format}: use the same format, or --restart`);
  }
  if (existing?.completed) return { checkpoint: existing, alreadyComplete: true, resumed: true };
  const checkpoint = existing ?? newCheckpoint(input, options.format, randomBytes(8).toString('hex'), new Date());
  // Saved before the first send: a run that dies early resumes under the same run id.
  saveCheckpoint(options.checkpointFile, checkpoint);

  const inputs = await listSources(input);
  try {
    const ledger = new Ledger(checkpoint);
    const concurrency = Math.max(1, options.concurrency ?? 4);
    const inFlight = new Set<Promise<void>>();
    // Boxed, so that even a falsy rejection reason stops the import.
    let fatal: { error: unknown } | undefined;
    const bytesTotal = inputs.sources.reduce((sum, s) => sum + s.size, 0);
    let bytesDone = 0;
    let linesSeen = 0;

    // At most a few writes a second: a checkpoint that lags only means a few more batches are
    // re-sent (and deduplicated) after a crash; it never records what was not acknowledged.
    let savedAt = 0;
    const acknowledge = (seq: number, verdict: { accepted: number; quarantined: number }) => {
      if (ledger.acknowledge(seq, verdict) && Date.now() - savedAt >= CHECKPOINT_EVERY_MS) {
        saveCheckpoint(options.checkpointFile, checkpoint);
        savedAt = Date.now();
      }
    };

    const dispatch = async (entry: LedgerEntry, messages: string[]) => {
      const seq = ledger.register(entry);
      if (messages.length === 0) return acknowledge(seq, { accepted: 0, quarantined: 0 });
      const sending: Promise<void> = sendBatch(batchBody(messages), { url: `${options.baseUrl}/v1/import`, writeKey: options.writeKey, maxAttempts: options.maxAttempts, onRetry: options.onRetry })
        .then((verdict) => acknowledge(seq, verdict))
        .catch((error: unknown) => {
          fatal ??= { error };
        })
        .finally(() => inFlight.delete(sending));
      inFlight.add(sending);
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      if (fatal) throw fatal.error;
    };

    for (const source of inputs.sources) {
      const progress = checkpoint.sources[source.key];
      if (progress?.done) {
        bytesDone += source.size;
        continue;
      }
      const startLine = progress?.line ?? 0;
      const stream = await source.open();
      let format: ImportFormat | undefined = options.format === 'auto' ? undefined : options.format;
      const builder = createBatchBuilder(options.limits);
      let entry: LedgerEntry = { source: source.key, endLine: startLine, last: false, lines: 0, unparseable: 0, tooLarge: 0, sent: 0, problems: [] };
      const flush = async (endLine: number, last: boolean) => {
        const messages = builder.take();
        const done = { ...entry, endLine, last, sent: messages.length };
        entry = { source: source.key, endLine, last: false, lines: 0, unparseable: 0, tooLarge: 0, sent: 0, problems: [] };
        await dispatch(done, messages);
        options.onProgress?.({ bytesDone: bytesDone + stream.bytesRead(), bytesTotal, lines: linesSeen });
      };

      let n = 0;
      for await (const line of stream.lines) {
        n++;
        if (n <= startLine) continue;
        linesSeen++;
        if (line.trim() === '') {
          entry.lines++;
          continue;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          entry.lines++;
          entry.unparseable++;
          if (entry.problems.length < MAX_PROBLEMS) entry.problems.push(`${source.key}:${n}: not valid JSON`);
          continue;
        }
        format ??= detectFormat(parsed);
        const json = JSON.stringify(toMessage(format ?? 'segment', parsed, line, { run: checkpoint.run, format: format ?? 'segment' }));
        if (!fitsAlone(json, options.limits)) {
          entry.lines++;
          entry.tooLarge++;
          if (entry.problems.length < MAX_PROBLEMS) entry.problems.push(`${source.key}:${n}: larger than a whole request (${options.limits.maxBytes} bytes)`);
          continue;
        }
        if (!builder.fits(json)) await flush(n - 1, false);
        builder.add(json);
        entry.lines++;
      }
      await flush(n, true);
      bytesDone += source.size;
    }
    await Promise.all(inFlight);
    if (fatal) throw fatal.error;
    checkpoint.completed = true;
    saveCheckpoint(options.checkpointFile, checkpoint);
    options.onProgress?.({ bytesDone: bytesTotal, bytesTotal, lines: linesSeen });
    return { checkpoint, alreadyComplete: false, resumed: existing !== undefined };
  } finally {
    inputs.close();
  }
}
