/**
 * One quarantine replay at a time, across every API process of a Redis: two at once read the
 * same rows, and the second counted what the first was moving as resent by the client. The lock
 * expires on its own if its holder dies; while it runs, it is renewed.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { BaliseError } from '../errors.ts';

const TTL_MS = 30_000;
const RENEW_MS = 10_000;
/** Renews or releases the lock only while it is still ours. */
const IF_OURS = `if redis.call('get', KEYS[1]) == ARGV[1] then if ARGV[2] == '0' then return redis.call('del', KEYS[1]) else return redis.call('pexpire', KEYS[1], ARGV[2]) end end return 0`;

export const replayLockKey = (queueName: string): string => `${queueName}:replay-quarantine`;

export async function withReplayLock<T>(redis: Redis, key: string, work: () => Promise<T>): Promise<T> {
  const token = randomBytes(9).toString('base64url');
  if ((await redis.set(key, token, 'PX', TTL_MS, 'NX')) !== 'OK') {
    throw new BaliseError('replay_running', 'a quarantine replay is already running on this Balise: run it again once it is done (it moves each event once)');
  }
  const renew = setInterval(() => void redis.eval(IF_OURS, 1, key, token, String(TTL_MS)).catch(() => undefined), RENEW_MS);
  try {
    return await work();
  } finally {
    clearInterval(renew);
    await redis.eval(IF_OURS, 1, key, token, '0').catch(() => undefined);
  }
}
