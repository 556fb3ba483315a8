import type { Redis } from 'ioredis';
import { DEFAULT_QUEUE_KEYS } from './jobs.ts';

/**
 * messageId dedupe window, enforced before insert (not left to eventual merges).
 *
 * Each message id is claimed for the batch about to insert it (SET NX with the window as TTL).
 * A claim already held by a batch that committed means the row is stored: drop it. A claim held
 * by a batch that never committed (a worker killed between insert and commit, or an insert that
 * failed, possibly after part of it landed) is uncertain: the worker asks ClickHouse about exactly
 * those ids. Claims are never released early, since only ClickHouse knows what a failed insert left. All keys share one
 * hash tag (the prefix) so the script also runs on Redis Cluster.
 */
const CLAIM_SCRIPT = `
local batch = ARGV[1]
local ttl = tonumber(ARGV[2])
local committed = ARGV[3] .. ':c:'
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, batch, 'NX', 'EX', ttl) then
    out[i] = 0
  else
    local owner = redis.call('GET', key)
    if owner == batch then
      out[i] = 1
    elseif owner and redis.call('EXISTS', committed .. owner) == 1 then
      out[i] = 1
    else
      redis.call('SET', key, batch, 'EX', ttl)
      out[i] = 2
    end
  end
end
return out
`;

export type ClaimStatus = 'new' | 'duplicate' | 'uncertain';
const STATUS: ClaimStatus[] = ['new', 'duplicate', 'uncertain'];
/**
 * Which table a claim is for. A quarantined event and the same event stored later in `events`
 * (resent after the plan was fixed) are different rows, so each table has its own keys.
 */
export type DedupeTable = 'events' | 'quarantine';
// Short keys and values: the window holds one key per event (~150 B of Redis memory each).
// Quarantine keys differ before the first `:`, so no messageId can make the two collide.
const TABLE_SUFFIX: Record<DedupeTable, string> = { events: ':', quarantine: 'q:' };
/**
 * Scripts get their keys in slices: Redis runs one script at a time, and a 5,000-key script held
 * it for ~17 ms, delaying every request waiting to queue its job. 500 keys take ~1.5 ms.
 */
const SLICE = 500;

export interface Deduper {
  /** Claims `ids` for `batchId` (in `events` unless told otherwise); one status per id, same order. */
  claim(batchId: string, ids: string[], table?: DedupeTable): Promise<ClaimStatus[]>;
  commit(batchId: string): Promise<void>;
}

export function createDeduper(redis: Redis, windowSeconds: number, prefix = DEFAULT_QUEUE_KEYS.dedupePrefix): Deduper {
  return {
    async claim(batchId, ids, table = 'events') {
      const statuses: ClaimStatus[] = [];
      const keyPrefix = prefix + TABLE_SUFFIX[table];
      for (let i = 0; i < ids.length; i += SLICE) {
        const slice = ids.slice(i, i + SLICE);
        const codes = (await redis.eval(CLAIM_SCRIPT, slice.length, ...slice.map((id) => keyPrefix + id), batchId, String(windowSeconds), prefix)) as number[];
        for (const code of codes) statuses.push(STATUS[code] ?? 'uncertain');
      }
      return statuses;
    },
    async commit(batchId) {
      await redis.set(`${prefix}:c:${batchId}`, '1', 'EX', windowSeconds);
    },
  };
}
