import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FailureLog } from '../observability/failures.ts';
import type { Logger } from '../observability/logger.ts';
import type { BatchInserter } from './batcher.ts';
import { readJobRows } from './job-rows.ts';
import { DEFAULT_QUEUE_KEYS, type QueuedJobData, type QueueKeys } from './jobs.ts';
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
 * What a worker does with one job: reads its rows and parks it in the batch inserter until they
 * are in ClickHouse. A job started before (a worker died holding it, or an attempt failed) may
 * have its rows stored already.
 */
export function ingestProcessor(connection: Redis, inserter: BatchInserter): (job: Job<QueuedJobData>) => Promise<void> {
  return async (job) => inserter.add(job.data, await readJobRows(connection, job.data), job.attemptsStarted > 1 || job.attemptsMade > 0 || job.stalledCounter > 0);
}

/**
 * Many jobs are active at once (concurrency), each parked in the batch inserter until the shared
 * insert returns, so one ClickHouse insert completes many jobs.
 */
export function startIngestWorker(connection: Redis, inserter: BatchInserter, options: WorkerOptions, logger: Logger): IngestWorker {
  const keys = options.keys ?? DEFAULT_QUEUE_KEYS;
  const worker = new Worker<QueuedJobData>(keys.name, ingestProcessor(connection, inserter), {
    connection,
    prefix: keys.prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: Math.max(1000, Math.floor((options.lockDurationMs ?? 30_000) / 2)),
    maxStalledCount: 10,
  });
  // A job's rows go once it is complete, not before: until then a redelivery still needs them.
  // Rows left by a worker that died at this point are swept later (job-rows.ts).
  worker.on('completed', (job) => {
    if (job.data.rows) connection.unlink(job.data.rows).catch(() => undefined);
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
