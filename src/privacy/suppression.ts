/**
 * The suppression list (BALISE_SUPPRESS_ERASED): ids of erased people, stored as SHA-256 hashes
 * in one Redis set, so events they send later are dropped at ingest instead of re-creating what
 * was erased. The ingest checks an in-memory copy (no Redis call per event), refreshed every few
 * seconds so API replicas learn of an erasure made through another one.
 */
import type { Redis } from 'ioredis';
import { hashId } from './requests.ts';

const REFRESH_MS = 5000;

export const suppressionKey = (queuePrefix: string) => `${queuePrefix}:suppressed`;

export interface SuppressionList {
  /** True when any of these ids belongs to an erased person. */
  has(ids: readonly string[]): boolean;
  add(ids: readonly string[]): Promise<void>;
  refresh(): Promise<void>;
  stop(): void;
}

export function createSuppressionList(redis: Redis, queuePrefix: string): SuppressionList {
  const key = suppressionKey(queuePrefix);
  let hashes = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const list: SuppressionList = {
    has: (ids) => hashes.size > 0 && ids.some((id) => id !== '' && hashes.has(hashId(id))),
    async add(ids) {
      const added = ids.filter(Boolean).map(hashId);
      if (added.length === 0) return;
      await redis.sadd(key, ...added);
      for (const h of added) hashes.add(h);
    },
    async refresh() {
      hashes = new Set(await redis.smembers(key));
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
  const tick = () => {
    list
      .refresh()
      .catch(() => undefined)
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, REFRESH_MS).unref();
      });
  };
  tick();
  return list;
}
