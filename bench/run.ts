/**
 * `balise bench` / `npm run bench`: runs each bench as its own child process, one after the
 * other (they would otherwise fight over the same two cores), collects their `BENCH_RESULT`
 * lines and prints one table of absolute figures, same-run baselines, ratios and targets.
 *
 *   node --import tsx bench/run.ts [--quick] [--only ingest|flood|sdk|funnel|import|dedupe|soak] [--soak]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import type { BenchFigure } from './lib.ts';

export const BENCH_NAMES = ['ingest', 'flood', 'sdk', 'funnel', 'import', 'dedupe', 'soak'] as const;
export type BenchName = (typeof BENCH_NAMES)[number];

export interface BenchOptions {
  /** Smaller sizes, for a check of the whole chain in a few minutes. */
  quick?: boolean;
  only?: BenchName;
  /** Include the soak (10 minutes by default, 60 s with --quick). */
  soak?: boolean;
}

interface BenchSpec {
  name: BenchName;
  args: string[];
  env: Record<string, string>;
  /** For benches that print prose rather than a BENCH_RESULT line. */
  parse?: (output: string) => BenchFigure[];
}

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = ['--import', 'tsx'];

const number = (text: string | undefined) => (text === undefined ? NaN : Number(text.replace(/[,\s]/g, '')));

/** Reads the SDK bench's prose output (sdk/bench.mjs): bundle size and track() throughput. */
export function parseSdkOutput(output: string): BenchFigure[] {
  const figures: BenchFigure[] = [];
  const size = /browser core[^:]*:\s*([\d,]+) B minified,\s*([\d,]+) B min\+gzip(?:.*?budget\s*([\d,]+) B)?/.exec(output);
  if (size) {
    figures.push({
      name: 'browser SDK size, min+gzip',
      value: number(size[2]),
      unit: 'B',
      baseline: { name: 'minified, not gzipped', value: number(size[1]), unit: 'B' },
      ratio: Math.round((number(size[2]) / number(size[1])) * 1000) / 1000,
      target: `≤ ${size[3] ?? '3,072'} B`,
    });
  }
  const base = /^baseline:[^\n]*?([\d,]+) calls\/s/m.exec(output);
  const sdk = /^sdk:[^\n]*?([\d,]+) calls\/s/m.exec(output);
  if (sdk) {
    const value = number(sdk[1]);
    figures.push({
      name: 'Node SDK track() throughput',
      value,
      unit: 'calls/s',
      ...(base ? { baseline: { name: 'push event-shaped objects into an array', value: number(base[1]), unit: 'calls/s' }, ratio: Math.round((value / number(base[1])) * 1000) / 1000 } : {}),
      target: '≥ 200,000 calls/s',
    });
  }
  return figures;
}

function specs(options: BenchOptions): BenchSpec[] {
  const quick = options.quick === true;
  const all: BenchSpec[] = [
    { name: 'ingest', args: [...TSX, 'bench/ingest.ts'], env: quick ? { BENCH_EVENTS: '200000', BENCH_SPLIT_EVENTS: '100000', BENCH_SINGLE_EVENTS: '20000', BENCH_HALF_SECONDS: '5' } : {} },
    { name: 'flood', args: [...TSX, 'bench/flood.ts'], env: quick ? { FLOOD_CAPACITY_SECONDS: '5', FLOOD_SECONDS: '8' } : {} },
    { name: 'sdk', args: ['sdk/bench.mjs'], env: quick ? { ROUNDS: '20' } : {}, parse: parseSdkOutput },
    { name: 'funnel', args: [...TSX, 'bench/funnel.ts', ...(quick ? ['--events', '1000000', '--persons', '50000', '--runs', '2'] : [])], env: {} },
    { name: 'import', args: [...TSX, 'bench/import.ts'], env: quick ? { BENCH_IMPORT_PERSONS: '25000' } : {} },
    { name: 'dedupe', args: [...TSX, 'bench/dedupe.ts'], env: quick ? { BENCH_DEDUPE_EVENTS: '50000', BENCH_DEDUPE_HISTORY: '500000' } : {} },
    { name: 'soak', args: [...TSX, 'bench/soak.ts'], env: quick ? { SOAK_SECONDS: '60' } : {} },
  ];
  return all.filter((s) => {
    if (options.only) return s.name === options.only;
    if (s.name === 'soak') return options.soak === true;
    if (s.name === 'sdk') return fs.existsSync(path.join(ROOT, 'sdk/bench.mjs'));
    return true;
  });
}

interface BenchRun {
  name: BenchName;
  figures: BenchFigure[];
  exitCode: number | null;
  seconds: number;
}

/** Runs one bench, echoing its output live, and returns the figures it reported. */
function runOne(spec: BenchSpec): Promise<BenchRun> {
  return new Promise((resolve) => {
    const started = Date.now();
    console.log(
      `\n▶ ${spec.name}: node ${spec.args.join(' ')}${
        Object.keys(spec.env).length
          ? `  (${Object.entries(spec.env)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')})`
          : ''
      }`,
    );
    const child = spawn(process.execPath, spec.args, { cwd: ROOT, env: { ...process.env, ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const echo = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      process.stdout.write(text.replace(/^BENCH_RESULT .*\n?/gm, ''));
    };
    child.stdout.on('data', echo);
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.on('close', (exitCode) => {
      const figures: BenchFigure[] = [];
      for (const line of output.split('\n')) {
        if (!line.startsWith('BENCH_RESULT ')) continue;
        try {
          figures.push(...(JSON.parse(line.slice('BENCH_RESULT '.length)) as { figures: BenchFigure[] }).figures);
        } catch {
          console.error(`${spec.name}: unreadable BENCH_RESULT line`);
        }
      }
      if (figures.length === 0 && spec.parse) figures.push(...spec.parse(output));
      resolve({ name: spec.name, figures, exitCode, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** "OK" / "MISSED" for targets written "≥ N unit" or "≤ N unit"; blank otherwise. */
export function meetsTarget(figure: BenchFigure): string {
  const match = /^\s*([≥≤])\s*([\d,.]+)/.exec(figure.target ?? '');
  // "≥ 0.8 (ratio)": the bound applies to the ratio, not the value.
  const value = /\(ratio\)\s*$/.test(figure.target ?? '') ? (figure.ratio ?? NaN) : figure.value;
  if (!match || !Number.isFinite(value)) return '';
  const bound = number(match[2]);
  return (match[1] === '≥' ? value >= bound : value <= bound) ? 'OK' : 'MISSED';
}

const format = (value: number, unit: string) => `${Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: 3 }) : 'n/a'} ${unit}`;

export function renderTable(runs: BenchRun[]): string {
  const table = new Table({
    head: ['bench', 'figure', 'value', 'baseline (same run)', 'ratio', 'target', ''],
    wordWrap: true,
    colWidths: [8, 34, 16, 30, 8, 20, 8],
    // Plain borders when piped (CI logs, reports); colours only on a terminal.
    ...(process.stdout.isTTY ? {} : { style: { head: [], border: [] } }),
  });
  for (const run of runs) {
    if (run.figures.length === 0) table.push([run.name, `no figures (exit code ${run.exitCode})`, '', '', '', '', 'FAILED']);
    for (const f of run.figures) {
      table.push([
        run.name,
        f.name,
        format(f.value, f.unit),
        f.baseline ? `${f.baseline.name}: ${format(f.baseline.value, f.baseline.unit)}` : '',
        f.ratio === undefined ? '' : `${f.ratio}`,
        f.target ?? '',
        meetsTarget(f),
      ]);
    }
  }
  return table.toString();
}

/** Runs the selected benches in sequence and prints the table; resolves false if one failed. */
export async function runBenches(options: BenchOptions = {}): Promise<boolean> {
  const runs: BenchRun[] = [];
  for (const spec of specs(options)) runs.push(await runOne(spec));
  console.log(`\nBalise bench${options.quick ? ' (--quick)' : ''}: ${runs.map((r) => `${r.name} ${r.seconds.toFixed(0)} s`).join(', ')}`);
  console.log(renderTable(runs));
  console.log('Ratios compare each figure with a baseline measured in the same run on the same machine; on a shared, noisy box they are steadier than the absolute figures.');
  return runs.every((r) => r.exitCode === 0 && r.figures.length > 0);
}

function parseOnly(value: string | undefined): BenchName | undefined {
  if (value === undefined) return undefined;
  if (!(BENCH_NAMES as readonly string[]).includes(value)) throw new Error(`--only expects one of ${BENCH_NAMES.join(', ')}, got "${value}"`);
  return value as BenchName;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, soak: { type: 'boolean', default: false } } });
  const ok = await runBenches({ quick: values.quick, only: parseOnly(values.only), soak: values.soak });
  process.exitCode = ok ? 0 : 1;
}
