import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Express, Router } from 'express';
import type { Config } from '../config/index.ts';
import { resolveAdminToken, resolvePiiKey, resolveWriteKeys } from '../config/secrets.ts';
import { createApp } from '../ingest/app.ts';
import { createSdkAssetRouter, ensureSdkBuilt } from '../ingest/sdk-asset.ts';
import { serverTimeouts } from '../ingest/admission.ts';
import { applyPiiAtReplay, piiRules } from '../ingest/pii.ts';
import type { Logger } from '../observability/logger.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';
import { countRequests, listenFailure, listenHttp, urlOf, type ListenTarget } from './listen.ts';
import { startOpsServer, type OpsServer } from '../observability/ops-server.ts';
import { loadPlanValidator } from '../plan/compile.ts';
import { applyViews } from '../warehouse/views.ts';
import { ALERTS_FILE, alertsProblems, loadAlerts, readAlerts } from '../alerts/load.ts';
import { startAlertScheduler, type AlertScheduler } from '../alerts/scheduler.ts';
import { loadKpiDefinitions } from '../analytics/definitions.ts';
import { createBatchInserter } from '../queue/batcher.ts';
import { createDeduper } from '../queue/dedupe.ts';
import { createIngestQueue, sampleQueueDepth, storeJob } from '../queue/producer.ts';
import { startIngestWorker, type IngestWorker } from '../queue/worker.ts';
import { startRowsSweep } from '../queue/job-rows.ts';
import { joinPlanReloads, planReloadChannel } from '../queue/plan-reloads.ts';
import { createRedis, startLocalRedis, type LocalRedis, type RedisTarget } from '../redis/server.ts';
import { createFailureLog } from '../observability/failures.ts';
import { clearEngineOwner, writeEngineOwner } from '../warehouse/engine-owner.ts';
import { createEngineProxyRouter } from '../dashboard/engine-proxy.ts';
import type { PlanValidator } from '../plan/model.ts';
import { openWarehouse, type Warehouse } from '../warehouse/client.ts';
import { migrate, newerSchemaWarning } from '../warehouse/migrations.ts';
import { within } from '../util/deadlines.ts';
import { started } from '../queue/started.ts';
import { createReadiness } from './readiness.ts';
import { applyRetention } from '../warehouse/retention.ts';
import { createAdminRouter } from '../api/router.ts';
import { projectTimeZone } from '../api/time-zone.ts';
import { createLiveRouter } from '../api/live.ts';
import { LiveHub, type LiveHubOptions } from '../live/hub.ts';
import { createSessionStore } from '../api/sessions.ts';
import { createDashboardRouter, ensureDashboardBuilt } from '../dashboard/router.ts';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createSuppressionList, type SuppressionList } from '../privacy/suppression.ts';
import { DEFAULT_QUEUE_KEYS, type QueuedJobData, type QueueKeys } from '../queue/jobs.ts';
import { coalesceJobs } from '../queue/coalesce.ts';
import type { Liveness } from '../observability/liveness.ts';

/** Shutdown budget: requests, the worker's drain and the queue get this long in all, whatever state Redis is in. */
export const SHUTDOWN_GRACE_MS = 10_000;
/** How long in-flight requests get to finish on shutdown before their connections are closed. */
const HTTP_DRAIN_MS = 5000;
/** Redis unreachable this long makes /health fail: the process cannot take a single event. */
const REDIS_LIVENESS_GRACE_MS = 30_000;
/**
 * A Redis that holds the connection but answers nothing (a network partition, a stopped process)
 * fails the producer's commands after this: the request gets its 503 instead of waiting forever.
 */
const REDIS_COMMAND_TIMEOUT_MS = 5_000;
/** Requests gathered into one job stop at this many rows (about 1.2 MB of the bench's events in Redis). */
const JOB_MAX_ROWS = 2000;
/**
 * Rows beside jobs (src/queue/job-rows.ts) whose job is gone are swept this often, once this old:
 * far longer than an API process takes between storing rows and adding their job.
 */
const ROWS_SWEEP_MS = 10 * 60_000;
/** Jobs an API process has on their way to Redis at once (src/queue/coalesce.ts). */
const JOBS_IN_FLIGHT = 2;
/**
 * The second of them leaves only with this many rows (decision 0055): a request of 100 events or
 * more goes at once, one-event requests gather behind the first job.
 */
const EXTRA_LANE_MIN_ROWS = 100;

export interface Roles {
  api: boolean;
  worker: boolean;
}

export interface RunningBalise {
  baseUrl: string | undefined;
  writeKeys: Map<string, string>;
  adminToken: string;
  /** Undefined for an API-only process in embedded mode: the engine belongs to `balise up`. */
  warehouse: Warehouse | undefined;
  queue: Queue<QueuedJobData>;
  /** The Redis names of that queue and of the dedupe window. */
  queueKeys: QueueKeys;
  redisTarget: RedisTarget;
  metrics: Metrics;
  /** The express app when this process serves the API (the OpenAPI drift test reads its routes). */
  app: Express | undefined;
  /** This process's live view of events (GET /api/live), when it serves the API. */
  live: LiveHub;
  /** GET /health and /metrics of a worker-only process (BALISE_WORKER_METRICS_PORT), if any. */
  opsUrl: string | undefined;
  /** Serves a connection accepted elsewhere (by the primary of `up`), when this process serves the API. */
  serveConnection(socket: Socket): void;
  /** What GET /ready checks, for an API child that asks the engine's owner (src/cli/api-processes.ts). */
  readiness(): Promise<Record<string, boolean>>;
  /** Cancels the analysts' queries in this process's engine (embedded), within a second; `stop` does it first. */
  cancelAnalystQueries(): Promise<void>;
  /** Starts the alert scheduler, once (with `deferAlerts`: when the caller's own start has succeeded too). */
  startAlerts(): void;
  /** Stop accepting, drain, flush, close: nothing accepted is lost. Bounded by SHUTDOWN_GRACE_MS (plus Redis's own fsync). */
  stop(): Promise<void>;
}

export interface RuntimeOptions {
  lockDurationMs?: number;
  /** The live view's rate cap and per-viewer queue (tests make them small). */
  live?: LiveHubOptions;
  /** Another queue and dedupe window than Balise's own (tests sharing one Redis). */
  queueKeys?: Partial<QueueKeys>;
  /**
   * An API-only process in split mode (`serve`): it shares the local redis-server run by
   * `up`/`worker` on the same data directory, and with the embedded engine it sends reads to the
   * process that owns it rather than opening a second, empty one.
   */
  split?: boolean;
  /** Restart the local redis-server when it dies (default true; tests that stage an outage turn it off). */
  superviseRedis?: boolean;
  redisLivenessGraceMs?: number;
  /** Where the API listens instead of HOST:PORT: the primary of `up --api-processes` keeps its read API on loopback, its children listen on the descriptors it hands down. */
  listen?: ListenTarget;
  /** An API child of `up`: the engine's readiness, asked of the process that owns it. */
  ownerReadiness?: () => Promise<Record<string, boolean>>;
  /** GET /metrics text instead of this process's registry (an API child answers for all of `up`'s processes). */
  metricsText?: () => Promise<string>;
  /** The caller starts the alerts (`startAlerts`) once its own start succeeded: `up`'s primary, whose children take the port after it. */
  deferAlerts?: boolean;
}

export async function startBalise(config: Config, roles: Roles, logger: Logger, options: RuntimeOptions = {}): Promise<RunningBalise> {
  const writeKeys = resolveWriteKeys(config);
  const adminToken = resolveAdminToken(config);
  const failures = createFailureLog(logger);
  // An API-only process in embedded mode needs no engine for ingest: reads go to the owner.
  const proxyReads = Boolean(options.split) && !config.clickhouse.url;
  const localRedis: LocalRedis | undefined = config.redisUrl
    ? undefined
    : await startLocalRedis(config.dataDir, { mode: options.split ? 'share' : 'own', supervise: options.superviseRedis, failures });
  const redisTarget: RedisTarget = config.redisUrl ? { url: config.redisUrl } : localRedis!.target;
  if (localRedis) logger.info({ owned: localRedis.owned }, localRedis.owned ? 'local redis-server ready' : 'using the local redis-server of the Balise process that owns this data directory');

  // Everything opened from here on is closed again if start-up fails (migrations, a port in use),
  // so a failed start never leaves its redis-server behind.
  let warehouse: Warehouse | undefined;
  const connections: Redis[] = [];
  let queue: Queue<QueuedJobData> | undefined;
  let server: http.Server | undefined;
  let requests: ReturnType<typeof countRequests> | undefined;
  let closeAcceptors = (): void => undefined;
  let suppression: SuppressionList | undefined;
  // Once closing, connections dropping is expected, not an outage worth a log line.
  let closing = false;
  const cleanUp = async () => {
    closing = true;
    suppression?.stop();
    server?.close();
    closeAcceptors();
    if (queue) await started(queue);
    await queue?.close().catch(() => undefined);
    for (const c of connections) c.disconnect();
    await warehouse?.close().catch(() => undefined);
    if (warehouse?.mode === 'embedded') clearEngineOwner(config.dataDir);
    await localRedis?.stop();
  };
  try {
    let validator: PlanValidator = await loadPlanValidator(config.planDir);
    if (!proxyReads) {
      // Once per engine, not per API child: the same files give every process the same notice.
      if (validator.unpublishedEdits) logger.warn(validator.unpublishedEdits);
      warehouse = await openWarehouse(config);
      if (warehouse.mode === 'embedded') writeEngineOwner(config.dataDir, { pid: process.pid });
      const report = await migrate(warehouse);
      if (report.applied.length) logger.info({ applied: report.applied }, 'migrations applied');
      const newer = newerSchemaWarning(report);
      if (newer) logger.warn({ unknown: report.unknown }, newer);
      // Retention periods are settings, applied after migrations at every start (idempotent).
      const retention = (await applyRetention(warehouse, config.privacy.retentionDays)).filter((c) => c.action !== 'unchanged');
      if (retention.length) logger.info({ retention }, 'retention periods applied');
      // Typed per-event views follow the current plan, so analysts never write JSON extraction.
      const views = await applyViews(warehouse, validator.plan);
      logger.debug({ views: views.length }, 'plan views applied');
    }
    logger.info({ planVersion: validator.latestVersion, versions: validator.versions }, 'tracking plan loaded');

    const metrics = createMetrics();
    // The producer fails fast when Redis is down (the API answers 503); the worker waits it out.
    const producerConnection = createRedis(redisTarget, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: REDIS_COMMAND_TIMEOUT_MS });
    const workerConnection = createRedis(redisTarget, { maxRetriesPerRequest: null });
    // Dashboard sessions and the suppression list: plain commands, a few retries.
    const stateConnection = createRedis(redisTarget, { maxRetriesPerRequest: 3 });
    connections.push(producerConnection, workerConnection, stateConnection);
    // An API process hears the plan reloads of the others on a connection of its own (subscribed).
    const planNotices = roles.api ? createRedis(redisTarget, { maxRetriesPerRequest: null }) : undefined;
    if (planNotices) connections.push(planNotices);
    // ioredis reports every reconnect attempt: one line when Redis goes away, one when it is back.
    for (const connection of connections) {
      connection.on('error', (err) => closing || failures.report('redis_connection', err, 'Redis is unreachable: ingest answers 503 until it is back'));
      connection.on('ready', () => failures.recover('redis_connection', 'Redis is reachable again'));
    }
    let redisDownSince: number | undefined;
    /** Since when Redis has answered none of the queue-depth samples while connected (frozen, partitioned). */
    let redisSilentSince: number | undefined;
    producerConnection.on('close', () => (redisDownSince ??= Date.now()));
    producerConnection.on('ready', () => {
      redisDownSince = undefined;
      // Requests refused meanwhile were logged once; the next outage is news again.
      failures.recover('queue_unavailable', 'the queue accepts requests again');
    });
    /** Whether the process can work at all (/health, of the API or the worker's ops server). */
    const liveness = (): Liveness => {
      const grace = options.redisLivenessGraceMs ?? REDIS_LIVENESS_GRACE_MS;
      const since = Math.min(redisDownSince ?? Infinity, redisSilentSince ?? Infinity);
      if (Date.now() - since > grace) return { ok: false, reason: `Redis unreachable for ${Math.round((Date.now() - since) / 1000)} s` };
      return { ok: true };
    };
    const queueKeys: QueueKeys = { ...DEFAULT_QUEUE_KEYS, ...options.queueKeys };
    queue = createIngestQueue(producerConnection, { attempts: config.worker.attempts, backoffMs: config.worker.backoffMs }, queueKeys);
    const ingestQueue = queue;
    queue.on('error', (err) => closing || failures.report('redis_connection', err, 'Redis is unreachable: ingest answers 503 until it is back'));

    // Only the API reads the depth (admission, /metrics); a worker-only process does not poll for it.
    let depth = 0;
    const stopSampling = roles.api
      ? sampleQueueDepth(
          queue,
          250,
          (counts) => {
            redisSilentSince = undefined;
            depth = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
            for (const [state, n] of Object.entries(counts)) metrics.queueDepth.set({ state }, n);
          },
          (askedAt) => (redisSilentSince ??= askedAt),
        )
      : () => undefined;

    // One messageId window for live ingest and quarantine replay in this process: a replayed event
    // resent later is dropped before insert. Exactness does not rest on it (decision 0011).
    const deduper = createDeduper({ windowSeconds: config.worker.dedupeWindowSeconds, maxIds: config.worker.dedupeMaxIds });
    // Erased people's ids (hashed), checked in memory at ingest; shared by API replicas through Redis.
    suppression = roles.api && config.privacy.suppressErased ? createSuppressionList(stateConnection, queueKeys.prefix, planNotices) : undefined;
    let worker: IngestWorker | undefined;
    if (roles.worker) {
      if (!warehouse) throw new Error('the worker needs the engine');
      // Small jobs (one-event requests) would fill the worker's active slots long before a batch's
      // rows: a batch closes at half of them, so the next fills while it is inserted (0051).
      const batchLimits = { maxRows: config.worker.batchMaxRows, maxWaitMs: config.worker.batchMaxWaitMs, maxJobs: Math.max(1, Math.floor(config.worker.concurrency / 2)) };
      const inserter = createBatchInserter(warehouse, deduper, batchLimits, metrics, logger);
      worker = startIngestWorker(
        workerConnection,
        inserter,
        { concurrency: config.worker.concurrency, lockDurationMs: options.lockDurationMs ?? config.worker.lockMs, keys: queueKeys, failures },
        logger,
      );
    }
    const stopRowsSweep = roles.worker
      ? startRowsSweep(producerConnection, queue, { graceMs: ROWS_SWEEP_MS, intervalMs: ROWS_SWEEP_MS }, (removed) => logger.info({ removed }, 'removed the rows of jobs that no longer exist'))
      : () => undefined;

    // Who may call the API: the admin token, the role tokens (hashed) and dashboard sessions in Redis.
    const credentials = { adminToken, tokens: config.tokens, sessions: createSessionStore(stateConnection, queueKeys.prefix) };

    let baseUrl: string | undefined;
    let app: Express | undefined;
    // What GET /ready checks (src/cli/readiness.ts); an API child's asks the engine's owner too.
    const readiness = createReadiness({ redis: producerConnection, warehouse, failures, ownerReadiness: options.ownerReadiness });
    // The validators follow the plan on disk: the admin API's reload here, or another API
    // process's, announced on Redis (decision 0047).
    const reloadPlan = async (): Promise<PlanValidator> => (validator = await loadPlanValidator(config.planDir));
    const planReloads = planNotices
      ? joinPlanReloads({ subscriber: planNotices, publisher: producerConnection, channel: planReloadChannel(queueKeys), reload: async () => (await reloadPlan()).latestVersion, logger })
      : undefined;
    // Per process: each API process shows the events it judges (decision 0025).
    const live = new LiveHub(options.live);
    let accepting = true;
    if (roles.api) {
      await Promise.all([ensureDashboardBuilt(), ensureSdkBuilt()]);
      // Read once: ingest hashes with it, and quarantine replay the same way.
      const piiKey = resolvePiiKey(config);
      const readRouter = warehouse
        ? createAdminRouter({
            warehouse,
            queue,
            redis: producerConnection,
            credentials,
            config,
            validator: () => validator,
            reloadPlan: async () => {
              const reloaded = await reloadPlan();
              return { validator: reloaded, replicas: await planReloads?.announce() };
            },
            logger,
            deduper,
            suppression,
            privacyAtReplay: (plan) => {
              const rules = piiRules(plan);
              return (event) => applyPiiAtReplay(event, rules, piiKey);
            },
            // Checked as the scheduler checks it, against the KPI definitions the read API holds.
            alertsProblem: async (kpis) => {
              const { messages } = await readAlerts(config.planDir, validator.plan, kpis);
              return messages.length ? `${ALERTS_FILE} is invalid, so no alert is evaluated until it is fixed: ${alertsProblems(messages)}` : null;
            },
          })
        : createEngineProxyRouter({ dataDir: config.dataDir, logger });
      // Before the read router: in split mode that one forwards /api/* to the engine's owner, and
      // the live view must show this process's own events.
      const routers: Router[] = [
        createSdkAssetRouter(),
        createLiveRouter({ hub: live, credentials }),
        readRouter,
        createDashboardRouter({ credentials, timeZone: () => projectTimeZone(config, validator.plan), kpisWritable: config.kpisWritable }),
      ];
      const ingestApp = createApp({
        limits: config.ingest,
        writeKeys,
        validator: () => validator,
        enqueue: coalesceJobs((job) => storeJob(producerConnection, ingestQueue, job), {
          maxRows: JOB_MAX_ROWS,
          jobsInFlight: JOBS_IN_FLIGHT,
          extraLaneMinRows: EXTRA_LANE_MIN_ROWS,
          onQueued: () => metrics.jobsQueued.inc(),
        }),
        queueDepth: () => depth,
        isSuppressed: suppression?.has,
        piiKey,
        readiness,
        metricsText: options.metricsText,
        liveness,
        failures,
        accepting: () => accepting,
        metrics,
        logger,
        routers,
        live,
      });
      app = ingestApp.app;
      requests = countRequests(ingestApp.listener);
      server = http.createServer(serverTimeouts(config.ingest), requests.listener);
      server.keepAliveTimeout = 65_000;
      closeAcceptors = await listenHttp(server, options.listen ?? { host: config.host, port: config.port }, config);
      baseUrl = urlOf(server.address() as AddressInfo);
      // `serve` replicas of this data directory send their reads here.
      if (warehouse?.mode === 'embedded') writeEngineOwner(config.dataDir, { pid: process.pid, url: baseUrl });
    }

    // A worker-only process has no API: it exposes its health and metrics (insert latency, lag) apart.
    const metricsPort = config.worker.metricsPort;
    const ops: OpsServer | undefined =
      !roles.api && metricsPort !== undefined
        ? await startOpsServer(metrics, config.host, metricsPort, liveness).catch((error: NodeJS.ErrnoException) => {
            throw listenFailure(error, config.host, metricsPort, 'BALISE_WORKER_METRICS_PORT');
          })
        : undefined;
    if (ops) logger.info({ url: ops.url }, 'worker health and metrics at %s', ops.url);

    // Alerts as code (tracking-plan/alerts.yaml): every process with the engine runs the
    // scheduler; a Redis leader key lets one of them evaluate. Started last, once nothing else can
    // fail: a start that fails (a port taken) must not evaluate, nor notify, on its way out.
    let alerts: AlertScheduler | undefined;
    const alertsWarehouse = warehouse;
    const startAlerts = (): void => {
      if (alerts || !alertsWarehouse || closing) return;
      alerts = startAlertScheduler({
        warehouse: alertsWarehouse,
        redis: stateConnection,
        prefix: queueKeys.prefix,
        // Checked against the plan and the KPIs as `plan check` does: a KPI renamed or misspelt in
        // alerts.yaml stops alerts (logged) rather than reading as "no value" and resolving.
        alerts: async () => loadAlerts(config.planDir, validator.plan, await loadKpiDefinitions(config.planDir, validator.plan)),
        kpis: () => loadKpiDefinitions(config.planDir, validator.plan),
        timeZone: () => projectTimeZone(config, validator.plan),
        deadLetterCount: async () => (await ingestQueue.getJobCounts('failed')).failed ?? 0,
        logger,
      });
    };
    if (!options.deferAlerts) startAlerts();

    const httpServer = server;
    const ownedWarehouse = warehouse;
    // An analyst's query may run to its time limit (10 s): cancelled when a shutdown begins, its
    // request is answered (503 query_cancelled) within the drain instead of being cut after it.
    const cancelAnalystQueries = async (): Promise<void> => {
      if (!ownedWarehouse) return;
      const cancelled = ownedWarehouse.cancelAnalystQueries().catch((error: unknown) => logger.warn({ err: error }, "could not cancel the analysts' queries"));
      await within(cancelled, 1000);
    };
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        closing = true;
        const deadline = Date.now() + SHUTDOWN_GRACE_MS;
        const left = () => Math.max(0, deadline - Date.now());
        try {
          if (httpServer) {
            // Requests already received finish (and are queued); new ones on kept-alive connections
            // get 503 + Connection: close, so clients retry elsewhere; stragglers are cut after a grace.
            accepting = false;
            live.closeAll();
            await cancelAnalystQueries();
            const closed = Promise.all([new Promise<void>((resolve) => httpServer.close(() => resolve())), requests?.idle()]);
            closeAcceptors();
            httpServer.closeIdleConnections();
            if (!(await within(closed, Math.min(HTTP_DRAIN_MS, left())))) httpServer.closeAllConnections();
          }
          stopSampling();
          stopRowsSweep();
          suppression?.stop();
          // An evaluation waiting on a silent Redis must not hold the stop past its grace.
          if (alerts) await within(alerts.stop(), Math.max(left(), 1000));
          await ops?.close();
          // The worker inserts what it holds and completes its jobs; whatever is not completed in
          // time stays in Redis (active, then stalled) and is taken back at the next start.
          if (worker && !(await within(worker.close(), left()))) logger.warn('the worker did not finish within the shutdown grace period: its unfinished jobs stay queued for the next start');
          await within(ingestQueue.close(), Math.max(left(), 1000));
          // Commands still waiting on an unreachable Redis are rejected by disconnect, not kept forever.
          for (const c of connections) if (!(await within(c.quit(), Math.min(left(), 1000) || 100))) c.disconnect();
          if (ownedWarehouse) await within(ownedWarehouse.close(), 5000);
        } finally {
          if (ownedWarehouse?.mode === 'embedded') clearEngineOwner(config.dataDir);
          // Whatever failed above, the local redis-server (and its AOF) is closed last.
          if (localRedis) await localRedis.stop();
        }
      })());

    return {
      baseUrl,
      writeKeys,
      adminToken,
      warehouse,
      queue,
      queueKeys,
      redisTarget,
      metrics,
      app,
      live,
      opsUrl: ops?.url,
      serveConnection: (socket) => (httpServer ? httpServer.emit('connection', socket) : socket.destroy()),
      readiness,
      cancelAnalystQueries,
      startAlerts,
      stop,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
