import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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
  fs.rmSync(runDir, { recursive: true, force: true });
}
