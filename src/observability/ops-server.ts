import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.ts';
import { healthAnswer, type Liveness } from './liveness.ts';

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * GET /health and GET /metrics for a process that serves no API (`balise worker`), so its
 * insert latency, lag and process metrics can be scraped and its container health-checked.
 */
export async function startOpsServer(metrics: Metrics, host: string, port: number, liveness: () => Liveness): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') {
      // As an API process's /health: failing once Redis has been gone too long, so a liveness probe restarts the worker.
      const answer = healthAnswer(liveness());
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    } else if (req.method === 'GET' && path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500, { 'content-type': 'application/json' }).end('{"code":"internal_error","message":"metrics unavailable"}'),
      );
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"not_found","message":"only GET /health and GET /metrics here"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
