import { randomBytes } from 'node:crypto';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { insertJsonChunks, insertJsonLines, joinLines, payloadLines } from '../warehouse/insert.ts';
import { eventLineColumns } from '../warehouse/rows.ts';
import { BaliseError } from '../errors.ts';
import { queryRows } from '../warehouse/query.ts';
import type { ClaimStatus, DedupeTable, Deduper } from './dedupe.ts';
import type { QueuedJobData } from './jobs.ts';

/** A job's data without its event lines, which come as `eventBytes`. */
type JobData = Omit<QueuedJobData, 'events' | 'rows'>;

interface Pending {
  data: JobData;
  /** Delivered before (a worker died between insert and completion, or an insert failed): its ids are checked against ClickHouse. */
  redelivered: boolean;
  /** The job's event lines, one payload of JSON lines in the order of its ids. */
  eventBytes: Buffer;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface BatchLimits {
  maxRows: number;
  maxWaitMs: number;
  /**
   * A batch also closes at this many jobs (default: no limit). Jobs stay active until their batch
   * is inserted, so a worker that may hold N active jobs fills its next batch only with the N its
   * current one leaves free: at half of N, one batch fills while the other is inserted.
   */
  maxJobs?: number;
}

export interface BatchInserter {
  /**
   * Resolves once the job's rows are in ClickHouse (or were already there). `eventBytes`: its
   * event lines (job-rows.ts, readJobRows). `redelivered`: the queue has handed this job out
   * before, so its rows may already be stored.
   */
  add(data: JobData, eventBytes: Buffer, redelivered?: boolean): Promise<void>;
  /** Inserts whatever is pending now; used on shutdown. */
  flush(): Promise<void>;
}

/** Which of `ids` are already in `table`: asked only for ids whose earlier claim never committed. */
export async function storedIds(warehouse: Warehouse, ids: string[], table: DedupeTable = 'events'): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await queryRows<{ message_id: string }>(warehouse, `SELECT DISTINCT message_id FROM ${table} WHERE message_id IN {ids:Array(String)}`, { ids });
  return new Set(rows.map((r) => r.message_id));
}

/**
 * The message_id of each quarantine line, read from the lines for jobs queued without them; a
 * line that is not JSON gets '' (kept, not deduplicated) and is left for ClickHouse to refuse.
 */
function quarantineIdsOf(data: JobData): string[] {
  return (
    data.quarantineIds ??
    data.quarantine.map((line) => {
      try {
        const id = (JSON.parse(line) as { message_id?: unknown }).message_id;
        return typeof id === 'string' ? id : '';
      } catch {
        return '';
      }
    })
  );
}

/**
 * The claims of a batch's ids, with every id of a redelivered job made uncertain: a claim made by
 * a worker that died is gone with its memory, so only ClickHouse knows whether its insert landed.
 */
async function claimAll(deduper: Deduper, batchId: string, batch: Pending[], idsOf: (p: Pending) => string[], table: DedupeTable): Promise<ClaimStatus[]> {
  const ids = batch.flatMap(idsOf);
  const claims = await deduper.claim(batchId, ids, table);
  let i = 0;
  for (const p of batch) {
    const n = idsOf(p).length;
    if (p.redelivered) for (let k = i; k < i + n; k++) if (claims[k] === 'new') claims[k] = 'uncertain';
    i += n;
  }
  return claims;
}

/**
 * A resent event the plan rejects is one quarantine row, not two: quarantine rows are claimed
 * like events (in their own key space), and the table folds what gets past (migration 005).
 * Rows without a messageId cannot be matched and are kept.
 */
async function keptQuarantine(warehouse: Warehouse, deduper: Deduper, batchId: string, batch: Pending[]): Promise<string[]> {
  const lines = batch.flatMap((p) => p.data.quarantine);
  if (lines.length === 0) return lines;
  const ids = batch.flatMap((p) => quarantineIdsOf(p.data));
  const claimableOf = (p: Pending) => quarantineIdsOf(p.data).filter((id) => id !== '');
  const claimable = batch.flatMap(claimableOf);
  // One status per claimable id, in order; a repeat inside the batch is a duplicate of the first.
  const claims = await claimAll(deduper, batchId, batch, claimableOf, 'quarantine');
  const stored = await storedIds(
    warehouse,
    claimable.filter((_, i) => claims[i] === 'uncertain'),
    'quarantine',
  );
  let c = 0;
  return lines.filter((_, i) => {
    const id = ids[i]!;
    if (id === '') return true;
    const claim = claims[c++];
    return claim === 'new' || (claim === 'uncertain' && !stored.has(id));
  });
}

/** The columns of a job's event lines; a layout this version does not know fails the job (kept, retried, then dead-lettered). */
function columnsOf(layout: number): readonly string[] {
  const columns = eventLineColumns(layout);
  if (!columns) throw new BaliseError('job_layout_unknown', `event line layout ${layout} is newer than this worker: upgrade it, then replay the dead letter`);
  return columns;
}

/** The lines of a job that `keep` marks, one per id; a payload out of step with its ids fails the job rather than storing a row under another's id. */
function keptLines(p: Pending, keep: readonly boolean[]): Buffer[] {
  const lines = payloadLines(p.eventBytes);
  if (lines.length !== keep.length) throw new BaliseError('job_rows_mismatch', `the job holds ${lines.length} event rows for ${keep.length} ids`);
  return lines.filter((_, k) => keep[k]);
}

/**
 * Gathers many jobs into one ClickHouse insert (docs/decisions/0003-one-job-per-request.md):
 * a batch closes at `maxRows` rows, `maxJobs` jobs or `maxWaitMs` after its first job, whichever
 * comes first.
 * Jobs complete only after the insert returns, so a crash before that leaves them to be retried.
 */
export function createBatchInserter(warehouse: Warehouse, deduper: Deduper, limits: BatchLimits, metrics: Metrics, logger: Logger): BatchInserter {
  let pending: Pending[] = [];
  let pendingRows = 0;
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();

  async function insertBatch(batch: Pending[]): Promise<void> {
    const batchId = randomBytes(9).toString('base64url');
    const ids = batch.flatMap((p) => p.data.ids);
    const claims = await claimAll(deduper, batchId, batch, (p) => p.data.ids, 'events');
    const uncertain = ids.filter((_, i) => claims[i] === 'uncertain');
    const alreadyStored = await storedIds(warehouse, uncertain);
    const keepAt = (i: number) => claims[i] === 'new' || (claims[i] === 'uncertain' && !alreadyStored.has(ids[i]!));
    // A job whose rows are all new goes as the bytes it came with; otherwise only its kept rows.
    // One insert per line layout: nearly always one, two while jobs of an older API drain.
    const chunks = new Map<number | undefined, Buffer[]>();
    let kept = 0;
    let offset = 0;
    for (const p of batch) {
      const count = p.data.ids.length;
      const keep = p.data.ids.map((_, k) => keepAt(offset + k));
      const keptHere = keep.filter(Boolean).length;
      const layoutChunks = chunks.get(p.data.eventLayout) ?? [];
      layoutChunks.push(keptHere === count ? p.eventBytes : joinLines(keptLines(p, keep)));
      chunks.set(p.data.eventLayout, layoutChunks);
      kept += keptHere;
      offset += count;
    }
    const quarantine = await keptQuarantine(warehouse, deduper, batchId, batch);
    const duplicates = ids.length - kept + batch.reduce((n, p) => n + p.data.quarantine.length, 0) - quarantine.length;
    const started = process.hrtime.bigint();
    for (const [layout, layoutChunks] of chunks) await insertJsonChunks(warehouse, 'events', layoutChunks, layout === undefined ? undefined : columnsOf(layout));
    await insertJsonLines(warehouse, 'quarantine', quarantine);
    await deduper.commit(batchId);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.insertDuration.observe(seconds);
    metrics.insertRows.observe(kept + quarantine.length);
    if (kept) metrics.eventsInserted.inc({ table: 'events' }, kept);
    if (quarantine.length) metrics.eventsInserted.inc({ table: 'quarantine' }, quarantine.length);
    if (duplicates) metrics.duplicatesDropped.inc(duplicates);
    const now = Date.now();
    for (const p of batch) metrics.endToEndLag.observe((now - p.data.receivedAt) / 1000);
    logger.debug({ rows: kept, quarantine: quarantine.length, duplicates, jobs: batch.length, seconds }, 'batch inserted');
  }

  function flushNow(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = pending;
    pending = [];
    pendingRows = 0;
    if (batch.length === 0) return flushing;
    // One insert at a time: ClickHouse prefers few large inserts to many concurrent ones.
    flushing = flushing.then(async () => {
      try {
        await insertBatch(batch);
        for (const p of batch) p.resolve();
      } catch (error) {
        metrics.insertFailures.inc();
        if (batch.length === 1) {
          logger.warn({ err: error }, 'insert failed; the job will be retried');
          batch[0]!.reject(error);
          return;
        }
        // One job ClickHouse refuses must not hold back the others: retry them one by one, so only
        // the job that fails again is retried later (and, if it never passes, dead-lettered).
        logger.warn({ err: error, jobs: batch.length }, 'batch insert failed; inserting its jobs one by one');
        for (const p of batch) {
          try {
            // Part of the failed insert may have landed: check these ids against ClickHouse.
            await insertBatch([{ ...p, redelivered: true }]);
            p.resolve();
          } catch (jobError) {
            p.reject(jobError);
          }
        }
      }
    });
    return flushing;
  }

  return {
    add(data, eventBytes, redelivered = false) {
      return new Promise<void>((resolve, reject) => {
        pending.push({ data, redelivered, eventBytes, resolve, reject });
        pendingRows += data.ids.length + data.quarantine.length;
        if (pendingRows >= limits.maxRows || pending.length >= (limits.maxJobs ?? Infinity)) void flushNow();
        else if (!timer) timer = setTimeout(() => void flushNow(), limits.maxWaitMs);
      });
    },
    flush: flushNow,
  };
}
