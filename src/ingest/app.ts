import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type Express, type Request, type Response, type Router } from 'express';
import type { FailureLog } from '../observability/failures.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { httpMetrics, timeRequest } from '../observability/http-metrics.ts';
import { openApiHandler } from './openapi.ts';
import type { IngestJobData } from '../queue/jobs.ts';
import { EVENT_TYPES, type EventType } from '../types.ts';
import type { PlanValidator } from '../plan/model.ts';
import { BaliseError, HttpError, isErrorCode, sendError, sendJson, type ErrorCode } from '../errors.ts';
import { createWriteKeyResolver, presentedWriteKey, type WriteKeySources } from './auth.ts';
import { rudderSourceConfig, segmentCdnSettings } from './client-config.ts';
import { ingestCors, setIngestCorsHeaders } from './cors.ts';
import { closesOnRefusal, createAdmission, type AdmissionLimits } from './admission.ts';
import { sendEarlyRefusal } from './early-refusal.ts';
import { isPlainObject } from '../util/objects.ts';
import { checkStructure } from './normalize.ts';
import { processEvents } from './process.ts';
import { bodyReadError, readBody } from './read-body.ts';
import { browserRequestIp } from './request-ip.ts';
import type { LiveHub } from '../live/hub.ts';
import { healthAnswer, type Liveness } from '../observability/liveness.ts';

export interface IngestLimits extends AdmissionLimits {
  maxRequestBytes: number;
  maxEventBytes: number;
  maxBatchEvents: number;
  maxQueueDepth: number;
}

export interface AppDependencies {
  limits: IngestLimits;
  writeKeys: Map<string, string>;
  validator: () => PlanValidator;
  /** Resolves once Redis holds the request's rows (in a job of their own or shared); rejects when the queue is unavailable. */
  enqueue(job: IngestJobData): Promise<void>;
  /** Jobs waiting to be loaded, as last sampled (sampling happens off the request path). */
  queueDepth(): number;
  readiness(): Promise<Record<string, boolean>>;
  /** The /metrics text when it is not this process's registry alone (an API child of `up`). */
  metricsText?: () => Promise<string>;
  /** Whether the process can work at all (/health). */
  liveness?(): Liveness;
  /** One log line per failure kind (a dead Redis must not log one stack trace per request). */
  failures?: FailureLog;
  /** False once shutdown has begun: keep-alive clients are told to go elsewhere. */
  accepting(): boolean;
  metrics: Metrics;
  logger: Logger;
  /** Live view of events as they are judged (absent: none). Costs one comparison per request while nobody watches. */
  live?: Pick<LiveHub, 'take' | 'publish'>;
  /** HMAC key for `pii_action: hash` (src/config/secrets.ts). */
  piiKey: string;
  /** The suppression list's check (BALISE_SUPPRESS_ERASED); absent: nothing is suppressed. */
  isSuppressed?: (ids: readonly string[]) => boolean;
  /** Mounted after the ingest routes: admin API, dashboard. */
  routers?: Router[];
}

/** Segment's browser SDK posts to one-letter paths: /v1/t, /v1/p… (and /v1/b for batches). */
const SHORT_PATHS: Record<string, EventType> = { t: 'track', i: 'identify', p: 'page', s: 'screen', g: 'group', a: 'alias' };
/**
 * Strict UTF-8: Buffer#toString would turn each invalid byte into U+FFFD, so "id-\xff" and
 * "id-\xfe" became one id. simdutf-backed, about as fast as toString (0.27 against 0.19 ns/B on
 * 100-event bodies here, where JSON.parse takes 4). The BOM is kept, so JSON.parse still refuses it.
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

interface IngestRoute {
  paths: string[];
  /** The call type of a single-event route; undefined for batches. */
  type?: EventType;
  keySources?: WriteKeySources;
  /** Imported history: timestamps kept as the archive has them. */
  historical?: boolean;
}

/** Every route that takes events (POST), each with the same admission, body limits and steps. */
const ingestRoutes: IngestRoute[] = [
  { paths: ['/v1/batch', '/v1/b'] },
  // `balise import`: the same validation, quarantine and dedupe as /v1/batch, but back-dated
  // timestamps are kept as the archive has them (no clock-skew correction against sentAt).
  { paths: ['/v1/import'], historical: true },
  // RudderStack's beacon mode: sendBeacon cannot set headers, so the key is in the query string.
  { paths: ['/beacon/v1/batch'], keySources: { query: true } },
  // One single-event route per Segment call type: /v1/track, /v1/identify…
  ...EVENT_TYPES.map((type) => ({ paths: [`/v1/${type}`], type })),
  ...Object.entries(SHORT_PATHS).map(([letter, type]) => ({ paths: [`/v1/${letter}`], type })),
  // Jitsu's protocol: one event per request, its type in the path, the key in X-Write-Key.
  ...EVENT_TYPES.map((type) => ({ paths: [`/api/s/${type}`, `/api/s/s2s/${type}`], type })),
];

/** An ingest route as served: `label` is the path its requests are timed under (httpRequestDuration's route). */
interface ServedRoute extends IngestRoute {
  label: string;
}

const servedPaths = new Map<string, ServedRoute>(ingestRoutes.flatMap((route) => route.paths.map((path) => [path.toLowerCase(), { ...route, label: path }] as const)));

/**
 * The ingest route a POST's URL names, matched as express would: in any case, one trailing slash
 * allowed, the query aside, and the path of an absolute-form target (`POST http://host/v1/batch`).
 * Repeated slashes count as one: an SDK configured with a host ending in `/` sends its unload
 * beacon to `//v1/batch`, and a 404 there loses the page's last events.
 */
function servedRoute(url: string | undefined): ServedRoute | undefined {
  if (url === undefined) return undefined;
  if (!url.startsWith('/')) return URL.canParse(url) ? servedRoute(new URL(url).pathname) : undefined;
  const query = url.indexOf('?');
  const asked = (query === -1 ? url : url.slice(0, query)).toLowerCase();
  const path = asked.includes('//') ? asked.replace(/\/{2,}/g, '/') : asked;
  return servedPaths.get(path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path);
}

/** Every "POST /path" served before express: with express's own routes, what the API answers (the OpenAPI test reads both). */
export const INGEST_ROUTES: readonly string[] = ingestRoutes.flatMap((route) => route.paths.map((path) => `POST ${path}`));

export interface IngestApp {
  app: Express;
  /**
   * The server's request listener: serves the ingest POSTs itself, load refusals first
   * (decision 0050), and hands everything else to the app.
   */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
}

export function createApp(deps: AppDependencies): IngestApp {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // A hash of every JSON answer (one per ingest request) for conditional GETs nobody sends here.
  app.set('etag', false);
  app.use(httpMetrics(deps.metrics));
  const resolveSource = createWriteKeyResolver(deps.writeKeys);
  const admission = createAdmission({
    limits: deps.limits,
    registry: deps.metrics.registry,
    refuse: (res, refusal) => {
      deps.metrics.requestsRefused.inc({ code: refusal.code });
      sendError(res, new BaliseError(refusal.code, refusal.message));
    },
  });

  /** Why a request to an ingest route is refused before its body is read, if it is: nothing is spent on it. */
  const loadRefusal = (req: Pick<IncomingMessage, 'headers'>): { code: ErrorCode; message: string; close: boolean } | undefined => {
    // A stopping server tells keep-alive clients to go elsewhere.
    if (!deps.accepting()) return { code: 'shutting_down', message: 'this server is shutting down; retry', close: true };
    if (deps.queueDepth() > deps.limits.maxQueueDepth) return { code: 'queue_full', message: 'the ingest queue is full; retry later', close: closesOnRefusal(req) };
    const refusal = admission.check(req);
    return refusal && { ...refusal, close: closesOnRefusal(req) };
  };

  /**
   * An ingest request, served before express (decision 0050): refused on the load at once
   * (decision 0042), else timed, admitted, its body read, then judged and queued.
   */
  const serveIngest = (req: IncomingMessage, res: ServerResponse, route: ServedRoute): void => {
    const refusal = loadRefusal(req);
    if (refusal) {
      if (refusal.code !== 'shutting_down') deps.metrics.requestsRefused.inc({ code: refusal.code });
      const status = sendEarlyRefusal(req, res, refusal, refusal.close);
      deps.metrics.httpRequestDuration.observe({ method: 'POST', route: route.label, status_code: String(status) }, 0);
      return;
    }
    timeRequest(deps.metrics, req, res, () => route.label);
    setIngestCorsHeaders(res, req.headers.origin);
    // No Content-Type check: real clients label JSON as text/plain (beacons), application/json, or
    // application/x-www-form-urlencoded (RudderStack's Node SDK, gzip); the body must parse as JSON.
    admission.enter(req, res);
    readBody(req, deps.limits.maxRequestBytes)
      .then(async (bytes) => {
        if (admission.bodyRead(req, res)) await ingest(req, res, bytes, route);
      })
      .catch((error: unknown) => {
        // Already answered (a body deadline cut the request short): the read error is its echo.
        // Otherwise a body refused (encoding, size, gzip) gets its code, anything else is ours.
        if (res.headersSent) return;
        if (error instanceof BaliseError && isErrorCode(error.code)) {
          deps.metrics.eventsRejected.inc({ code: error.code });
          return sendError(res, error);
        }
        deps.logger.error({ err: error }, 'unhandled error');
        sendError(res, new BaliseError('internal_error', 'internal error'));
      });
  };

  /** Judges and queues one request's events, whose body is `bytes`. */
  const ingest = async (req: IncomingMessage, res: ServerResponse, bytes: Buffer, { type: routeType, keySources = {}, historical = false }: IngestRoute): Promise<void> => {
    // The body is processed on the next turn of the event loop: this turn first reads, and
    // admits or refuses, whatever else is waiting (decision 0042).
    await new Promise<void>((resolve) => setImmediate(resolve));
    const receivedAt = Date.now();
    const fail = (error: BaliseError) => {
      deps.metrics.eventsRejected.inc({ code: error.code });
      sendError(res, error);
    };
    let text: string;
    try {
      text = UTF8.decode(bytes);
    } catch {
      return fail(new BaliseError('invalid_utf8', 'the request body is not valid UTF-8'));
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return fail(new BaliseError('invalid_json', 'the request body is not valid JSON'));
    }
    if (!isPlainObject(body)) return fail(new BaliseError('invalid_body', 'the request body must be a JSON object'));
    const presented = presentedWriteKey(req, body, keySources);
    if (!presented) return fail(new BaliseError('missing_write_key', 'send the write key as the HTTP Basic user, as X-Write-Key or as "writeKey" in the body'));
    const source = resolveSource(presented);
    if (!source) return fail(new BaliseError('invalid_write_key', 'unknown write key'));

    let rawEvents: unknown[];
    if (routeType) rawEvents = [body];
    else {
      if (!Array.isArray(body.batch)) return fail(new BaliseError('invalid_batch', '"batch" must be an array of events'));
      if (body.batch.length === 0) return fail(new BaliseError('empty_batch', '"batch" is empty'));
      if (body.batch.length > deps.limits.maxBatchEvents)
        return fail(new BaliseError('batch_too_large', `a batch holds at most ${deps.limits.maxBatchEvents} events`, { maxBatchEvents: deps.limits.maxBatchEvents }));
      rawEvents = body.batch;
      // Batch-level context is merged into every event, so it obeys the same structure rules.
      const contextProblem = checkStructure(body.context);
      if (contextProblem) return fail(new BaliseError(contextProblem.code, `batch context: ${contextProblem.message}`));
    }

    const processed = processEvents(rawEvents, deps.validator(), {
      receivedAt,
      source,
      routeType,
      batchContext: routeType ? undefined : body.context,
      batchSentAt: routeType ? undefined : body.sentAt,
      maxEventBytes: deps.limits.maxEventBytes,
      historical,
      requestIp: historical ? undefined : browserRequestIp(req),
      liveBudget: deps.live?.take(rawEvents.length) ?? 0,
      isSuppressed: deps.isSuppressed,
      piiKey: deps.piiKey,
    });

    // Nothing left to queue (every event suppressed): nothing to wait for either.
    if (processed.job.events.length === 0 && processed.job.quarantine.length === 0) {
      sendJson(res, 200, { success: true, accepted: 0, quarantined: 0, suppressed: processed.suppressed, results: processed.outcomes });
      return;
    }
    // A client that gave up (timed out, disconnected) was acknowledged nothing and will resend:
    // queuing its events now would only make its resend a duplicate.
    if (res.destroyed || req.socket.destroyed) return;
    try {
      await deps.enqueue(processed.job);
    } catch (error) {
      if (deps.failures) deps.failures.report('queue_unavailable', error, 'could not queue requests: answering 503 queue_unavailable');
      else deps.logger.error({ err: error }, 'could not queue an accepted request');
      deps.metrics.requestsRefused.inc({ code: 'queue_unavailable' });
      return sendError(res, new BaliseError('queue_unavailable', 'the queue is unavailable; nothing was stored, retry later'));
    }

    // Only once queued: the live view shows what was accepted or quarantined, never what a 503 refused.
    if (processed.live.length > 0) deps.live?.publish(processed.live);
    if (processed.accepted) deps.metrics.eventsAccepted.inc({ source }, processed.accepted);
    if (processed.quarantined) deps.metrics.eventsQuarantined.inc(processed.quarantined);
    for (const labels of processed.violationLabels) deps.metrics.planViolations.inc(labels);
    const allPlain = processed.outcomes.every((o) => o.status === 'accepted' && !o.violations);
    sendJson(res, 200, {
      success: true,
      accepted: processed.accepted,
      quarantined: processed.quarantined,
      ...(processed.suppressed ? { suppressed: processed.suppressed } : {}),
      ...(allPlain ? {} : { results: processed.outcomes }),
    });
  };

  // Preflights and the settings routes below; the ingest POSTs never reach express.
  app.use(['/v1', '/beacon/v1', '/api/s', '/sourceConfig'], ingestCors);

  // The settings the Segment and RudderStack browser SDKs fetch before sending (cdnURL, configUrl).
  app.get('/v1/projects/:writeKey/settings', (req, res) => {
    const writeKey = String(req.params.writeKey);
    if (!resolveSource(writeKey)) return sendError(res, new HttpError(404, 'invalid_write_key', 'unknown write key'));
    res.setHeader('Cache-Control', 'private, max-age=60');
    res.json(segmentCdnSettings(req, writeKey));
  });
  app.get(['/sourceConfig', '/sourceConfig/'], (req, res) => {
    const presented = presentedWriteKey(req, undefined, { query: true });
    const source = presented ? resolveSource(presented) : undefined;
    if (!source) {
      return sendError(res, presented ? new BaliseError('invalid_write_key', 'unknown write key') : new BaliseError('missing_write_key', 'send the write key as the HTTP Basic user or ?writeKey='));
    }
    res.setHeader('Cache-Control', 'private, max-age=60');
    res.json(rudderSourceConfig(source));
  });

  app.get('/health', (_req, res) => {
    const answer = healthAnswer(deps.liveness?.() ?? { ok: true });
    res.status(answer.status).json(answer.body);
  });
  app.get('/ready', async (_req, res) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', deps.metrics.registry.contentType);
    res.send(await (deps.metricsText ?? (() => deps.metrics.registry.metrics()))());
  });

  app.get('/openapi.json', openApiHandler());

  for (const router of deps.routers ?? []) app.use(router);

  // An ingest path exists for POST only (its preflight aside): another method is told so, with Allow.
  app.use((req: Request, res: Response, next) => {
    if (servedRoute(req.url) === undefined) return next();
    res.setHeader('Allow', 'POST, OPTIONS');
    sendError(res, new BaliseError('method_not_allowed', `${req.path} takes POST (with the events as JSON), not ${req.method}`));
  });

  // Every unmatched method and path (including `/v1/..`, which clients normalise to `/`) gets the
  // same JSON answer with a stable code, never express's HTML page.
  app.use((_req: Request, res: Response) => sendError(res, new BaliseError('not_found', 'no such endpoint')));

  // A body express's parsers could not read (/api), or a fault of ours.
  const errors: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
    if (res.headersSent) return;
    const mapped = bodyReadError(error, deps.limits.maxRequestBytes);
    if (mapped) {
      deps.metrics.eventsRejected.inc({ code: mapped.code });
      return sendError(res, mapped);
    }
    deps.logger.error({ err: error }, 'unhandled error');
    sendError(res, new BaliseError('internal_error', 'internal error'));
  };
  app.use(errors);
  return {
    app,
    listener: (req, res) => {
      const route = req.method === 'POST' ? servedRoute(req.url) : undefined;
      if (route) serveIngest(req, res, route);
      else app(req, res);
    },
  };
}
