import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { FIXTURE_PLAN } from './plans.ts';
import { REPO_ROOT } from './stack.ts';

/** Binds `port` (0: any) on 127.0.0.1 and lets it go: the port bound, or undefined when it is taken. */
function tryPort(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

let portsHanded = 0;

/**
 * A port for a server a test starts. A port the kernel picks (bind to 0, then close) can be
 * picked again for another test file starting a server at the same moment: the second server
 * then fails on a taken port while the first answers its readiness checks and its load. So
 * each vitest fork (VITEST_POOL_ID) hands out ports from a range of its own, below the
 * kernel's ephemeral ports, skipping one still bound (a process of an earlier file stopping).
 */
export async function freePort(): Promise<number> {
  const pool = Number(process.env.VITEST_POOL_ID ?? 0);
  if (pool > 0) {
    for (let tries = 0; tries < 1000; tries++) {
      const port = await tryPort(20_000 + pool * 1000 + ((process.pid + portsHanded++) % 1000));
      if (port !== undefined) return port;
    }
  }
  const port = await tryPort(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

export interface BaliseProcess {
  child: ChildProcess;
  baseUrl: string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  output(): string;
}

export const TEST_WRITE_KEY = 'proc-write-key-123';
/** The Authorization header of a client sending with TEST_WRITE_KEY (Basic, the key as user name, as Segment's SDKs send it). */
export const TEST_WRITE_AUTH = `Basic ${Buffer.from(`${TEST_WRITE_KEY}:`).toString('base64')}`;
export const TEST_ADMIN_TOKEN = 'proc-admin-token-0123456789';

function baliseEnv(dataDir: string, port: number, env: Record<string, string>): NodeJS.ProcessEnv {
  return {
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
    BALISE_PLAN_DIR: FIXTURE_PLAN,
    ...env,
  };
}

/** Collects a child's output and waits until its /ready answers 200. */
async function untilReady(child: ChildProcess, what: string, port: number): Promise<BaliseProcess> {
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(`${baseUrl}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${what} not ready after 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, baseUrl, exited, output: () => output };
}

/** Starts `balise <command>` as a real child process and waits until /ready answers 200. */
export async function startBaliseProcess(command: string, dataDir: string, port: number, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<BaliseProcess> {
  const child = spawn(process.execPath, [...nodeArgs, path.join(REPO_ROOT, 'bin/balise.js'), command], {
    cwd: REPO_ROOT,
    env: baliseEnv(dataDir, port, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return untilReady(child, `balise ${command}`, port);
}

/**
 * Runs `balise <command>` under a real pseudo-terminal (util-linux `script`), as a user's shell
 * would: it is the terminal's foreground process group, so a Ctrl-C written to the terminal
 * (`\x03`) is turned by the line discipline into SIGINT for every process of that group.
 */
export async function startBaliseInTerminal(command: string, dataDir: string, port: number, env: Record<string, string> = {}): Promise<BaliseProcess & { press(keys: string): void }> {
  const line = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(REPO_ROOT, 'bin/balise.js'))} ${command}`;
  const child = spawn('script', ['-qfec', line, '/dev/null'], { cwd: REPO_ROOT, env: baliseEnv(dataDir, port, env), stdio: ['pipe', 'pipe', 'pipe'] });
  const running = await untilReady(child, `balise ${command} (in a terminal)`, port);
  return { ...running, press: (keys: string) => child.stdin?.write(keys) };
}

/** Pids of the processes that `matches` accepts, reading /proc (a process that ends meanwhile is skipped). */
function pidsWhere(matches: (pid: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (matches(entry)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** Pids of the redis-servers running on this data directory's socket, from /proc (whoever started them). */
export function redisServersOf(dataDir: string): number[] {
  const socket = path.join(dataDir, 'redis', 'redis.sock');
  return pidsWhere((pid) => {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.startsWith('redis-server') && cmdline.includes(socket);
  });
}

/** Pids of the `balise` node processes (an `up` and its API children) running on this data directory, from /proc. */
export function baliseProcessesOf(dataDir: string): number[] {
  return pidsWhere((pid) => {
    // Node itself running bin/balise.js: not `script`, whose command line names it too.
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv[0] !== process.execPath || !argv.some((arg) => arg.endsWith('bin/balise.js'))) return false;
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`BALISE_DATA_DIR=${dataDir}`);
  });
}

/**
 * Runs a one-shot `balise <args>` command to completion: its exit code and everything it printed.
 * One that hangs is killed after a minute (code null), not left spinning after its test.
 */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/balise.js'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', BALISE_PLAN_DIR: FIXTURE_PLAN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
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
  const done = (async () => {
    for (let b = 0; b < maxBatches && !stopped; b++) {
      const ids = Array.from({ length: size }, (_, i) => `${prefix}-${b}-${i}`);
      const batch = ids.map((messageId) => ({ type: 'track', event: 'load_test', userId: `u${messageId.length}`, messageId, properties: { b } }));
      try {
        const res = await fetch(`${baseUrl()}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: TEST_WRITE_AUTH }, body: JSON.stringify({ batch }) });
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
