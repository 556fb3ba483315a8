/**
 * The suppression list (BALISE_SUPPRESS_ERASED): ids of erased people, stored as SHA-256 hashes
 * in one Redis set, so events they send later are dropped at ingest instead of re-creating what
 * was erased. The ingest checks an in-memory copy (no Redis call per event). An addition is
 * announced on a Redis channel, so every API process (the children of `up`, `serve` replicas)
 * refreshes its copy at once, while the erasure it starts is still running; a refresh every few
 * seconds covers a notice missed while Redis was away.
 */
import type { Redis } from 'ioredis';
import { hashId } from './requests.ts';

const REFRESH_MS = 5000;

export const suppressionKey = (queuePrefix: string) => `${queuePrefix}:suppressed`;
const changedChannel = (queuePrefix: string) => `${queuePrefix}:suppressed:changed`;

export interface SuppressionList {
  /** True when any of these ids belongs to an erased person. */
  has(ids: readonly string[]): boolean;
  add(ids: readonly string[]): Promise<void>;
  refresh(): Promise<void>;
  stop(): void;
}

/** `notices`: a connection in subscriber mode (it may listen to other channels too). */
export function createSuppressionList(redis: Redis, queuePrefix: string, notices?: Redis, refreshMs = REFRESH_MS): SuppressionList {
  const key = suppressionKey(queuePrefix);
  const channel = changedChannel(queuePrefix);
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
      await redis.publish(channel, String(added.length));
    },
    async refresh() {
      hashes = new Set(await redis.smembers(key));
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      notices?.unsubscribe(channel).catch(() => undefined);
    },
  };
  const tick = () => {
    list
      .refresh()
      .catch(() => undefined)
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, refreshMs).unref();
      });
  };
  if (notices) {
    notices.on('message', (from: string) => {
      if (from === channel) void list.refresh().catch(() => undefined);
    });
    notices.subscribe(channel).catch(() => undefined);
  }
  tick();
  return list;
}
