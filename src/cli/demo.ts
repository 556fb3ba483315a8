import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { readWriteKey } from '../config/secrets.ts';
import { BaliseError } from '../errors.ts';
import { generateMarketplace, type DemoTruth } from '../demo/generate.ts';
import { sendDemoCalls } from '../demo/send.ts';
import { apiBaseUrl, expectServerAt } from './client.ts';

function printTruth(truth: DemoTruth): void {
  const pct = (n: number) => `${((n / Math.max(1, truth.entered)) * 100).toFixed(1)}%`;
  console.log(`Expected "${truth.funnel}" (strict order, ${truth.windowDays}-day window, ${truth.range}):`);
  console.log(`  completed sign-up          ${truth.entered}`);
  console.log(`  received ≥ 1 proposal      ${truth.receivedProposal}  (${pct(truth.receivedProposal)})`);
  console.log(`  completed ≥ 1 mission      ${truth.completedMission}  (${pct(truth.completedMission)})`);
  console.log(`Check it once the worker has loaded the events: balise funnel ${truth.funnel}`);
}

/** `balise demo`: simulate the marketplace through the real SDK into the running API. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('send a deterministic freelance-marketplace simulation through the SDK to the running API, and print its expected KPIs')
    .option('--freelancers <n>', 'freelancers who sign up', '3000')
    .option('--seed <n>', 'PRNG seed (same seed, same events)', '1')
    .option('--days <n>', 'days of history, ending today', '180')
    .option('--host <url>', 'Balise API base URL (default http://127.0.0.1:$PORT)')
    .option('--json', 'print the expected truth as JSON')
    .action(async (opts: { freelancers: string; seed: string; days: string; host?: string; json?: boolean }) => {
      const freelancers = Number(opts.freelancers);
      const seed = Number(opts.seed);
      const days = Number(opts.days);
      if (!Number.isInteger(freelancers) || freelancers < 1 || freelancers > 1_000_000) throw new BaliseError('invalid_parameter', '--freelancers must be an integer between 1 and 1000000');
      if (!Number.isInteger(seed)) throw new BaliseError('invalid_parameter', '--seed must be an integer');
      if (!Number.isInteger(days) || days < 7 || days > 3650) throw new BaliseError('invalid_parameter', '--days must be an integer between 7 and 3650');
      const config = loadConfig();
      const host = opts.host ?? apiBaseUrl(config);
      await expectServerAt(host, opts.host ? '--host' : '--host, --url or BALISE_URL');
      const writeKey = readWriteKey(config);
      if (!writeKey) throw new BaliseError('write_key_missing', `no write key: set BALISE_WRITE_KEYS or start Balise once so that ${config.dataDir}/write-key exists`);
      const { events, truth } = generateMarketplace({ seed, freelancers, days });
      const bar = new cliProgress.SingleBar({ format: 'demo [{bar}] {percentage}% | {value}/{total} events | {eta_formatted} left', hideCursor: true }, cliProgress.Presets.shades_classic);
      bar.start(events.length, 0);
      const report = await sendDemoCalls(events, { host, writeKey, onProgress: (done) => bar.update(done) });
      bar.stop();
      if (report.dropped > 0 || report.rejected > 0 || report.sent < events.length) {
        throw new BaliseError(
          'demo_incomplete',
          `sent ${report.sent} of ${events.length} events (${report.dropped} dropped, ${report.rejected} rejected): is the API at ${host} reachable and the write key right?`,
        );
      }
      if (opts.json) console.log(JSON.stringify(truth, null, 2));
      else {
        console.log(`Sent ${report.sent} events (${truth.freelancers} freelancers, ${truth.companies} companies, ${truth.missions} missions).`);
        printTruth(truth);
      }
    });
}
