import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { jobRowsPayload, newJobId, rowsKey } from './job-rows.ts';
import { DEFAULT_QUEUE_KEYS, type IngestJobData, type QueuedJobData, type QueueKeys } from './jobs.ts';

export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
}

export function createIngestQueue(connection: Redis, retry: RetryPolicy, keys: Pick<QueueKeys, 'name' | 'prefix'> = DEFAULT_QUEUE_KEYS): Queue<QueuedJobData> {
  return new Queue<QueuedJobData>(keys.name, {
    connection,
    prefix: keys.prefix,
    defaultJobOptions: {
      attempts: retry.attempts,
      backoff: { type: 'exponential', delay: retry.backoffMs },
      removeOnComplete: true,
      // Jobs that exhaust their attempts stay in the failed set: the dead letter, replayable.
      removeOnFail: false,
    },
  });
}

/**
 * Event lines up to this many characters (about as many bytes) ride inside their job, as the
 * job's `events` (decision 0054): one command instead of a SET and an add, and the worker needs
 * no GET and no UNLINK. Larger ones go beside it (0045), where BullMQ's scripts neither copy nor
 * escape them. Requests of one event (browser SDKs) make jobs of a few kilobytes; requests of a
 * hundred make ~55 KB each.
 */
export const INLINE_ROWS_MAX_CHARS = 8_192;

/** Whether these lines ride inside their job: few enough characters (counting stops past the bound). */
export function rowsRideInline(lines: readonly string[]): boolean {
  let chars = 0;
  for (const line of lines) if ((chars += line.length) > INLINE_ROWS_MAX_CHARS) return false;
  return true;
}

/**
 * Stores one job. Small ones hold their event lines (0054). Otherwise (decision 0045) the lines
 * are one payload of bytes under a key of their own, and the job names that key. Both go in one
 * round trip on the queue's own connection (`redis` is the connection the queue was created
 * with), so Redis runs the SET before the job's add and a worker never sees a job before its
 * rows; were it otherwise, the worker would fail the job and retry it, not lose it. When either
 * fails, the other is undone and the request is refused; rows left by a process that died in
 * between are swept by the worker.
 */
export async function storeJob(redis: Redis, queue: Queue<QueuedJobData>, job: IngestJobData): Promise<void> {
  const { events, ...rest } = job;
  if (rowsRideInline(events)) {
    await queue.add('request', job);
    return;
  }
  const jobId = newJobId();
  const rows = rowsKey(queue.qualifiedName, jobId);
  // At once after start-up: a command sent before the connection is ready would be refused, as
  // it keeps no offline queue (the queue's add waits on its own).
  await queue.waitUntilReady();
  const [stored, added] = await Promise.allSettled([redis.set(rows, jobRowsPayload(events)), queue.add('request', { ...rest, rows }, { jobId })]);
  if (stored.status === 'fulfilled' && added.status === 'fulfilled') return;
  if (added.status === 'fulfilled') await added.value.remove().catch(() => undefined);
  await redis.unlink(rows).catch(() => undefined);
  throw stored.status === 'rejected' ? stored.reason : (added as PromiseRejectedResult).reason;
}

/** Samples the queue depth off the request path, so the ingest checks a number, not Redis. */
export function sampleQueueDepth(
  queue: Queue<QueuedJobData>,
  intervalMs: number,
  onSample: (counts: Record<string, number>) => void,
  /** A sample Redis did not answer (down, or silent past the connection's command timeout), with when it was asked. */
  onUnanswered: (askedAt: number) => void = () => undefined,
): () => void {
  let stopped = false;
  const tick = async () => {
    const askedAt = Date.now();
    try {
      onSample(await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'));
    } catch {
      // Redis unavailable: enqueue will fail and answer 503 on its own.
      onUnanswered(askedAt);
    }
    if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
  };
  // tick never rejects (it catches Redis errors itself), so nothing is lost by not awaiting it.
  let timer = setTimeout(() => void tick(), 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Moves every dead-lettered job back to the queue. Returns how many were requeued. */
export async function replayDeadLetter(queue: Queue<QueuedJobData>): Promise<number> {
  let replayed = 0;
  for (;;) {
    const failed = await queue.getFailed(0, 499);
    if (failed.length === 0) return replayed;
    for (const job of failed) {
      await job.retry('failed', { resetAttemptsMade: true });
      replayed++;
    }
  }
}
