import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { memorySpoolDir } from '../src/warehouse/insert-spool.ts';

/**
 * Every temporary directory of this run (and so every redis-server socket the tests start) lives
 * under one directory of its own: test forks inherit TMPDIR, and the teardown below stops only
 * what this run started, never another checkout's Redis running its own suite on the same machine.
 */
let runDir: string | undefined;

export function setup(): void {
  runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-run-'));
  process.env.TMPDIR = runDir;
}

/** A test process that dies (a hook timeout, a crash) cannot stop the redis-server it started. */
export function teardown(): void {
  if (!runDir) return;
  try {
    execFileSync('pkill', ['-f', `redis-server unixsocket:${runDir}/`], { stdio: 'ignore' });
  } catch {
    // pkill exits 1 when nothing matched.
  }
  removeMemorySpools(runDir, 3);
  fs.rmSync(runDir, { recursive: true, force: true });
}

/**
 * The /dev/shm spool of every data dir the run made (decision 0049): a Balise killed on purpose
 * cannot remove its own, and its data dir is gone after this run.
 */
function removeMemorySpools(dir: string, depth: number): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const child = path.join(dir, entry.name);
    fs.rmSync(memorySpoolDir(child), { recursive: true, force: true });
    if (depth > 1) removeMemorySpools(child, depth - 1);
  }
}
