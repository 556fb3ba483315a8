/**
 * An insert to a ClickHouse server (CLICKHOUSE_URL) when the batch comes in parts (its jobs'
 * payloads, decision 0052): the rows go as one request body, in order, the statement in the
 * `query` parameter, as ClickHouse's HTTP interface takes an INSERT (docs: "HTTP Interface",
 * clickhouse.com/docs/interfaces/http). No server runs here: a stand-in records what arrives.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openWarehouse } from '../../src/warehouse/client.ts';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))));
});

describe('an insert to a ClickHouse server', () => {
  it('sends a batch given in parts as one body, in order, with the INSERT in the query parameter', async () => {
    const received: { query: string; body: string }[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://stand-in');
        received.push({ query: url.searchParams.get('query') ?? '', body: Buffer.concat(chunks).toString() });
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end();
      });
    });
    servers.push(server);
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    const { port } = server.address() as AddressInfo;
    const warehouse = await openWarehouse({ clickhouse: { url: `http://127.0.0.1:${port}`, user: 'default', password: '', database: 'balise', cluster: undefined }, dataDir: '/nonexistent' });
    try {
      const newline = Buffer.from('\n');
      await warehouse.insertJsonRows('events', [Buffer.from('[1,"a"]'), newline, Buffer.from('[2,"b"]\n[3,"c"]'), newline, Buffer.from('[4,"d"]')], { optimize_on_insert: 0 }, ['n', 's']);
    } finally {
      await warehouse.close();
    }
    const insert = received.find((r) => r.query.startsWith('INSERT'));
    expect(insert).toEqual({ query: 'INSERT INTO events (n, s) SETTINGS optimize_on_insert = 0 FORMAT JSONCompactEachRow', body: '[1,"a"]\n[2,"b"]\n[3,"c"]\n[4,"d"]' });
  });
});
