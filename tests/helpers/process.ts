import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT } from './stack.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface BaliseProcess {
  child: ChildProcess;
  baseUrl: string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  output(): string;
}

export const TEST_WRITE_KEY = 'proc-write-key-123';
export const TEST_ADMIN_TOKEN = 'proc-admin-token-0123456789';

/** Starts `balise <command>` as a real child process and waits until /ready answers 200. */
export async function startBaliseProcess(command: string, dataDir: string, port: number, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<BaliseProcess> {
  const child = spawn(process.execPath, [...nodeArgs, path.join(REPO_ROOT, 'bin/balise.js'), command], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      BALISE_DATA_DIR: dataDir,
      BALISE_WRITE_KEYS: `test:${TEST_WRITE_KEY}`,
      BALISE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      BALISE_BATCH_MAX_WAIT_MS: '100',
      BALISE_WORKER_LOCK_MS: '3000',
      // Other test files load the same two cores; event-loop shedding is tested in tests/faults.
      BALISE_MAX_EVENT_LOOP_DELAY_MS: '60000',
      BALISE_MAX_REQUEST_WAIT_MS: '60000',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`balise ${command} exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(`${baseUrl}/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`balise ${command} not ready after 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, baseUrl, exited, output: () => output };
}

/** Read-only SQL through the running server (chDB belongs to that process). */
export async function sqlViaApi(baseUrl: string, query: string): Promise<unknown[][]> {
  const response = await fetch(`${baseUrl}/api/sql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  if (!response.ok) throw new Error(`SQL failed: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { rows: unknown[][] };
  return body.rows;
}

export interface LoadResult {
  /** messageIds of every event the API acknowledged with a 2xx. */
  acknowledged: Set<string>;
  refused: number;
}

/**
 * Sends batches of `size` events until `stop()` is called or `maxBatches` is reached, keeping
 * the ids the API acknowledged. Connection errors and 5xx are expected while a server dies.
 */
export function generateLoad(baseUrl: () => string, prefix: string, size = 50, maxBatches = 10_000) {
  let stopped = false;
  const result: LoadResult = { acknowledged: new Set(), refused: 0 };
  const auth = `Basic ${Buffer.from(`${TEST_WRITE_KEY}:`).toString('base64')}`;
  const done = (async () => {
    for (let b = 0; b < maxBatches && !stopped; b++) {
      const ids = Array.from({ length: size }, (_, i) => `${prefix}-${b}-${i}`);
      const batch = ids.map((messageId) => ({ type: 'track', event: 'load_test', userId: `u${messageId.length}`, messageId, properties: { b } }));
      try {
        const res = await fetch(`${baseUrl()}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify({ batch }) });
        if (res.ok) ids.forEach((id) => result.acknowledged.add(id));
        else result.refused++;
        await res.arrayBuffer();
      } catch {
        result.refused++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  })();
  return {
    result,
    async stop() {
      stopped = true;
      await done;
      return result;
    },
  };
}
