/**
 * Import bench: `balise up` as its own process; a generated Segment S3 archive (gzipped JSON
 * lines, see tests/helpers/import-archives.ts) loaded by the real `balise import` CLI, timed from
 * its start to its exit (every row stored and counted).
 * Baseline, same run, same machine: gunzip + JSON.parse of the same lines in this process.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import zlib from 'node:zlib';
import { generateArchive } from '../tests/helpers/import-archives.ts';
import { freePort, startBaliseProcess, TEST_ADMIN_TOKEN, TEST_WRITE_KEY } from '../tests/helpers/process.ts';
import { REPO_ROOT, tempDir } from '../tests/helpers/stack.ts';
import { printResult, round, shippedWorkerSettings } from './lib.ts';

const PERSONS = Number(process.env.BENCH_IMPORT_PERSONS ?? 100_000); // × 4 events

async function parseRate(dir: string): Promise<number> {
  const files: string[] = [];
  const walk = (d: string) =>
    fs
      .readdirSync(d)
      .sort()
      .forEach((n) => (fs.statSync(path.join(d, n)).isDirectory() ? walk(path.join(d, n)) : files.push(path.join(d, n))));
  walk(dir);
  let parsed = 0;
  const started = performance.now();
  for (const file of files) {
    const raw = fs.createReadStream(file);
    const input = file.endsWith('.gz') ? raw.pipe(zlib.createGunzip()) : raw;
    for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
      try {
        JSON.parse(line);
        parsed++;
      } catch {
        // the archive's deliberately broken lines
      }
    }
  }
  return parsed / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const archive = await generateArchive({ format: 'segment', dir: tempDir('balise-bench-import-'), persons: PERSONS, start: '2023-01-02', tag: 'b' });
  const baseline = await parseRate(archive.input);
  const port = await freePort();
  const dataDir = tempDir('balise-bench-');
  const server = await startBaliseProcess('up', dataDir, port, { ...shippedWorkerSettings(), BALISE_MAX_QUEUE_DEPTH: '100000', LOG_LEVEL: 'error' });
  try {
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/balise.js'), 'import', archive.input, '--host', server.baseUrl, '--json'], {
      cwd: REPO_ROOT,
      env: { ...process.env, BALISE_DATA_DIR: tempDir('balise-bench-cli-'), BALISE_WRITE_KEYS: `bench:${TEST_WRITE_KEY}`, BALISE_ADMIN_TOKEN: TEST_ADMIN_TOKEN },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`balise import exited with ${code}`);
    const report = JSON.parse(stdout) as { stored: number; sent: number };
    if (report.stored !== archive.expectedStored) console.error(`warning: stored ${report.stored}, expected ${archive.expectedStored}`);
    const rate = archive.events / seconds;
    console.log(
      `import: ${archive.events} events (${archive.lines} lines) in ${round(seconds, 2)} s = ${Math.round(rate)} events/s, stored ${report.stored}; baseline gunzip + JSON.parse ${Math.round(baseline)} events/s`,
    );
    printResult('import', [
      {
        name: 'import rate (archive → stored and counted)',
        value: Math.round(rate),
        unit: 'events/s',
        baseline: { name: 'gunzip + JSON.parse of the same lines', value: Math.round(baseline), unit: 'events/s' },
        ratio: round(rate / baseline, 3),
      },
    ]);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

await main();
