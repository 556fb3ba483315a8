import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import type { Config } from '../config/index.ts';
import { resolveAdminToken, resolveWriteKeys } from '../config/secrets.ts';
import { createApp } from '../ingest/app.ts';
import { serverTimeouts } from '../ingest/admission.ts';
import type { Logger } from '../observability/logger.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';
import { loadPlanValidator } from '../plan/compile.ts';
import { applyViews } from '../warehouse/views.ts';
import { createBatchInserter } from '../queue/batcher.ts';
import { createDeduper } from '../queue/dedupe.ts';
import { createIngestQueue, sampleQueueDepth } from '../queue/producer.ts';
import { startIngestWorker, type IngestWorker } from '../queue/worker.ts';
import { createRedis, startLocalRedis, type LocalRedis, type RedisTarget } from '../redis/server.ts';
import type { PlanValidator } from '../types.ts';
import { openWarehouse, type Warehouse } from '../warehouse/client.ts';
import { migrate, migrationsUpToDate } from '../warehouse/migrations.ts';
import { createAdminRouter } from '../dashboard/admin-api.ts';
import { createDashboardRouter, ensureDashboardBuilt } from '../dashboard/router.ts';
import type { Queue } from 'bullmq';
import type { IngestJobData } from '../queue/jobs.ts';

/** Pending connections the kernel may hold for the API (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;
/** How long in-flight requests get to finish on shutdown before their connections are closed. */
const SHUTDOWN_GRACE_MS = 5000;

export interface Roles {
  api: boolean;
  worker: boolean;
}

export interface RunningBalise {
  baseUrl: string | undefined;
  writeKeys: Map<string, string>;
  adminToken: string;
  warehouse: Warehouse;
  queue: Queue<IngestJobData>;
  redisTarget: RedisTarget;
  metrics: Metrics;
  /** Stop accepting, drain, flush, close: nothing accepted is lost. */
  stop(): Promise<void>;
}

export interface RuntimeOptions {
  lockDurationMs?: number;
}

export async function startBalise(config: Config, roles: Roles, logger: Logger, options: RuntimeOptions = {}): Promise<RunningBalise> {
  const writeKeys = resolveWriteKeys(config);
  const adminToken = resolveAdminToken(config);
  const localRedis: LocalRedis | undefined = config.redisUrl ? undefined : await startLocalRedis(config.dataDir);
  const redisTarget: RedisTarget = config.redisUrl ? { url: config.redisUrl } : localRedis!.target;
  if (localRedis) logger.info({ owned: localRedis.owned }, 'local redis-server ready');

  const warehouse = await openWarehouse(config);
  const report = await migrate(warehouse);
  if (report.applied.length) logger.info({ applied: report.applied }, 'migrations applied');
  let validator: PlanValidator = await loadPlanValidator(config.planDir);
  // Typed per-event views follow the current plan, so analysts never write JSON extraction.
  const views = await applyViews(warehouse, validator.plan);
  logger.debug({ views: views.length }, 'plan views applied');
  logger.info({ planVersion: validator.latestVersion, versions: validator.versions }, 'tracking plan loaded');

  const metrics = createMetrics();
  // The producer fails fast when Redis is down (the API answers 503); the worker waits it out.
  const producerConnection = createRedis(redisTarget, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const workerConnection = createRedis(redisTarget, { maxRetriesPerRequest: null });
  const dedupeConnection = createRedis(redisTarget, { maxRetriesPerRequest: 3 });
  producerConnection.on('error', (err) => logger.warn({ err }, 'redis (producer) error'));
  workerConnection.on('error', (err) => logger.warn({ err }, 'redis (worker) error'));
  dedupeConnection.on('error', (err) => logger.warn({ err }, 'redis (dedupe) error'));
  const queue = createIngestQueue(producerConnection, { attempts: config.worker.attempts, backoffMs: config.worker.backoffMs });
  queue.on('error', (err) => logger.warn({ err }, 'queue error'));

  // Only the API reads the depth (admission, /metrics); a worker-only process does not poll for it.
  let depth = 0;
  const stopSampling = roles.api
    ? sampleQueueDepth(queue, 250, (counts) => {
        depth = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
        for (const [state, n] of Object.entries(counts)) metrics.queueDepth.set({ state }, n);
      })
    : () => undefined;

  let worker: IngestWorker | undefined;
  if (roles.worker) {
    const inserter = createBatchInserter(warehouse, createDeduper(dedupeConnection, config.worker.dedupeWindowSeconds), { maxRows: config.worker.batchMaxRows, maxWaitMs: config.worker.batchMaxWaitMs }, metrics, logger);
    worker = startIngestWorker(workerConnection, inserter, { concurrency: config.worker.concurrency, lockDurationMs: options.lockDurationMs ?? config.worker.lockMs }, logger);
  }

  let server: http.Server | undefined;
  let baseUrl: string | undefined;
  let accepting = true;
  if (roles.api) {
    let migrated = false;
    await ensureDashboardBuilt();
    const routers: Router[] = [
      createAdminRouter({ warehouse, queue, adminToken, config, validator: () => validator, reloadPlan: async () => (validator = await loadPlanValidator(config.planDir)), logger }),
      createDashboardRouter({ adminToken }),
    ];
    const app = createApp({
      limits: config.ingest,
      writeKeys,
      validator: () => validator,
      enqueue: async (job) => {
        await queue.add('request', job);
      },
      queueDepth: () => depth,
      readiness: async () => {
        const redis = await producerConnection.ping().then(() => true, () => false);
        const clickhouse = await warehouse.client.ping().then((r) => r.success, () => false);
        migrated = migrated || (clickhouse && (await migrationsUpToDate(warehouse)));
        return { redis, clickhouse, migrations: migrated };
      },
      accepting: () => accepting,
      metrics,
      logger,
      routers,
    });
    server = http.createServer(serverTimeouts(config.ingest), app);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      // A deep accept queue: a burst of connections beyond Node's default 511 had its SYNs dropped.
      server!.listen(config.port, config.host, LISTEN_BACKLOG, () => resolve());
    });
    const address = server.address() as AddressInfo;
    baseUrl = `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      try {
        if (server) {
          // Requests already received finish (and are queued); new ones on kept-alive connections
          // get 503 + Connection: close, so clients retry elsewhere; stragglers are cut after a grace.
          accepting = false;
          const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
          server.closeIdleConnections();
          const grace = setTimeout(() => server!.closeAllConnections(), SHUTDOWN_GRACE_MS);
          await closed;
          clearTimeout(grace);
        }
        stopSampling();
        if (worker) await worker.close();
        await queue.close();
        for (const c of [producerConnection, workerConnection, dedupeConnection]) await c.quit().catch(() => c.disconnect());
        await warehouse.close();
      } finally {
        // Whatever failed above, the local redis-server (and its AOF) is closed last.
        if (localRedis) await localRedis.stop();
      }
    })());

  return { baseUrl, writeKeys, adminToken, warehouse, queue, redisTarget, metrics, stop };
}
