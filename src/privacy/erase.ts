/**
 * Erasing one person (a data-subject request): every id stitched to them, every row in every
 * table that holds one, their rows still queued in Redis, verified afterwards. Resumable: the
 * resolved ids, the counts and each finished step are saved in `privacy_requests` before the next
 * step runs, and every step is an idempotent delete, so a run that dies half way is completed by
 * asking again (docs/decisions/0031-erasure-by-mutation.md).
 */
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { QueuedJobData } from '../queue/jobs.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';
import { onClusterClause } from '../util/sql-quote.ts';
import { resolveIds } from './identity.ts';
import { dropEarlierVersions, hashId, newRequest, saveRequest, unfinishedErasure, type PrivacyRequest, type TableReport } from './requests.ts';
import type { SuppressionList } from './suppression.ts';
import { waitForActiveJobs, eraseQueued, queuedLinks, queuedRows } from './queued.ts';
import { mutationCondition, personTables, readFrom, selectCondition, type PersonTable } from './tables.ts';

/** Values per mutation: keeps its text well under max_query_size (256 KiB). */
const CHUNK = 2000;
/** Deletes re-run when rows of an in-flight job landed after the first pass. */
const VERIFY_PASSES = 3;
/** The step that removes queued and dead-lettered rows, in the report beside the tables. */
export const QUEUE_STEP = 'redis_queue';

export interface ErasureDependencies {
  warehouse: Warehouse;
  queue: Queue<QueuedJobData>;
  /** The queue's Redis: queued jobs keep their event rows beside them. */
  redis: Redis;
  /** Set when BALISE_SUPPRESS_ERASED is on: the ids are added before anything is deleted. */
  suppression?: SuppressionList;
}

export interface ErasureOptions {
  /** Who asked (the token's name), kept in the request log. */
  actor: string;
  /** Resolve and count only: nothing is written or deleted. */
  dryRun?: boolean;
  /** Called after each finished step (tests stop a run half way here). */
  onStep?: (step: string) => void | Promise<void>;
}

export interface ErasureReport {
  requestId: string | undefined;
  subject: string;
  /** Every id resolved through identity stitching. */
  ids: string[];
  state: 'dry_run' | 'done';
  /** True when this run finished one that had stopped half way. */
  resumed: boolean;
  suppressed: boolean;
  /** Per table (and the Redis queue): rows found when resolved, rows left at the end. */
  tables: Record<string, TableReport>;
}

const chunks = <T>(items: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/**
 * The table's rows holding one of `values`: as the export reads them (one replica per shard, a
 * Replacing table's copies of a row folded by FINAL) for the report, or, with `replicas`, every
 * copy still on disk on every replica, for the check.
 */
async function count(warehouse: Warehouse, table: PersonTable, values: readonly string[], copies: 'shards' | 'replicas' = 'shards'): Promise<number> {
  if (values.length === 0) return 0;
  const final = table.replacing && copies === 'shards' ? ' FINAL' : '';
  const [row] = await queryRows<{ n: string }>(warehouse, `SELECT count() AS n FROM ${readFrom(table.table, warehouse.cluster, copies)}${final} WHERE ${selectCondition(table)}`, { values });
  return Number(row?.n ?? 0);
}

/** Message ids of the person's rows, for the tables that hold only message ids (none: nothing to read). */
async function personMessageIds(warehouse: Warehouse, tables: readonly PersonTable[], ids: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  if (!tables.some((table) => table.byMessageId)) return [];
  for (const table of tables) {
    if (table.byMessageId || !table.hasMessageId) continue;
    const rows = await queryRows<{ m: string }>(warehouse, `SELECT DISTINCT message_id AS m FROM ${readFrom(table.table, warehouse.cluster)} WHERE ${selectCondition(table)} AND message_id != ''`, {
      values: ids,
    });
    for (const { m } of rows) out.add(m);
  }
  return [...out];
}

/** The values that find the person's rows in `table`: their ids, or for a message-id table the message ids of their rows. */
const valuesFor = (table: PersonTable, ids: readonly string[], messageIds: readonly string[]) => (table.byMessageId ? messageIds : ids);

/**
 * ALTER TABLE … DELETE, waited for on every replica (mutations_sync = 2): the rows are gone from
 * disk when it returns, not merely hidden until a merge (see decision 0031). One per slice of values.
 */
export function deleteStatements(table: PersonTable, values: readonly string[], cluster: string | undefined): string[] {
  return chunks(values, CHUNK).map((slice) => `ALTER TABLE ${table.table}${onClusterClause(cluster)} DELETE WHERE ${mutationCondition(table, slice.map(hashId))} SETTINGS mutations_sync = 2`);
}

async function deleteRows(warehouse: Warehouse, table: PersonTable, values: readonly string[]): Promise<void> {
  for (const query of deleteStatements(table, values, warehouse.cluster)) await warehouse.client.command({ query });
}

export async function erasePerson(deps: ErasureDependencies, subject: string, options: ErasureOptions): Promise<ErasureReport> {
  const { warehouse } = deps;
  const tables = await personTables(warehouse);
  let request: PrivacyRequest | undefined = options.dryRun ? undefined : await unfinishedErasure(warehouse, subject);
  const resumed = request !== undefined;
  if (!request) {
    const ids = await resolveIds(warehouse, subject, await queuedLinks(deps.queue, deps.redis));
    // The rows of jobs being inserted are counted once they are in ClickHouse (the report said 0 found).
    await waitForActiveJobs(deps.queue);
    const report: Record<string, TableReport> = {};
    const messageIds = await personMessageIds(warehouse, tables, ids);
    for (const table of tables) report[table.table] = { found: await count(warehouse, table, valuesFor(table, ids, messageIds)), remaining: 0 };
    if (options.dryRun) {
      // What the real run would report: the rows still queued too, and whether it would suppress.
      const queued = await queuedRows(deps.queue, deps.redis, new Set(ids));
      report[QUEUE_STEP] = { found: queued.events.length + queued.quarantine.length, remaining: 0 };
      for (const table of Object.values(report)) table.remaining = table.found;
      return { requestId: undefined, subject, ids, state: 'dry_run', resumed: false, suppressed: Boolean(deps.suppression), tables: report };
    }
    request = await saveRequest(warehouse, { ...newRequest('erase', subject, options.actor), ids, report });
  }
  const ids = request.ids;
  const finishStep = async (step: string, extra?: Record<string, TableReport>) => {
    request = await saveRequest(warehouse, { ...request!, stepsDone: [...request!.stepsDone, step], report: { ...request!.report, ...extra } });
    await options.onStep?.(step);
  };

  // Suppress first: what the person sends while the deletes run is dropped, not stored after them.
  if (deps.suppression && !request.stepsDone.includes('suppress')) {
    await deps.suppression.add(ids);
    await finishStep('suppress');
  }
  if (!request.stepsDone.includes(QUEUE_STEP)) {
    let removed = await eraseQueued(deps.queue, deps.redis, new Set(ids));
    // Jobs being inserted cannot be edited: once done, their rows are in ClickHouse for the
    // deletes below; one that failed meanwhile is back in the queue, where a second pass edits it.
    await waitForActiveJobs(deps.queue);
    removed += await eraseQueued(deps.queue, deps.redis, new Set(ids));
    // Redis's append-only file still has every command that carried the person's rows: rewritten
    // from what Redis holds now, it has none (in the background; a Redis without AOF is left alone).
    const aof = (await deps.redis.config('GET', 'appendonly').catch(() => [])) as string[];
    if (aof[1] === 'yes') await deps.redis.bgrewriteaof().catch(() => undefined);
    await finishStep(QUEUE_STEP, { [QUEUE_STEP]: { found: removed, remaining: 0 } });
  }
  // Message-id tables first: their rows are found through the rows deleted after them. The
  // message ids are kept for the last check, which runs once those rows are gone.
  const messageIds = await personMessageIds(warehouse, tables, ids);
  for (const table of tables) {
    if (request.stepsDone.includes(table.table)) continue;
    await deleteRows(warehouse, table, valuesFor(table, ids, messageIds));
    await finishStep(table.table, request.report[table.table] ? undefined : { [table.table]: { found: 0, remaining: 0 } });
  }

  // Verify; rows of a job that was being inserted during the deletes may have landed since.
  const report: Record<string, TableReport> = { ...request.report };
  for (let pass = 0; pass < VERIFY_PASSES; pass++) {
    let left = 0;
    const messageIdsNow = [...new Set([...messageIds, ...(await personMessageIds(warehouse, tables, ids))])];
    for (const table of tables) {
      const values = valuesFor(table, ids, messageIdsNow);
      const remaining = await count(warehouse, table, values, 'replicas');
      report[table.table] = { found: report[table.table]?.found ?? 0, remaining };
      if (remaining > 0) {
        left += remaining;
        await deleteRows(warehouse, table, values);
      }
    }
    if (left === 0) break;
  }
  // Done: the log keeps hashes of who, and what was removed, never the ids themselves.
  await dropEarlierVersions(warehouse, await saveRequest(warehouse, { ...request, state: 'done', subject: hashId(request.subject), ids: ids.map(hashId), report }));
  return { requestId: request.requestId, subject, ids, state: 'done', resumed, suppressed: Boolean(deps.suppression), tables: report };
}
