/**
 * GET /api/live: events as this process judges them, as server-sent events (decision 0025).
 * Query: source, event, person, verdict. Each message is `event: events` with
 * `{events, dropped, sampledOut}`; a comment line every `heartbeatMs` keeps proxies from closing
 * an idle stream. The hub never waits for this socket: when it is full, deliveries pause until
 * it drains and the overflow is dropped (and counted).
 */
import express, { type Request, type Response, type Router } from 'express';
import cookieParser from 'cookie-parser';
import type { LiveHub } from '../live/hub.ts';
import { isVerdictFilter, VERDICT_FILTERS, type LiveFilter } from '../live/model.ts';
import { BaliseError, sendError } from '../errors.ts';
import { authorize, type Credentials } from './auth.ts';

export interface LiveRouterDependencies {
  hub: LiveHub;
  credentials: Credentials;
  heartbeatMs?: number;
}

function param(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The filter from the query string, or a message saying what is wrong with it. */
export function parseLiveFilter(query: Request['query']): LiveFilter | { error: string } {
  const filter: LiveFilter = {};
  const source = param(query.source);
  const event = param(query.event);
  const person = param(query.person);
  const verdict = param(query.verdict);
  if (source) filter.source = source;
  if (event) filter.event = event;
  if (person) filter.person = person;
  if (verdict !== undefined) {
    if (!isVerdictFilter(verdict)) return { error: `verdict must be one of ${VERDICT_FILTERS.join(', ')}; got "${verdict}"` };
    filter.verdict = verdict;
  }
  return filter;
}

export function createLiveRouter(deps: LiveRouterDependencies): Router {
  const router = express.Router();
  router.get('/api/live', cookieParser(), authorize(deps.credentials), (req: Request, res: Response) => {
    const filter = parseLiveFilter(req.query);
    if ('error' in filter) {
      sendError(res, new BaliseError('invalid_live_filter', filter.error));
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx buffers responses by default; a live stream must not be.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\nevent: ready\ndata: ${JSON.stringify({ filter })}\n\n`);
    const subscription = deps.hub.subscribe(
      filter,
      (delivery) => res.write(`event: events\ndata: ${JSON.stringify(delivery)}\n\n`),
      () => res.end(),
    );
    res.on('drain', () => subscription.resume());
    const heartbeat = setInterval(() => res.writableNeedDrain || res.write(': ping\n\n'), deps.heartbeatMs ?? 15_000);
    heartbeat.unref();
    res.on('close', () => {
      clearInterval(heartbeat);
      subscription.close();
    });
  });
  return router;
}
