/**
 * Refusing load before routing. Under a flood most requests are refused, and clients resend
 * them within a fraction of a second: a refusal that went through express's router (every
 * route tried in turn), the metrics and CORS middleware, a new error with its stack trace and
 * `res.json` cost about 470 µs of the API process's CPU here, so refusals alone could take a
 * whole core. This answer is written straight to Node's response from a body rendered once per
 * code, with the same status, body, Retry-After and CORS headers as every other refusal.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BaliseError, jsonAnswer, renderError, type ErrorCode } from '../errors.ts';
import { ingestCorsHeaders } from './cors.ts';

interface Rendered {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const rendered = new Map<string, Rendered>();

function render(code: ErrorCode, message: string): Rendered {
  let answer = rendered.get(code);
  if (!answer) {
    const { status, headers, body } = renderError(new BaliseError(code, message));
    const json = jsonAnswer(body, headers);
    answer = { status, headers: json.headers, body: json.bytes };
    rendered.set(code, answer);
  }
  return answer;
}

/** Answers a refusal (its message is the same for every request refused with its code); returns the status sent. */
export function sendEarlyRefusal(req: IncomingMessage, res: ServerResponse, refusal: { code: ErrorCode; message: string }, close: boolean): number {
  const { status, headers, body } = render(refusal.code, refusal.message);
  res.writeHead(status, { ...headers, ...ingestCorsHeaders(req.headers.origin), ...(close ? { Connection: 'close' } : {}) });
  res.end(body);
  return status;
}
