import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import cookieParser from 'cookie-parser';
import type { Queue } from 'bullmq';
import type { Config } from '../config/index.ts';
import { BaliseError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Deduper } from '../queue/dedupe.ts';
import type { IngestJobData } from '../queue/jobs.ts';
import { replayDeadLetter } from '../queue/producer.ts';
import type { PlanValidator } from '../types.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { loadKpiDefinitions } from '../analytics/definitions.ts';
import { applyViews } from '../warehouse/views.ts';
import { queryRows } from '../warehouse/query.ts';
import { replayQuarantine } from '../queue/replay-quarantine.ts';
import { runFunnel, runKpis, runReadOnlySql } from '../analytics/run.ts';
import { requireAdmin } from './auth.ts';
import { loadHealth, planHealth } from './health-queries.ts';
import { eventTrends, trendsWindow } from './trends.ts';
import { parseDateInput } from '../analytics/sql-common.ts';

export interface AdminDependencies {
  warehouse: Warehouse;
  queue: Queue<IngestJobData>;
  adminToken: string;
  config: Config;
  validator: () => PlanValidator;
  reloadPlan: () => Promise<PlanValidator>;
  logger: Logger;
  /** The live ingest's messageId window, shared with quarantine replay. */
  deduper?: Deduper;
}

const DAY_MS = 86_400_000;

const stringParam = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

/** Optional start date from the query string or body (YYYY-MM-DD or ISO), as epoch ms. */
function sinceParam(value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new BaliseError('invalid_date', 'the date must be a string such as 2026-01-31');
  return parseDateInput(value, 'from');
}

/**
 * The analyst's own SQL failing in ClickHouse (unknown column, timeout, refused function) is a
 * client error with the engine's reason, not a server fault.
 */
function sqlError(error: unknown): unknown {
  if (error instanceof BaliseError || !(error instanceof Error)) return error;
  const engineType = (error as Error & { type?: unknown }).type;
  const timedOut = engineType === 'TIMEOUT_EXCEEDED' || /TIMEOUT_EXCEEDED|Timeout exceeded/i.test(error.message);
  return timedOut
    ? new BaliseError('query_timeout', 'the query ran longer than the time limit (10 s)')
    : new BaliseError('sql_error', error.message.split('\n')[0]!.slice(0, 500));
}

/** Wraps async handlers so a BaliseError becomes a 400 with its code, anything else a 500. */
function handle(logger: Logger, fn: (req: Request, res: Response) => Promise<unknown>) {
  return (req: Request, res: Response, _next: NextFunction) => {
    fn(req, res).catch((error: unknown) => {
      if (error instanceof BaliseError) {
        const status = error.code.endsWith('not_found') ? 404 : 400;
        res.status(status).json({ code: error.code, message: error.message });
        return;
      }
      logger.error({ err: error }, 'admin API error');
      res.status(500).json({ code: 'internal_error', message: 'internal error' });
    });
  };
}

/** The read side of Balise, all behind the admin token: KPIs, funnels, SQL, health, replays. */
export function createAdminRouter(deps: AdminDependencies): Router {
  const router = express.Router();
  // Read from disk once, and again only when the plan is reloaded (replay, reload endpoint).
  // The plan itself comes with the validator, loaded once by the runtime.
  let definitions = loadKpiDefinitions(deps.config.planDir);
  // Invalid definitions fail the requests that need them, never the process (unhandled rejection).
  definitions.catch(() => undefined);
  // Validators, typed views and KPI definitions move together: a property added to the plan
  // is validated, shows up in its ev_* view and can be used by a KPI after one reload.
  const reload = async () => {
    const validator = await deps.reloadPlan();
    const views = await applyViews(deps.warehouse, validator.plan);
    definitions = loadKpiDefinitions(deps.config.planDir);
    definitions.catch(() => undefined);
    const loaded = await definitions;
    return { validator, views, kpis: loaded.metrics.length + loaded.funnels.length };
  };
  router.use('/api', cookieParser(), requireAdmin(deps.adminToken), express.json({ limit: '100kb' }));

  router.get(
    '/api/kpis',
    handle(deps.logger, async (req, res) => {
      res.json(await runKpis(deps.warehouse, await definitions, { from: stringParam(req.query.from), to: stringParam(req.query.to) }));
    }),
  );
  router.get(
    '/api/funnels',
    handle(deps.logger, async (_req, res) => {
      res.json((await definitions).funnels);
    }),
  );
  router.get(
    '/api/funnels/:id',
    handle(deps.logger, async (req, res) => {
      res.json(
        await runFunnel(deps.warehouse, await definitions, String(req.params.id), {
          from: stringParam(req.query.from),
          to: stringParam(req.query.to),
          breakdown: stringParam(req.query.breakdown),
        }),
      );
    }),
  );
  router.post(
    '/api/sql',
    handle(deps.logger, async (req, res) => {
      const query = (req.body as { query?: unknown } | undefined)?.query;
      if (typeof query !== 'string' || !query.trim()) throw new BaliseError('invalid_parameter', 'send {"query": "SELECT …"}');
      try {
        res.json(await runReadOnlySql(deps.warehouse, query, { maxRows: 10_000, maxSeconds: 10 }));
      } catch (error) {
        // An audit trail of refused analyst queries; the query text is the analyst's, not a secret.
        deps.logger.warn({ err: error, query: query.slice(0, 2000) }, 'SQL query refused');
        throw sqlError(error);
      }
    }),
  );
  router.get(
    '/api/trends',
    handle(deps.logger, async (req, res) => {
      const { fromMs, toMs, limit } = trendsWindow(req.query, Date.now());
      res.json(await eventTrends(deps.warehouse, fromMs, toMs, limit));
    }),
  );
  router.get(
    '/api/health/plan',
    handle(deps.logger, async (req, res) => {
      const since = sinceParam(req.query.from) ?? Date.now() - 30 * DAY_MS;
      const health = await planHealth(deps.warehouse, since);
      const validator = deps.validator();
      const seen = new Set(health.eventsSeen.map((e) => e.event));
      const planned = validator.plan.events.filter((e) => e.kind === 'track').map((e) => e.name);
      res.json({
        planVersion: validator.latestVersion,
        versions: validator.versions,
        ...health,
        plannedNeverSeen: planned.filter((name) => !seen.has(name)),
        unplannedSeen: health.eventsSeen.filter((e) => e.type === 'track' && !planned.includes(e.event)),
      });
    }),
  );
  router.get(
    '/api/health/pipeline',
    handle(deps.logger, async (_req, res) => {
      // Redis down is an answer about the pipeline, not an error of this endpoint: say so, with what ClickHouse knows.
      const counts = await Promise.race([
        deps.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), 2000).unref()),
      ]).catch(() => undefined);
      const load = await loadHealth(deps.warehouse);
      res.json({ redis: counts ? 'up' : 'down', queue: counts ?? {}, deadLetter: counts?.failed ?? 0, ...load });
    }),
  );
  router.post(
    '/api/admin/replay/quarantine',
    handle(deps.logger, async (req, res) => {
      const body = (req.body ?? {}) as { event?: unknown; since?: unknown };
      const since = typeof body.since === 'number' ? body.since : sinceParam(body.since);
      const { validator } = await reload();
      res.json(await replayQuarantine(deps.warehouse, validator, { event: stringParam(body.event), since, deduper: deps.deduper }));
    }),
  );
  router.post(
    '/api/admin/replay/dead-letter',
    handle(deps.logger, async (_req, res) => {
      res.json({ requeued: await replayDeadLetter(deps.queue) });
    }),
  );
  router.get(
    '/api/alerts',
    handle(deps.logger, async (_req, res) => {
      // The latest notice of each alert says whether it is firing; the history is the last 100.
      const history = await queryRows<{ at: string; alert: string; status: string; value: number | null; message: string }>(
        deps.warehouse,
        "SELECT formatDateTime(at, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS at, alert, status, value, message FROM alert_events ORDER BY at DESC, status ASC LIMIT 100",
      );
      const latest = await queryRows<{ alert: string; status: string }>(deps.warehouse, 'SELECT alert, argMax(status, at) AS status FROM alert_events GROUP BY alert ORDER BY alert');
      res.json({ firing: latest.filter((r) => r.status === 'firing').map((r) => r.alert), history });
    }),
  );
  router.post(
    '/api/admin/plan/reload',
    handle(deps.logger, async (_req, res) => {
      const { validator, views, kpis } = await reload();
      res.json({ planVersion: validator.latestVersion, versions: validator.versions, views, kpis });
    }),
  );
  return router;
}
