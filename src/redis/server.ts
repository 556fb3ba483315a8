import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { BaliseError, DependencyMissingError } from '../errors.ts';
import type { FailureLog } from '../observability/failures.ts';
import { makeDirs } from '../util/make-dirs.ts';

/** Where Balise's Redis is: a URL (REDIS_URL) or the unix socket of the local child server. */
export type RedisTarget = { url: string } | { socket: string };

export interface LocalRedis {
  target: RedisTarget;
  /**
   * True when this process runs (and supervises, and stops) the server: it started it, or took
   * over one left behind by a Balise that died. False when another live Balise process on the same
   * data directory runs it (split mode): that one supervises and stops it.
   */
  owned: boolean;
  /** Stops the server we own (SIGTERM: redis-server fsyncs its AOF first); a shared one is left running. */
  stop(): Promise<void>;
}

export interface LocalRedisOptions {
  /** 'own' (default): start one, or take over a stale one; 'share': only use one run by a live Balise process. */
  mode?: 'own' | 'share';
  /** Restart the server when it dies (default true). */
  supervise?: boolean;
  failures?: FailureLog;
  timeoutMs?: number;
}

export function redisOptions(target: RedisTarget, extra: RedisOptions = {}): RedisOptions & { path?: string } {
  if ('socket' in target) return { path: target.socket, ...extra };
  const url = new URL(target.url);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    username: url.username || undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    ...extra,
  };
}

export function createRedis(target: RedisTarget, extra: RedisOptions = {}): Redis {
  return new Redis(redisOptions(target, extra));
}

export function localRedisSocket(dataDir: string): string {
  return path.join(dataDir, 'redis', 'redis.sock');
}

/** Who runs the local redis-server of a data directory: written when it starts, removed when it stops. */
interface OwnerRecord {
  balisePid: number;
  redisPid: number;
}

const ownerFile = (dataDir: string) => path.join(dataDir, 'redis', 'owner.json');

function readOwner(dataDir: string): OwnerRecord | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(ownerFile(dataDir), 'utf8')) as Partial<OwnerRecord>;
    return typeof parsed.balisePid === 'number' && typeof parsed.redisPid === 'number' ? { balisePid: parsed.balisePid, redisPid: parsed.redisPid } : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A recorded pid may have been reused by an unrelated process after a reboot: only signal a redis-server. */
function isRedisServer(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis-server');
  } catch {
    return !fs.existsSync('/proc');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function answersPing(socket: string): Promise<boolean> {
  if (!fs.existsSync(socket)) return false;
  const probe = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(20);
  return !isAlive(pid);
}

/**
 * SIGTERM (redis-server fsyncs its AOF, then exits), with SIGCONT: a stopped server (SIGSTOP, a
 * debugger) would hold the SIGTERM until resumed. SIGKILL only if it does not exit in time.
 */
async function terminate(pid: number, timeoutMs = 10_000): Promise<void> {
  if (!isRedisServer(pid)) return;
  process.kill(pid, 'SIGTERM');
  process.kill(pid, 'SIGCONT');
  if (!(await waitGone(pid, timeoutMs))) {
    process.kill(pid, 'SIGKILL');
    await waitGone(pid, 2000);
  }
}

/**
 * A redis-server left behind by a Balise that died (SIGKILL, a crash) is stopped cleanly before
 * ours starts on the same AOF: two servers on one AOF would corrupt it. It may not answer (still
 * loading its AOF), so it is found by the pid recorded at start, or asked for its pid when it answers.
 */
async function stopStale(socket: string, recorded: OwnerRecord | undefined): Promise<void> {
  if (recorded) await terminate(recorded.redisPid);
  if (!(await answersPing(socket))) return;
  const client = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1]);
    client.disconnect();
    if (pid > 0) await terminate(pid);
  } catch {
    // It went away meanwhile: that is the outcome wanted.
  } finally {
    client.disconnect();
  }
}

/**
 * The redis-servers this process runs. If it exits without stopping them (a forced exit, an
 * uncaught error), they get SIGTERM on the way out, which fsyncs their AOF: a detached server is
 * never left behind. Only SIGKILL escapes this; the next start then stops the stale server.
 */
const runningServers = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  runningServers.add(child);
  child.once('exit', () => runningServers.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', stopLocalRedisServers);
}

/** SIGTERM to every redis-server this process runs (each fsyncs its AOF and exits): for exits that skip the 'exit' event. */
export function stopLocalRedisServers(): void {
  for (const server of runningServers) {
    server.kill('SIGTERM');
    server.kill('SIGCONT');
  }
}

function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

function logTail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
}

/**
 * One redis-server (AOF on, fsync every second, data and socket under the data directory),
 * resolved once it answers. It runs in its own session (`detached`): a Ctrl-C in the terminal
 * signals the whole foreground process group, and Redis must outlive Balise's drain, so Balise
 * stops it last. Its log goes to a file, so it holds no pipe to a Balise that may die first.
 */
async function spawnServer(dataDir: string, timeoutMs: number): Promise<ChildProcess> {
  const dir = path.join(dataDir, 'redis');
  const socket = localRedisSocket(dataDir);
  const logFile = path.join(dir, 'redis.log');
  fs.rmSync(socket, { force: true });
  const child = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--unixsocket',
      socket,
      '--unixsocketperm',
      '700',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
      '--logfile',
      logFile,
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: 'ignore', detached: true },
  );
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (spawned) throw new BaliseError('redis_start_failed', `redis-server could not be started: ${spawned.message}`);
  track(child);
  fs.writeFileSync(ownerFile(dataDir), JSON.stringify({ balisePid: process.pid, redisPid: child.pid ?? 0 } satisfies OwnerRecord));
  const deadline = Date.now() + timeoutMs;
  while (!(await answersPing(socket))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new BaliseError('redis_start_failed', `redis-server exited with ${child.exitCode ?? child.signalCode}: ${logTail(logFile)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new BaliseError('redis_start_failed', `redis-server did not answer within ${timeoutMs} ms: ${logTail(logFile)}`);
    }
    await sleep(50);
  }
  return child;
}

/**
 * Starts (and supervises) the local redis-server of a data directory, and resolves once it
 * answers. Listens on a unix socket only, so it never clashes with another Redis on the machine.
 * When another live Balise process of the same data directory already runs it (split mode), it is
 * shared instead; a server left behind by a dead Balise is stopped (its AOF fsynced) and replaced.
 */
export async function startLocalRedis(dataDir: string, options: LocalRedisOptions = {}): Promise<LocalRedis> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  // The queue and its append-only file hold events not yet loaded: readable by this user only.
  makeDirs(path.join(dataDir, 'redis'), 0o700);
  const socket = localRedisSocket(dataDir);
  const target = { socket };
  const recorded = readOwner(dataDir);

  if (recorded && recorded.balisePid !== process.pid && isAlive(recorded.balisePid)) {
    const deadline = Date.now() + timeoutMs;
    while (!(await answersPing(socket))) {
      if (Date.now() > deadline) throw new BaliseError('redis_unavailable', `the local redis-server run by Balise process ${recorded.balisePid} does not answer on ${socket}`);
      await sleep(100);
    }
    return { target, owned: false, stop: async () => undefined };
  }
  if (options.mode === 'share') {
    throw new BaliseError('redis_owner_missing', `no Balise process runs the local Redis of ${dataDir}: start \`balise up\` (or \`balise worker\`) on this data directory first, or set REDIS_URL`);
  }
  if (!redisServerInstalled()) throw new DependencyMissingError('redis-server', 'install it with `apt-get install -y redis-server` (Debian/Ubuntu) or set REDIS_URL');
  await stopStale(socket, recorded);

  let child = await spawnServer(dataDir, timeoutMs);
  let stopping = false;
  let restarting: Promise<void> | undefined;
  const failures = options.failures;

  // Supervision: a redis-server that dies (OOM killer, kill -9) is started again on the same AOF,
  // which gives back every acknowledged job (fsync every second, and SIGTERM/SHUTDOWN fsync).
  const watch = (server: ChildProcess) => {
    server.once('exit', (code, signal) => {
      if (stopping || options.supervise === false) return;
      failures?.report('redis_server', new Error(`redis-server exited with ${code ?? signal}`), 'the local redis-server died; restarting it');
      restarting = (async () => {
        for (let delay = 100; !stopping; delay = Math.min(delay * 2, 5000)) {
          await sleep(delay);
          if (stopping) return;
          try {
            child = await spawnServer(dataDir, timeoutMs);
            watch(child);
            failures?.recover('redis_server', 'the local redis-server was restarted on its AOF');
            return;
          } catch (error) {
            failures?.report('redis_server', error, 'the local redis-server could not be restarted');
          }
        }
      })();
    });
  };
  watch(child);

  return {
    target,
    owned: true,
    stop: async () => {
      stopping = true;
      await restarting;
      if (child.exitCode === null && child.signalCode === null && child.pid) await terminate(child.pid);
      if (readOwner(dataDir)?.balisePid === process.pid) fs.rmSync(ownerFile(dataDir), { force: true });
    },
  };
}
