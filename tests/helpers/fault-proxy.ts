import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  status: number;
}

export interface FaultProxy {
  url: string;
  /** Every request that went through, with the status the client got. */
  seen: SeenRequest[];
  /** The next `n` event POSTs get a 503, as Balise answers when its queue is full. */
  failNext(n: number): void;
  close(): Promise<void>;
}

/**
 * A transparent HTTP proxy in front of a real Balise that can answer the next event POSTs with
 * the 503 Balise sends when its queue is full (same CORS headers, Retry-After and body shape), so
 * a browser SDK's retry is exercised against the real ingest that then stores the events.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const seen: SeenRequest[] = [];
  let failures = 0;
  const server: Server = createServer((req, res) => {
    const entry: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, status: 0 };
    seen.push(entry);
    if (req.method === 'POST' && failures > 0) {
      failures--;
      entry.status = 503;
      req.resume();
      res
        .writeHead(503, {
          'access-control-allow-origin': req.headers.origin ?? '*',
          'access-control-expose-headers': 'Retry-After',
          'retry-after': '1',
          'content-type': 'application/json',
        })
        .end(JSON.stringify({ success: false, code: 'queue_full', message: 'the ingest queue is full; retry later' }));
      return;
    }
    const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      entry.status = answer.statusCode ?? 0;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    failNext: (n) => {
      failures = n;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
