import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { BaliseError } from '../errors.ts';

/** The benches of bench/run.ts (BENCH_NAMES; tests/unit/bench-cli.test.ts keeps the two lists equal). */
export const BENCHES = ['ingest', 'flood', 'sdk', 'funnel', 'import', 'dedupe', 'soak'] as const;
type BenchName = (typeof BENCHES)[number];

interface BenchModule {
  runBenches(options: { quick?: boolean; only?: BenchName; soak?: boolean }): Promise<boolean>;
}

function benchName(value: string): BenchName {
  if (!(BENCHES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${BENCHES.join(', ')}`);
  return value as BenchName;
}

/** `balise bench`: the benches live in bench/ (not shipped in the npm package), loaded on demand. */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('run the ingest, SDK, funnel and import benches and print one table of figures, same-run baselines and ratios')
    .option('--quick', 'smaller sizes: a check of the whole chain in a few minutes')
    .option('--only <bench>', `run one bench: ${BENCHES.join(' | ')}`, benchName)
    .option('--soak', 'also run the soak (10 minutes at a steady rate, memory sampled)')
    .action(async (opts: { quick?: boolean; only?: BenchName; soak?: boolean }) => {
      const runnerFile = path.resolve(import.meta.dirname, '../../bench/run.ts');
      if (!fs.existsSync(runnerFile))
        throw new BaliseError('bench_unavailable', 'the benches (and the test helpers they drive) ship with the source repository, not the npm package: run `npm run bench` in a clone');
      const { runBenches } = (await import(pathToFileURL(runnerFile).href)) as BenchModule;
      const ok = await runBenches({ quick: opts.quick === true, only: opts.only, soak: opts.soak === true });
      if (!ok) process.exitCode = 1;
    });
}
