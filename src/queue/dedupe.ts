/**
 * The worker's recent-messageId window: a fast path that drops a resend before it is inserted.
 * It is not what makes counts exact (docs/decisions/0011-dedupe-in-clickhouse.md): `events` and
 * `quarantine` fold every copy of a messageId under one key, and every reader uses FINAL. So the
 * window holds no Redis memory at all, lives in the worker's own memory, bounded by a count and
 * an age, and may be lost on restart without losing or doubling anything.
 *
 * Each id is claimed for the batch about to insert it and remembered once that batch commits.
 * An id claimed by a batch that never committed (its insert failed, perhaps after part of it
 * landed) is `uncertain`: the caller asks ClickHouse about exactly those ids. A job redelivered
 * by the queue (a worker killed between insert and completion) is uncertain too, whatever the
 * window says: the batcher checks it against ClickHouse (`BatchInserter.add`).
 */
export type ClaimStatus = 'new' | 'duplicate' | 'uncertain';
/**
 * Which table a claim is for. A quarantined event and the same event stored later in `events`
 * (resent after the plan was fixed) are different rows, so each table has its own ids.
 */
export type DedupeTable = 'events' | 'quarantine';

export interface Deduper {
  /** Claims `ids` for `batchId` (in `events` unless told otherwise); one status per id, same order. */
  claim(batchId: string, ids: string[], table?: DedupeTable): Promise<ClaimStatus[]>;
  /** The batch's rows are stored: its ids become duplicates for the rest of the window. */
  commit(batchId: string): Promise<void>;
}

export interface DedupeWindow {
  /** How long a stored id is remembered. */
  windowSeconds: number;
  /** At most this many ids are remembered (the oldest go first): the bound on the worker's memory. */
  maxIds: number;
}

/**
 * One batch's claim, shared by every id it claimed: a commit marks the batch once, not each of
 * its ids, and claiming an id allocates nothing.
 */
interface BatchClaim {
  /** When it was claimed: the window runs from the claim (an insert takes about a second of an hour). */
  at: number;
  committed: boolean;
}

/** Batches claimed but not committed that are remembered (one insert runs at a time; failed ones linger). */
const MAX_OPEN_BATCHES = 1000;

export function createDeduper(window: DedupeWindow, now: () => number = Date.now): Deduper {
  // One map per table, keyed by the id itself. Insertion order is age order (an id claimed again
  // is re-inserted), so the oldest entries are always first: eviction is a walk from the front.
  const tables: Record<DedupeTable, Map<string, BatchClaim>> = { events: new Map(), quarantine: new Map() };
  const claimed = new Map<string, BatchClaim>();
  const windowMs = window.windowSeconds * 1000;

  function evict(): void {
    const horizon = now() - windowMs;
    let over = tables.events.size + tables.quarantine.size - window.maxIds;
    // Quarantined ids are few; over the bound they go first, then the oldest events.
    for (const map of [tables.quarantine, tables.events]) {
      for (const [id, claim] of map) {
        if (over <= 0 && claim.at >= horizon) break;
        map.delete(id);
        over--;
      }
    }
    // Batches that never commit (failed inserts) must not pile up either: the oldest go first.
    for (const batch of claimed.keys()) {
      if (claimed.size <= MAX_OPEN_BATCHES) break;
      claimed.delete(batch);
    }
  }

  return {
    async claim(batchId, ids, table = 'events') {
      const at = now();
      const map = tables[table];
      let claim = claimed.get(batchId);
      if (!claim) claimed.set(batchId, (claim = { at, committed: false }));
      const statuses = ids.map((id): ClaimStatus => {
        const held = map.get(id);
        if (held && held.at >= at - windowMs && (held.committed || held === claim)) return 'duplicate';
        if (held) map.delete(id);
        map.set(id, claim);
        // Held by a batch that did not commit: only ClickHouse knows what its insert left.
        return held && !held.committed ? 'uncertain' : 'new';
      });
      evict();
      return statuses;
    },
    async commit(batchId) {
      // An id claimed again by a later batch holds that batch's claim: this one no longer covers it.
      const claim = claimed.get(batchId);
      if (claim) claim.committed = true;
      claimed.delete(batchId);
    },
  };
}
