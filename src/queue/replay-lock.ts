/**
 * One quarantine replay at a time, across every API process of a Redis: two at once read the
 * same rows, and the second counted what the first was moving as resent by the client. The lock
 * is a lease (util/redis-lease.ts): it expires on its own if its holder dies; while it runs, it is renewed.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { BaliseError } from '../errors.ts';
import { holdLease, releaseLease } from '../util/redis-lease.ts';

const TTL_MS = 30_000;
const RENEW_MS = 10_000;

export const replayLockKey = (queueName: string): string => `${queueName}:replay-quarantine`;

export async function withReplayLock<T>(redis: Redis, key: string, work: () => Promise<T>): Promise<T> {
  const token = randomBytes(9).toString('base64url');
  if (!(await holdLease(redis, key, token, TTL_MS))) {
    throw new BaliseError('replay_running', 'a quarantine replay is already running on this Balise: run it again once it is done (it moves each event once)');
  }
  const renew = setInterval(() => void holdLease(redis, key, token, TTL_MS).catch(() => undefined), RENEW_MS);
  try {
    return await work();
  } finally {
    clearInterval(renew);
    await releaseLease(redis, key, token).catch(() => undefined);
  }
}
