import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from '../observability/logger.ts';
import { nameRoute, timedElsewhere } from '../observability/http-metrics.ts';
import { BaliseError, sendError } from '../errors.ts';
import { readEngineOwner } from '../warehouse/engine-owner.ts';

/** Headers the read API needs from the caller (auth, body type) and sends back (body type; when to retry a 503 or 429). */
const FORWARDED_REQUEST_HEADERS = ['authorization', 'cookie', 'content-type'];
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'retry-after'];
const PROXY_TIMEOUT_MS = 30_000;

/**
 * The read API of a `serve` process in embedded mode. The chDB engine belongs to one process
 * (`balise up`) and a second one would read an empty engine of its own, so every `/api` request
 * goes to the process that owns the engine of the same data directory, found in its engine.json;
 * without one, it answers 503 `engine_unavailable`, never an empty result.
 */
export function createEngineProxyRouter(opts: { dataDir: string; logger: Logger }): Router {
  const router = express.Router();
  router.use('/api', express.raw({ type: () => true, limit: '1mb' }), async (req: Request, res: Response) => {
    nameRoute(res, '/api/* (to the engine owner)');
    const owner = readEngineOwner(opts.dataDir);
    if (!owner?.url) {
      const why = `this process (balise serve, embedded mode) has no ClickHouse engine: the read API is served by \`balise up\` on the same data directory (${opts.dataDir}), and none is running${owner ? ` (the engine's owner, process ${owner.pid}, serves no read API: a \`balise worker\`)` : ''}`;
      return sendError(res, new BaliseError('engine_unavailable', why), { retryAfterSeconds: 5 });
    }
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const body = Buffer.isBuffer(req.body) && req.body.length > 0 && req.method !== 'GET' && req.method !== 'HEAD' ? new Uint8Array(req.body) : undefined;
    try {
      const answer = await fetch(`${owner.url}${req.originalUrl}`, { method: req.method, headers, body, signal: AbortSignal.timeout(PROXY_TIMEOUT_MS) });
      for (const name of FORWARDED_RESPONSE_HEADERS) {
        const value = answer.headers.get(name);
        if (value) res.setHeader(name, value);
      }
      // The owner timed it under its route: not counted a second time here.
      timedElsewhere(res);
      res.status(answer.status).send(Buffer.from(await answer.arrayBuffer()));
    } catch (error) {
      opts.logger.warn({ err: error, owner: owner.url }, 'the engine owner did not answer a proxied read');
      sendError(res, new BaliseError('engine_unreachable', `the process that owns the ClickHouse engine (${owner.url}) did not answer`));
    }
  });
  return router;
}
