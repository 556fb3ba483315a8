import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FailureLog } from '../observability/failures.ts';
import type { Logger } from '../observability/logger.ts';
import type { BatchInserter } from './batcher.ts';
import { DEFAULT_QUEUE_KEYS, type IngestJobData, type QueueKeys } from './jobs.ts';
import { started } from './started.ts';

export interface WorkerOptions {
  concurrency: number;
  /** How long a job may stay active before another worker takes it back (stalled). */
  lockDurationMs?: number;
  /** Which queue to work (default: Balise's own). */
  keys?: Pick<QueueKeys, 'name' | 'prefix'>;
  /** When given, worker errors (Redis gone: one per retry) are logged once per outage. */
  failures?: FailureLog;
}

export interface IngestWorker {
  /** Stops taking jobs, inserts what is pending, and waits for active jobs to complete. */
  close(): Promise<void>;
}

/**
 * Many jobs are active at once (concurrency), each parked in the batch inserter until the shared
 * insert returns, so one ClickHouse insert completes many jobs.
 */
export function startIngestWorker(connection: Redis, inserter: BatchInserter, options: WorkerOptions, logger: Logger): IngestWorker {
  const keys = options.keys ?? DEFAULT_QUEUE_KEYS;
  // A job started before (a worker died holding it, or an attempt failed) may have its rows stored already.
  const worker = new Worker<IngestJobData>(keys.name, (job) => inserter.add(job.data, job.attemptsStarted > 1 || job.attemptsMade > 0 || job.stalledCounter > 0), {
    connection,
    prefix: keys.prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: Math.max(1000, Math.floor((options.lockDurationMs ?? 30_000) / 2)),
    maxStalledCount: 10,
  });
  worker.on('failed', (job, error) => {
    if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) logger.error({ jobId: job.id, err: error }, 'job exhausted its attempts and is in the dead letter (balise replay dead-letter)');
  });
  worker.on('error', (error) =>
    options.failures ? options.failures.report('redis_connection', error, 'Redis is unreachable: ingest answers 503 until it is back') : logger.warn({ err: error }, 'worker error'),
  );
  return {
    async close() {
      await started(worker);
      const closing = worker.close();
      await inserter.flush();
      await closing;
    },
  };
}
