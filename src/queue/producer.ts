import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { newJobId, rowsKey } from './job-rows.ts';
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
 * Stores one job (decision 0045): its event lines first, as one payload of bytes under a key of
 * their own, then the job naming that key, so a job in the queue always finds its rows. Rows
 * whose job never arrives (the job's add failed, or this process died between the two) are
 * removed here when the failure is seen, else by the worker's sweep.
 */
export async function storeJob(redis: Redis, queue: Queue<QueuedJobData>, job: IngestJobData): Promise<void> {
  const { events, ...rest } = job;
  if (events.length === 0) {
    await queue.add('request', job);
    return;
  }
  const jobId = newJobId();
  const rows = rowsKey(queue.qualifiedName, jobId);
  await redis.set(rows, Buffer.from(events.join('\n')));
  try {
    await queue.add('request', { ...rest, rows }, { jobId });
  } catch (error) {
    await redis.unlink(rows).catch(() => undefined);
    throw error;
  }
}

/** Samples the queue depth off the request path, so the ingest checks a number, not Redis. */
export function sampleQueueDepth(queue: Queue<QueuedJobData>, intervalMs: number, onSample: (counts: Record<string, number>) => void): () => void {
  let stopped = false;
  const tick = async () => {
    try {
      onSample(await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'));
    } catch {
      // Redis unavailable: enqueue will fail and answer 503 on its own.
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
