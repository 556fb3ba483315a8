import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { BaliseError, DependencyMissingError } from '../errors.ts';

/** Where Balise's Redis is: a URL (REDIS_URL) or the unix socket of the local child server. */
export type RedisTarget = { url: string } | { socket: string };

export interface LocalRedis {
  target: RedisTarget;
  /** False when an already-running server on the same socket was adopted (e.g. after a crash); it is stopped on exit all the same. */
  owned: boolean;
  stop(): Promise<void>;
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

async function answersPing(socket: string): Promise<boolean> {
  if (!fs.existsSync(socket)) return false;
  const probe = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** SHUTDOWN makes redis-server fsync its AOF, then exit; used for a server we adopted. */
async function shutdownAt(socket: string): Promise<void> {
  const client = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await client.connect();
    await client.shutdown();
  } catch {
    // The connection closes as the server exits: that is the expected outcome.
  } finally {
    client.disconnect();
  }
}

function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Starts redis-server as a child (AOF on, fsync every second, data and socket under the data
 * directory) and resolves once it answers. Listens on a unix socket only, so it never clashes
 * with another Redis on the machine. A server left running on that socket by a crashed Balise is
 * adopted rather than replaced, since it holds the queued jobs.
 */
export async function startLocalRedis(dataDir: string, timeoutMs = 10_000): Promise<LocalRedis> {
  const dir = path.join(dataDir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const socket = localRedisSocket(dataDir);
  if (await answersPing(socket)) return { target: { socket }, owned: false, stop: () => shutdownAt(socket) };
  if (!redisServerInstalled()) throw new DependencyMissingError('redis-server', 'install it with `apt-get install -y redis-server` (Debian/Ubuntu) or set REDIS_URL');
  fs.rmSync(socket, { force: true });
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--daemonize', 'no', '--loglevel', 'warning', '--maxmemory-policy', 'noeviction'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  while (!(await answersPing(socket))) {
    if (child.exitCode !== null) throw new BaliseError('redis_start_failed', `redis-server exited with code ${child.exitCode}: ${stderr.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new BaliseError('redis_start_failed', `redis-server did not answer within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    target: { socket },
    owned: true,
    // SIGTERM makes redis-server fsync the AOF before it exits.
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
