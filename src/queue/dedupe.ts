import type { Redis } from 'ioredis';

/**
 * messageId dedupe window, enforced before insert (not left to eventual merges).
 *
 * Each message id is claimed for the batch about to insert it (SET NX with the window as TTL).
 * A claim already held by a batch that committed means the row is stored: drop it. A claim held
 * by a batch that never committed (a worker killed between insert and commit, or an insert that
 * failed, possibly after part of it landed) is uncertain: the worker asks ClickHouse about exactly
 * those ids. Claims are never released early, since only ClickHouse knows what a failed insert left. All keys share one
 * hash tag so the script also runs on Redis Cluster.
 */
const CLAIM_SCRIPT = `
local batch = ARGV[1]
local ttl = tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, batch, 'NX', 'EX', ttl) then
    out[i] = 0
  else
    local owner = redis.call('GET', key)
    if owner == batch then
      out[i] = 1
    elseif owner and redis.call('EXISTS', '{bdd}:c:' .. owner) == 1 then
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
/** Events and quarantine rows are deduplicated separately: a replayed event may be in both. */
export type ClaimSpace = 'events' | 'quarantine';
const STATUS: ClaimStatus[] = ['new', 'duplicate', 'uncertain'];
// Short keys and values: the window holds one key per event (~150 B of Redis memory each).
// Quarantine claims live beside event claims (same hash tag) but can never collide with them.
const key = (messageId: string, space: ClaimSpace) => (space === 'quarantine' ? `{bdd}q:${messageId}` : `{bdd}:${messageId}`);
/**
 * Scripts get their keys in slices: Redis runs one script at a time, and a 5,000-key script held
 * it for ~17 ms, delaying every request waiting to queue its job. 500 keys take ~1.5 ms.
 */
const SLICE = 500;

export interface Deduper {
  claim(batchId: string, ids: string[], space?: ClaimSpace): Promise<ClaimStatus[]>;
  commit(batchId: string): Promise<void>;
}

export function createDeduper(redis: Redis, windowSeconds: number): Deduper {
  return {
    async claim(batchId, ids, space = 'events') {
      const statuses: ClaimStatus[] = [];
      for (let i = 0; i < ids.length; i += SLICE) {
        const slice = ids.slice(i, i + SLICE);
        const codes = (await redis.eval(CLAIM_SCRIPT, slice.length, ...slice.map((id) => key(id, space)), batchId, String(windowSeconds))) as number[];
        for (const code of codes) statuses.push(STATUS[code] ?? 'uncertain');
      }
      return statuses;
    },
    async commit(batchId) {
      await redis.set(`{bdd}:c:${batchId}`, '1', 'EX', windowSeconds);
    },
  };
}
