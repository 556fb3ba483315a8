import type { Redis } from 'ioredis';
import express, { type Request, type Router } from 'express';
import cookieParser from 'cookie-parser';
import type { Queue } from 'bullmq';
import type { Config } from '../config/index.ts';
import { BaliseError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Deduper } from '../queue/dedupe.ts';
import type { QueuedJobData } from '../queue/jobs.ts';
import { replayDeadLetter } from '../queue/producer.ts';
import type { PlanValidator, TrackingPlan } from '../plan/model.ts';
import type { NormalizedEvent } from '../types.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { loadKpiDefinitions } from '../analytics/definitions.ts';
import { allFollow, replicaSummary, type ReplicaReport } from '../queue/plan-reloads.ts';
import { parseKpiFile } from '../analytics/kpi-parse.ts';
import { lintDefinitionsAgainstPlan } from '../analytics/kpi-lint.ts';
import { KpiDefinitionError } from '../analytics/errors.ts';
import type { KpiDefinitions, RetentionDefinition } from '../analytics/model.ts';
import { applyViews } from '../warehouse/views.ts';
import { queryRows } from '../warehouse/query.ts';
import { replayQuarantine } from '../queue/replay-quarantine.ts';
import { replayLockKey, withReplayLock } from '../queue/replay-lock.ts';
import type { KpiResult } from '../analytics/results.ts';
import { runFunnel, runKpis, runReadOnlySql, runRetention, runRetentionDefinition } from '../analytics/run.ts';
import { authorize, principalOf, type Credentials } from './auth.ts';
import { seesPersons } from './access.ts';
import { auditAdminActions, readAudit, recordAudit } from './audit.ts';
import { handle } from './handle.ts';
import { retentionState } from '../warehouse/retention.ts';
import { registerPrivacyRoutes } from './privacy-routes.ts';
import type { SuppressionList } from '../privacy/suppression.ts';
import { loadHealth, planHealth } from './health-queries.ts';
import { eventTrends, trendsWindow } from './trends.ts';
import { checkTimeZone, parseDateInput, rangeInfo, resolveRange } from '../analytics/sql-common.ts';
import { adHocFunnel, adHocMetric, funnelDropOffs, runTrend } from '../analytics/explore.ts';
import { AnalyticsInputError } from '../analytics/errors.ts';
import { entityTimeline, personTimeline } from './people.ts';
import { planCatalog } from './catalog.ts';
import { dayRangeMs } from '../util/default-range.ts';
import { isPlainObject } from '../util/objects.ts';
import { sharedWork } from '../util/shared-work.ts';
import { requestTimeZone } from './time-zone.ts';
import { saveKpiDefinition } from './save-kpi.ts';

export interface AdminDependencies {
  warehouse: Warehouse;
  queue: Queue<QueuedJobData>;
  /** The queue's Redis: queued jobs keep their event rows beside them (privacy export and erasure read them). */
  redis: Redis;
  /** The admin token, the role tokens (hashed) and the dashboard sessions. */
  credentials: Credentials;
  config: Config;
  validator: () => PlanValidator;
  /** Reads the plan again here and tells the other API processes (what they answered, when they could be asked). */
  reloadPlan: () => Promise<{ validator: PlanValidator; replicas?: ReplicaReport }>;
  logger: Logger;
  /** The live ingest's messageId window, shared with quarantine replay. */
  deduper?: Deduper;
  /** A plan's privacy rules as quarantine replay applies them to an event it moves (ingest/pii.ts, given by the entry point). */
  privacyAtReplay: (plan: TrackingPlan) => (event: NormalizedEvent) => NormalizedEvent;
  /** Why tracking-plan/alerts.yaml stops the alerts (checked as the scheduler checks it), or null. */
  alertsProblem?: (kpis: KpiDefinitions | undefined) => Promise<string | null>;
  /** The suppression list, when BALISE_SUPPRESS_ERASED is on. */
  suppression?: SuppressionList;
}

const stringParam = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * Optional start from the query string or body, as epoch ms: epoch milliseconds (a number, or
 * digits in a query string), YYYY-MM-DD or ISO, as `balise replay quarantine --since` takes it;
 * `name` is the parameter's, for the error.
 */
function sinceParam(value: unknown, name: string, timeZone?: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value !== 'string') throw new BaliseError('invalid_date', `${name}: a date such as 2026-01-31, an ISO date-time or epoch milliseconds`);
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  return parseDateInput(value, 'from', timeZone, name);
}

/**
 * The analyst's own SQL failing in ClickHouse (unknown column, timeout, refused function) is a
 * client error with the engine's reason, not a server fault.
 */
function sqlError(error: unknown): unknown {
  if (error instanceof BaliseError || !(error instanceof Error)) return error;
  const engineType = (error as Error & { type?: unknown }).type;
  const timedOut = engineType === 'TIMEOUT_EXCEEDED' || /TIMEOUT_EXCEEDED|Timeout exceeded/i.test(error.message);
  if (timedOut) return new BaliseError('query_timeout', 'the query ran longer than the time limit (10 s)');
  // Not the analyst's fault: the server stopped it (shutting down, or an operator's KILL QUERY).
  if (engineType === 'QUERY_WAS_CANCELLED') return new BaliseError('query_cancelled', 'the query was cancelled before it finished (the server is stopping); run it again');
  return new BaliseError('sql_error', error.message.split('\n')[0]!.slice(0, 500));
}

/**
 * An ad-hoc retention sent as JSON, in the same shape as a `retention:` entry of
 * kpis/*.yaml (JSON is YAML), checked by the same parser and plan lint as the files.
 */
function adHocRetention(body: unknown, validator: PlanValidator): RetentionDefinition {
  const raw = { id: 'ad_hoc', ...(isPlainObject(body) ? body : {}) };
  const parsed = parseKpiFile('request', JSON.stringify({ retention: [raw] }));
  const messages = [...parsed.messages, ...lintDefinitionsAgainstPlan(validator.plan, parsed.definitions)].filter((m) => m.severity === 'error');
  const def = parsed.definitions.retention[0];
  if (messages.length > 0 || !def) throw new KpiDefinitionError(`invalid retention: ${messages.map((m) => m.message).join('; ') || 'send a retention definition'}`, messages);
  return def;
}

/** The date range of an explore request body: {from, to} as YYYY-MM-DD or ISO, read in `timeZone`. */
function bodyRange(body: Record<string, unknown>, timeZone: string) {
  return resolveRange({ from: stringParam(body.from), to: stringParam(body.to), timeZone }, Date.now());
}

const bodyOf = (req: Request): Record<string, unknown> => {
  const body: unknown = req.body;
  if (!isPlainObject(body)) throw new AnalyticsInputError('explore_invalid', 'send a JSON object {definition, from, to}');
  return body;
};

/** The call types a plan names events of. */
const VIEW_OR_TRACK = new Set(['track', 'page', 'screen']);

/** The read side of Balise, all behind the admin token: KPIs, funnels, SQL, health, replays. */
export function createAdminRouter(deps: AdminDependencies): Router {
  const router = express.Router();
  // Read from disk with the plan, and again whenever the validator is another one: a reload
  // here (replay, reload endpoint, a KPI saved) or one announced by another API process.
  const loadDefinitions = (validator: PlanValidator) => {
    const loading = loadKpiDefinitions(deps.config.planDir, validator.plan);
    // Invalid definitions fail the requests that need them, never the process (unhandled rejection).
    loading.catch(() => undefined);
    return loading;
  };
  let definitionsOf = deps.validator();
  let loadedDefinitions = loadDefinitions(definitionsOf);
  // Viewers who open the dashboard together (or one viewer's tabs) share one computation of the
  // KPI panel: on a busy box N identical panels would otherwise each read the events N times.
  // Keyed by the definitions loaded, so a request after a reload never gets the old ones' values.
  let definitionsVersion = 0;
  const definitions = (): Promise<KpiDefinitions> => {
    const validator = deps.validator();
    if (validator !== definitionsOf) {
      definitionsOf = validator;
      loadedDefinitions = loadDefinitions(validator);
      definitionsVersion++;
    }
    return loadedDefinitions;
  };
  const kpiPanel = sharedWork<KpiResult[]>();
  // Validators, typed views and KPI definitions move together: a property added to the plan
  // is validated, shows up in its ev_* view and can be used by a KPI after one reload.
  const reload = async () => {
    const { validator, replicas } = await deps.reloadPlan();
    if (replicas && !allFollow(replicas, validator.latestVersion)) {
      deps.logger.warn({ replicas }, `not every API process follows the reloaded plan: ${replicaSummary(replicas, validator.latestVersion)}`);
    }
    const views = await applyViews(deps.warehouse, validator.plan);
    const loaded = await definitions();
    return { validator, views, kpis: loaded.metrics.length + loaded.funnels.length, replicas };
  };
  // `?tz=` (the CLI's --tz) overrides the project zone for one request.
  const zoneOf = (req: Request): string => requestTimeZone(req.query.tz, deps.config, deps.validator().plan);
  const queryRange = (req: Request) => ({ from: stringParam(req.query.from), to: stringParam(req.query.to), timeZone: zoneOf(req) });
  // Before the role check, so an admin route refused to a viewer or an analyst is recorded too.
  router.use('/api/admin', auditAdminActions(deps.warehouse, deps.logger));
  router.use('/api', cookieParser(), authorize(deps.credentials), express.json({ limit: '100kb' }));

  router.get(
    '/api/kpis',
    handle(deps.logger, async (req, res) => {
      const range = queryRange(req);
      const loaded = definitions();
      res.json(await kpiPanel(JSON.stringify([definitionsVersion, range]), async () => runKpis(deps.warehouse, await loaded, range)));
    }),
  );
  router.get(
    '/api/funnels',
    handle(deps.logger, async (_req, res) => {
      res.json((await definitions()).funnels);
    }),
  );
  router.get(
    '/api/funnels/:id',
    handle(deps.logger, async (req, res) => {
      res.json(
        await runFunnel(deps.warehouse, await definitions(), String(req.params.id), {
          ...queryRange(req),
          // `breakdown=` (present, empty): none, even for a funnel defined with one.
          breakdown: req.query.breakdown === '' ? null : stringParam(req.query.breakdown),
          attribution: stringParam(req.query.attribution),
          plan: deps.validator().plan,
        }),
      );
    }),
  );
  router.get(
    '/api/retention',
    handle(deps.logger, async (_req, res) => {
      res.json((await definitions()).retention);
    }),
  );
  router.get(
    '/api/retention/:id',
    handle(deps.logger, async (req, res) => {
      res.json(await runRetention(deps.warehouse, await definitions(), String(req.params.id), queryRange(req)));
    }),
  );
  // Ad hoc: the definition travels in the body (what the dashboard's explorer builds), the range in the query.
  router.post(
    '/api/retention',
    handle(deps.logger, async (req, res) => {
      const def = adHocRetention(req.body, deps.validator());
      res.json(await runRetentionDefinition(deps.warehouse, def, queryRange(req)));
    }),
  );
  router.get(
    '/api/funnels/:id/dropoffs',
    handle(deps.logger, async (req, res) => {
      const def = (await definitions()).funnels.find((f) => f.id === String(req.params.id));
      if (!def) throw new BaliseError('funnel_not_found', `no funnel "${String(req.params.id)}"`);
      const range = resolveRange(queryRange(req), Date.now());
      res.json(await funnelDropOffs(deps.warehouse, def, range, Number(req.query.step)));
    }),
  );
  router.get(
    '/api/plan/catalog',
    handle(deps.logger, async (_req, res) => {
      const validator = deps.validator();
      res.json(planCatalog(validator.plan, validator.latestVersion));
    }),
  );
  router.post(
    '/api/explore/trend',
    handle(deps.logger, async (req, res) => {
      const body = bodyOf(req);
      const adHoc = adHocMetric(body.definition, deps.validator().plan);
      res.json({ yaml: adHoc.yaml, warnings: adHoc.warnings, result: await runTrend(deps.warehouse, adHoc.definition, bodyRange(body, zoneOf(req))) });
    }),
  );
  router.post(
    '/api/explore/funnel',
    handle(deps.logger, async (req, res) => {
      const body = bodyOf(req);
      const adHoc = adHocFunnel(body.definition, deps.validator().plan);
      const range = bodyRange(body, zoneOf(req));
      const only = { funnels: [adHoc.definition], metrics: [], retention: [] };
      const opts = { from: new Date(range.fromMs).toISOString(), to: new Date(range.toMs).toISOString(), timeZone: range.timeZone };
      const result = await runFunnel(deps.warehouse, only, adHoc.definition.id, opts);
      const step = body.dropOffStep;
      // Who dropped off is person-level: the route is open to viewers for the aggregate only.
      const role = principalOf(res)?.role;
      if (step !== undefined && !(role && seesPersons(role))) throw new BaliseError('forbidden', `the ${role ?? 'viewer'} role may not list who dropped off (dropOffStep): analyst or admin only`);
      const dropOffs = step === undefined ? undefined : await funnelDropOffs(deps.warehouse, adHoc.definition, range, Number(step));
      res.json({ yaml: adHoc.yaml, warnings: adHoc.warnings, result, dropOffs });
    }),
  );
  router.get(
    '/api/people/:id',
    handle(deps.logger, async (req, res) => {
      const timeline = await personTimeline(deps.warehouse, String(req.params.id));
      if (!timeline) throw new BaliseError('person_not_found', `no event carries the id "${String(req.params.id)}" (as userId, anonymousId or an alias)`);
      res.json(timeline);
    }),
  );
  router.get(
    '/api/entities/:property/:value',
    handle(deps.logger, async (req, res) => {
      const property = String(req.params.property);
      if (!deps.validator().plan.events.some((e) => property in e.properties)) {
        throw new AnalyticsInputError('unknown_property', `"${property}" is a property of no event in the tracking plan`);
      }
      res.json(await entityTimeline(deps.warehouse, property, String(req.params.value)));
    }),
  );
  router.post(
    '/api/sql',
    handle(deps.logger, async (req, res) => {
      const query = (req.body as { query?: unknown } | undefined)?.query;
      if (typeof query !== 'string' || !query.trim()) throw new BaliseError('invalid_parameter', 'send {"query": "SELECT …"}');
      try {
        res.json(await runReadOnlySql(deps.warehouse, query, { maxRows: 10_000, maxSeconds: 10, hideAdminTables: principalOf(res)?.role !== 'admin' }));
      } catch (error) {
        const answer = sqlError(error);
        // An audit trail of refused analyst queries; the query text is the analyst's, not a secret.
        // A query cancelled by a shutdown is expected there, not a warning with a stack trace.
        if (answer instanceof BaliseError && answer.code === 'query_cancelled') deps.logger.info({ query: query.slice(0, 2000) }, 'SQL query cancelled: the server is stopping');
        else deps.logger.warn({ err: error, query: query.slice(0, 2000) }, 'SQL query refused');
        throw answer;
      }
    }),
  );
  router.get(
    '/api/trends',
    handle(deps.logger, async (req, res) => {
      const zone = checkTimeZone(zoneOf(req));
      const { from, to, limit, isDefault } = trendsWindow(req.query, Date.now(), zone);
      // Described as every other read describes its range: instants, `to` the midnight after the last day.
      const range = rangeInfo({ ...dayRangeMs({ from, to }, zone), isDefault, timeZone: zone });
      res.json({ ...(await eventTrends(deps.warehouse, from, to, limit, zone)), range });
    }),
  );
  router.get(
    '/api/health/plan',
    handle(deps.logger, async (req, res) => {
      // The range's end is honoured too: health "as of" a past period shows that period only.
      // Balise's one default range when none is given, as every other read (decision 0020).
      const range = resolveRange({ from: stringParam(req.query.from), to: stringParam(req.query.to), timeZone: zoneOf(req) }, Date.now());
      const health = await planHealth(deps.warehouse, range.fromMs, range.toMs);
      const validator = deps.validator();
      // Received counts, stored or quarantined: an event whose every copy was quarantined was seen.
      const seen = new Set([...health.eventsSeen, ...health.quarantinedByEvent].map((e) => e.event));
      const planned = validator.plan.events.filter((e) => e.kind === 'track').map((e) => e.name);
      const plannedKinds = new Set(validator.plan.events.map((e) => `${e.kind} ${e.name}`));
      res.json({
        planVersion: validator.latestVersion,
        versions: validator.versions,
        ...health,
        plannedNeverSeen: planned.filter((name) => !seen.has(name)),
        // Page and screen views too, as "Events by plan version" counts them unplanned: one the plan does not name with its kind.
        unplannedSeen: health.eventsSeen.filter((e) => VIEW_OR_TRACK.has(e.type) && !plannedKinds.has(`${e.type} ${e.event}`)),
        range: rangeInfo(range),
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
      const retention = await retentionState(deps.warehouse, deps.config.privacy.retentionDays);
      res.json({ redis: counts ? 'up' : 'down', queue: counts ?? {}, deadLetter: counts?.failed ?? 0, ...load, retention });
    }),
  );
  router.post(
    '/api/admin/replay/quarantine',
    handle(deps.logger, async (req, res) => {
      // In the JSON body (the CLI's way), else in the query string.
      const body = isPlainObject(req.body) ? req.body : {};
      const pick = (name: 'event' | 'since'): unknown => body[name] ?? req.query[name];
      const since = sinceParam(pick('since'), 'since');
      const { validator } = await reload();
      res.json(
        await withReplayLock(deps.redis, replayLockKey(deps.queue.qualifiedName), () =>
          replayQuarantine(deps.warehouse, validator, {
            maxEventBytes: deps.config.ingest.maxEventBytes,
            storedForm: deps.privacyAtReplay(validator.plan),
            event: stringParam(pick('event')),
            since,
            deduper: deps.deduper,
          }),
        ),
      );
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
      // An invalid file stops the evaluations: said here too, not only in the server's log.
      const problem = (await deps.alertsProblem?.(await definitions().catch(() => undefined))) ?? null;
      res.json({ firing: latest.filter((r) => r.status === 'firing').map((r) => r.alert), history, problem });
    }),
  );
  router.post(
    '/api/admin/plan/reload',
    handle(deps.logger, async (_req, res) => {
      const { validator, views, kpis, replicas } = await reload();
      if (validator.unpublishedEdits) deps.logger.warn(validator.unpublishedEdits);
      res.json({ planVersion: validator.latestVersion, versions: validator.versions, views, kpis, replicas: replicas ?? null, unpublishedEdits: validator.unpublishedEdits ?? null });
    }),
  );
  // One save at a time: two saves may add their ids to the same event file.
  let saving: Promise<unknown> = Promise.resolve();
  router.post(
    '/api/admin/kpis',
    handle(deps.logger, async (req, res) => {
      if (!deps.config.kpisWritable) {
        throw new BaliseError(
          'kpi_write_disabled',
          'this server may not write tracking-plan/kpis/ (set BALISE_KPIS_WRITABLE=true where the plan directory is a writable checkout); copy the YAML instead',
        );
      }
      const body = bodyOf(req);
      const save = saving.then(() => saveKpiDefinition(deps.config.planDir, deps.validator().plan, body.kind, body.definition));
      saving = save.catch(() => undefined);
      const saved = await save;
      // The new definition is served at once, and its events' kpis: lists are the plan's.
      await reload();
      res.status(201).json(saved);
    }),
  );
  router.get(
    '/api/admin/audit',
    handle(deps.logger, async (req, res) => {
      const limit = Math.min(Math.max(Number(req.query.limit) || 200, 1), 10_000);
      res.json({ entries: await readAudit(deps.warehouse, limit) });
    }),
  );
  // An admin action done by a client elsewhere (the CLI's Metabase provisioning) reports itself here.
  router.post(
    '/api/admin/audit',
    handle(deps.logger, async (req, res) => {
      const action = (req.body as { action?: unknown } | undefined)?.action;
      if (typeof action !== 'string' || !/^[a-z][a-z0-9_.:-]{0,99}$/.test(action)) throw new BaliseError('invalid_parameter', 'send {"action": "metabase.provision"}');
      await recordAudit(deps.warehouse, principalOf(res)!, action, 200);
      res.json({ recorded: true });
    }),
  );
  registerPrivacyRoutes(router, deps);
  return router;
}
