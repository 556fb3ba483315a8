/**
 * A person's rows still in Redis: jobs waiting to be loaded and the dead letter (jobs that
 * exhausted their insert attempts, kept for `replay dead-letter`). Their lines are the final
 * warehouse rows (an array per row in the job's layout, or an object), so the same ids find them.
 * Active jobs are being inserted right now and cannot be edited safely: their links are read (a
 * device identified a moment ago is the person's), and erasure and export wait for them to be
 * done, so that their rows are in ClickHouse when it is read.
 */
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { BaliseError } from '../errors.ts';
import { jobRowsPayload, readJobRows, rowsKey } from '../queue/job-rows.ts';
import type { IngestJobData, QueuedJobData } from '../queue/jobs.ts';
import { payloadLines } from '../warehouse/insert.ts';
import { eventLineRecord, RAW_ANONYMOUS_KEYS, RAW_USER_KEYS } from '../warehouse/rows.ts';

const STATES = ['waiting', 'paused', 'prioritized', 'delayed', 'failed'] as const;
type JobState = (typeof STATES)[number] | 'active';
const PAGE = 500;

function parse(line: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The first of `keys` that `record` holds as a non-empty string or a number. */
const firstId = (record: Record<string, unknown>, keys: readonly string[]): string => {
  for (const key of keys) {
    const value = record[key];
    if ((typeof value === 'string' && value !== '') || typeof value === 'number') return String(value);
  }
  return '';
};

/** Whose a row is (tables.ts OWNER): its user id, or before login its anonymous id. */
const rowOwner = (row: Record<string, unknown>) => firstId(row, ['user_id']) || firstId(row, ['anonymous_id']);
/** The same for a raw event (tables.ts RAW_OWNER). */
const rawOwner = (raw: Record<string, unknown>) => firstId(raw, RAW_USER_KEYS) || firstId(raw, RAW_ANONYMOUS_KEYS);

/** Whether one `events` line (in the job's `eventLayout`) belongs to the person. */
export const isPersonEventLine = (line: string, layout: number | undefined, ids: ReadonlySet<string>) => ids.has(rowOwner(eventLineRecord(line, layout)));

/** Whether one `quarantine` line belongs to the person (its raw event names them). */
export function isPersonQuarantineLine(line: string, ids: ReadonlySet<string>): boolean {
  const raw = parse(line).raw;
  return typeof raw === 'string' && ids.has(rawOwner(parse(raw)));
}

/** The job without the person's lines, or undefined when nothing in it is theirs. */
export function withoutPerson(data: IngestJobData, ids: ReadonlySet<string>): { data: IngestJobData; removed: number } | undefined {
  const keepEvent = data.events.map((line) => !isPersonEventLine(line, data.eventLayout, ids));
  const keepQuarantine = data.quarantine.map((line) => !isPersonQuarantineLine(line, ids));
  const removed = keepEvent.filter((k) => !k).length + keepQuarantine.filter((k) => !k).length;
  if (removed === 0) return undefined;
  const next: IngestJobData = {
    ...data,
    events: data.events.filter((_, i) => keepEvent[i]),
    ids: data.ids.filter((_, i) => keepEvent[i]),
    quarantine: data.quarantine.filter((_, i) => keepQuarantine[i]),
  };
  if (data.quarantineIds) next.quarantineIds = data.quarantineIds.filter((_, i) => keepQuarantine[i]);
  return { data: next, removed };
}

/**
 * A job's event lines, read from beside it when it keeps them there (job-rows.ts). A job whose
 * rows are gone (dead-lettered with job_rows_missing) holds none: it must not stop every export
 * and erasure.
 */
async function eventLines(redis: Redis, data: QueuedJobData): Promise<string[]> {
  const payload = await readJobRows(redis, data).catch((error: unknown) => {
    if (error instanceof BaliseError && error.code === 'job_rows_missing') return Buffer.alloc(0);
    throw error;
  });
  return payloadLines(payload).map((line) => line.toString());
}

/** Each queued job with its event lines. */
async function allJobs(queue: Queue<QueuedJobData>, redis: Redis, states: readonly JobState[] = STATES): Promise<{ job: Job<QueuedJobData>; data: IngestJobData }[]> {
  const jobs: { job: Job<QueuedJobData>; data: IngestJobData }[] = [];
  for (let start = 0; ; start += PAGE) {
    const page = ((await queue.getJobs([...states], start, start + PAGE - 1, true)) as (Job<QueuedJobData> | undefined)[]).filter((job) => job !== undefined);
    for (const job of page) {
      const { rows: _rows, ...data } = job.data;
      jobs.push({ job, data: { ...data, events: await eventLines(redis, job.data) } });
    }
    if (page.length < PAGE) return jobs;
  }
}

/**
 * The identity links the queued rows will make once loaded (userId ↔ anonymousId, userId ↔
 * previousId): an erasure follows them too, or a device identified a moment ago is left out.
 */
export async function queuedLinks(queue: Queue<QueuedJobData>, redis: Redis): Promise<[string, string][]> {
  const links: [string, string][] = [];
  for (const { data } of await allJobs(queue, redis, [...STATES, 'active'])) {
    for (const line of data.events) {
      const row = eventLineRecord(line, data.eventLayout);
      const user = typeof row.user_id === 'string' ? row.user_id : '';
      if (!user) continue;
      for (const other of [row.anonymous_id, row.previous_id]) if (typeof other === 'string' && other !== '') links.push([user, other]);
    }
  }
  return links;
}

/** The person's queued rows, column by column as they would be inserted (for export). */
export async function queuedRows(queue: Queue<QueuedJobData>, redis: Redis, ids: ReadonlySet<string>): Promise<{ events: Record<string, unknown>[]; quarantine: Record<string, unknown>[] }> {
  const out = { events: [] as Record<string, unknown>[], quarantine: [] as Record<string, unknown>[] };
  for (const { data } of await allJobs(queue, redis)) {
    out.events.push(...data.events.map((line) => eventLineRecord(line, data.eventLayout)).filter((row) => ids.has(rowOwner(row))));
    out.quarantine.push(...data.quarantine.filter((line) => isPersonQuarantineLine(line, ids)).map(parse));
  }
  return out;
}

/**
 * Removes the person's lines from queued and dead-lettered jobs; a job left empty is removed.
 * Returns the lines removed. The kept rows are written under a new key, which the job then
 * names in the same update as its kept ids: a worker never reads rows out of step with ids.
 */
export async function eraseQueued(queue: Queue<QueuedJobData>, redis: Redis, ids: ReadonlySet<string>): Promise<number> {
  let removed = 0;
  for (const { job, data } of await allJobs(queue, redis)) {
    const edited = withoutPerson(data, ids);
    if (!edited) continue;
    // Read before the update, which changes job.data.
    const oldRows = job.data.rows;
    const { events, ...rest } = edited.data;
    if (events.length === 0 && rest.quarantine.length === 0) await job.remove();
    else if (oldRows === undefined || events.length === 0) await job.updateData(edited.data);
    else {
      const rows = rowsKey(queue.qualifiedName, job.id!);
      await redis.set(rows, jobRowsPayload(events));
      await job.updateData({ ...rest, rows });
    }
    if (oldRows !== undefined) await redis.unlink(oldRows);
    removed += edited.removed;
  }
  return removed;
}

/**
 * Waits until the jobs being inserted when asked about have left the active state: a batch open
 * for BALISE_BATCH_MAX_WAIT_MS, then its insert. Past `timeoutMs` (a worker that died holding
 * them, until BullMQ finds them stalled) it goes on: erasure's verification passes still catch
 * what has landed. Reads the jobs' ids only, not their rows.
 */
export async function waitForActiveJobs(queue: Queue<QueuedJobData>, timeoutMs = 60_000): Promise<void> {
  const waitingFor = new Set(await queue.getRanges(['active']));
  const deadline = Date.now() + timeoutMs;
  while (waitingFor.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const still = new Set(await queue.getRanges(['active']));
    for (const id of waitingFor) if (!still.has(id)) waitingFor.delete(id);
  }
}
