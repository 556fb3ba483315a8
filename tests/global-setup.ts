import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

/**
 * A test process that dies (a hook timeout, a crash) cannot stop the redis-server it started:
 * stop whatever still runs on a socket inside the tests' temporary directories.
 */
export function teardown(): void {
  for (const prefix of ['balise-test-', 'balise-bench-']) {
    try {
      execFileSync('pkill', ['-f', `redis-server unixsocket:${path.join(os.tmpdir(), prefix)}`], { stdio: 'ignore' });
    } catch {
      // pkill exits 1 when nothing matched.
    }
  }
}
