/**
 * A lease in Redis: a key that one holder (its token) keeps for a time to live and renews, and
 * that expires on its own when its holder dies. The alerts' leader and the quarantine replay's
 * lock are leases. Renewing and releasing touch the key only while it is still the holder's.
 */
import type { Redis } from 'ioredis';

const RENEW_IF_OURS = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`;
const RELEASE_IF_OURS = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

/** Takes `key` for `token` for `ttlMs`, or renews it when `token` holds it already; false while another holds it. */
export async function holdLease(redis: Redis, key: string, token: string, ttlMs: number): Promise<boolean> {
  if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK') return true;
  return (await redis.eval(RENEW_IF_OURS, 1, key, token, String(ttlMs))) === 1;
}

/** Gives the lease back at once, rather than after its time to live; another's is left alone. */
export async function releaseLease(redis: Redis, key: string, token: string): Promise<void> {
  await redis.eval(RELEASE_IF_OURS, 1, key, token);
}
