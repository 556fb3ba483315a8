import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Metrics } from './metrics.ts';

/** The known methods; anything else is one label value, so a client cannot mint label values. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The route label of a finished request: the pattern of the express route that handled it
 * (`/api/funnels/:id`), never the raw URL, so the label set stays bounded whatever clients send.
 * Requests no route handled are `preflight` (CORS, answered by middleware) or `unmatched` (404).
 */
export function routeLabel(req: Request): string | undefined {
  // Handed whole to another process, which times it under its own route (timedElsewhere).
  if (req.res?.locals.metricsElsewhere === true) return undefined;
  const named: unknown = req.res?.locals.metricsRoute;
  if (typeof named === 'string') return named;
  const route = (req as Request & { route?: { path?: unknown } }).route;
  if (route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  // One route, several literal paths (`/v1/batch` and its short alias `/v1/b`): the one requested
  // is one of that fixed list, so the label set stays bounded.
  if (route && Array.isArray(route.path)) {
    const paths = (route.path as unknown[]).filter((p): p is string => typeof p === 'string');
    const path = paths.find((candidate) => candidate === req.path) ?? paths[0];
    if (path !== undefined) return `${req.baseUrl}${path}`;
  }
  return req.method === 'OPTIONS' ? 'preflight' : 'unmatched';
}

/** A handler serving many paths under one pattern (the engine proxy's `/api/*`) names it for the route label. */
export function nameRoute(res: Response, pattern: string): void {
  res.locals.metricsRoute = pattern;
}

/**
 * A request handed whole to another process of the same Balise (the engine owner), which times it
 * under its own route: timed here too, it would count twice in every sum over processes.
 */
export function timedElsewhere(res: Response): void {
  res.locals.metricsElsewhere = true;
}

/**
 * Observes a request's duration once its response is finished (or its connection closed), under
 * the route `route()` names then; none (undefined) when another process times it.
 */
export function timeRequest(metrics: Pick<Metrics, 'httpRequestDuration'>, req: IncomingMessage, res: ServerResponse, route: () => string | undefined): void {
  const stop = metrics.httpRequestDuration.startTimer();
  let done = false;
  const observe = () => {
    if (done) return;
    done = true;
    const label = route();
    if (label === undefined) return;
    const method = req.method ?? '';
    stop({ method: METHODS.has(method) ? method : 'OTHER', route: label, status_code: String(res.statusCode) });
  };
  res.once('finish', observe);
  res.once('close', observe);
}

/** Express middleware: every request it sees is timed under its express route (routeLabel). */
export function httpMetrics(metrics: Pick<Metrics, 'httpRequestDuration'>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    timeRequest(metrics, req, res, () => routeLabel(req));
    next();
  };
}
