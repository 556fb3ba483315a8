import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRequest, LoadClient, parseAnswerHead } from '../../bench/load-client.ts';

/** A real Node HTTP server whose answer the test picks per request; it records what it was sent and on which socket. */
async function serve(
  answer: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void,
): Promise<{ port: number; seen: { body: string; socket: number; auth: string | undefined }[]; server: http.Server }> {
  const sockets = new Map<object, number>();
  const seen: { body: string; socket: number; auth: string | undefined }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (!sockets.has(req.socket)) sockets.set(req.socket, sockets.size);
      const body = Buffer.concat(chunks).toString();
      seen.push({ body, socket: sockets.get(req.socket)!, auth: req.headers.authorization });
      answer(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, seen, server };
}

const servers: http.Server[] = [];
const clients: LoadClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const json = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
};
const request = (body: string) => encodeRequest('/v1/batch', { 'Content-Type': 'application/json', Authorization: 'Basic a2V5Og==' }, Buffer.from(body));
const client = (port: number) => {
  const made = new LoadClient(port);
  clients.push(made);
  return made;
};

describe('the ingest bench load client', () => {
  it('sends whole requests on one kept-alive socket and reads each status by its length', async () => {
    const { port, seen } = await serve((_req, res, body) => json(res, body.includes('late') ? 429 : 200, JSON.stringify({ success: true, echo: body })));
    const sender = client(port);
    expect(await sender.send(request('{"batch":[1]}'))).toBe(200);
    expect(await sender.send(request('{"batch":["late"]}'))).toBe(429);
    expect(await sender.send(request('{"batch":["é"]}'))).toBe(200);
    expect(seen.map((s) => s.body)).toEqual(['{"batch":[1]}', '{"batch":["late"]}', '{"batch":["é"]}']);
    expect(seen.map((s) => s.socket)).toEqual([0, 0, 0]);
    expect(seen[0]!.auth).toBe('Basic a2V5Og==');
  });

  it('opens a new socket after an answer that closes its own, as a refusing server sends', async () => {
    let refused = false;
    const { port, seen } = await serve((_req, res) => {
      if (!refused) {
        refused = true;
        return json(res, 503, '{"code":"queue_full"}', { Connection: 'close' });
      }
      json(res, 200, '{"success":true}');
    });
    const sender = client(port);
    expect(await sender.send(request('{"n":1}'))).toBe(503);
    expect(await sender.send(request('{"n":2}'))).toBe(200);
    expect(seen.map((s) => s.socket)).toEqual([0, 1]);
  });

  it('sends again, on another socket, a request whose kept-alive socket the server closed while it was idle', async () => {
    const { port, seen, server } = await serve((_req, res) => json(res, 200, '{"success":true}'));
    const sender = client(port);
    expect(await sender.send(request('{"n":1}'))).toBe(200);
    // The server drops its idle keep-alive sockets (its timeout), and the client writes before it noticed.
    server.closeIdleConnections();
    expect(await sender.send(request('{"n":2}'))).toBe(200);
    expect(seen.map((s) => s.body)).toEqual(['{"n":1}', '{"n":2}']);
  });

  it('carries concurrent requests on as many sockets, every one answered', async () => {
    const { port, seen } = await serve((_req, res, body) => setTimeout(() => json(res, 200, body), 20));
    const sender = client(port);
    const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => sender.send(request(`{"n":${i}}`))));
    expect(statuses).toEqual(Array.from({ length: 8 }, () => 200));
    expect(new Set(seen.map((s) => s.socket)).size).toBe(8);
    expect(seen.map((s) => s.body).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `{"n":${i}}`).sort());
  });

  it('refuses an answer it cannot delimit (chunked) rather than guess where it ends', async () => {
    const { port } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"success":');
      res.end('true}');
    });
    await expect(client(port).send(request('{}'))).rejects.toThrow(/without a Content-Length \(chunked\)/);
  });
});

describe('parseAnswerHead', () => {
  it('reads the status, the length and whether the socket closes, whatever the case of the names', () => {
    expect(parseAnswerHead('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 16')).toEqual({ status: 200, contentLength: 16, closes: false });
    expect(parseAnswerHead('HTTP/1.1 503 Service Unavailable\r\nCONNECTION: Close\r\ncontent-length:  21 ')).toEqual({ status: 503, contentLength: 21, closes: true });
    expect(() => parseAnswerHead('SSH-2.0-OpenSSH')).toThrow(/not an HTTP\/1.1 answer/);
  });
});
