import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DEFAULT_QUEUE_KEYS, type IngestJobData, type QueueKeys } from './jobs.ts';

export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
}

export function createIngestQueue(connection: Redis, retry: RetryPolicy, keys: Pick<QueueKeys, 'name' | 'prefix'> = DEFAULT_QUEUE_KEYS): Queue<IngestJobData> {
  return new Queue<IngestJobData>(keys.name, {
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

/** Samples the queue depth off the request path, so the ingest checks a number, not Redis. */
export function sampleQueueDepth(queue: Queue<IngestJobData>, intervalMs: number, onSample: (counts: Record<string, number>) => void): () => void {
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
export async function replayDeadLetter(queue: Queue<IngestJobData>): Promise<number> {
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
