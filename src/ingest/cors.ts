import type { ServerResponse } from 'node:http';
import type { Request, Response } from 'express';

/** Answered when a preflight names no headers. */
const DEFAULT_ALLOWED_HEADERS = 'Authorization, Content-Type, Content-Encoding';
/** Header names are tokens; anything else in the request list is not echoed back. */
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

/** The CORS headers of every ingest answer, a refusal before routing included (a browser must read its 429). */
export function ingestCorsHeaders(origin: string | undefined): Record<string, string> {
  return { 'Access-Control-Allow-Origin': origin ?? '*', Vary: 'Origin, Access-Control-Request-Headers', 'Access-Control-Expose-Headers': 'Retry-After' };
}

/** Sets those headers on a response about to be answered (Node's or express's). */
export function setIngestCorsHeaders(res: Pick<ServerResponse, 'setHeader'>, origin: string | undefined): void {
  for (const [name, value] of Object.entries(ingestCorsHeaders(origin))) res.setHeader(name, value);
}

/**
 * CORS for the ingest routes. Preflights are answered by echoing the headers the browser asks
 * for: each client adds its own (Segment's `X-Retry-Count` on retries, RudderStack's
 * `AnonymousId`, `SentAt` and `Rsa-*`, Jitsu's `X-Write-Key`), and a refused preflight loses
 * every event silently. That is safe here because these routes authenticate with a write key,
 * never a cookie. `Retry-After` is exposed so a browser client can honour a 429/503.
 */
export function ingestCors(req: Request, res: Response, next: () => void): void {
  setIngestCorsHeaders(res, req.headers.origin);
  if (req.method === 'OPTIONS') {
    const requested = req.headers['access-control-request-headers']?.trim() ?? '';
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', requested.length <= 1024 && HEADER_LIST.test(requested) ? requested : DEFAULT_ALLOWED_HEADERS);
    res.setHeader('Access-Control-Max-Age', '86400');
    res.status(204).end();
    return;
  }
  next();
}
