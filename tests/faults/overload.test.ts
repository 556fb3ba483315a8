/**
 * Fault suite (issue 12): odd bytes, slow senders, large bodies and a flood, each reproduced
 * from outside a real `balise up` process over real sockets (the floods from a child process),
 * each ending with every acknowledged messageId stored exactly once and the service answering.
 * Limits are lowered through the documented env vars so that a 2-core box reaches them.
 */
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floodFromChild, type FloodResult } from '../helpers/flood-client.ts';
import { freePort, sqlViaApi, startBaliseProcess, TEST_WRITE_AUTH, TEST_WRITE_KEY, type BaliseProcess } from '../helpers/process.ts';
import { tempDir } from '../helpers/stack.ts';

const MAX_BYTES_IN_FLIGHT = 8 * 1024 * 1024;
const SQL_PAGE = 10_000;
const MAX_REQUEST_BYTES = 500 * 1024;
const BODY_TIMEOUT_MS = 1500;
const HEADERS_TIMEOUT_MS = 2000;

let balise: BaliseProcess;
let port: number;

beforeAll(async () => {
  port = await freePort();
  balise = await startBaliseProcess('up', tempDir(), port, {
    BALISE_MAX_BYTES_IN_FLIGHT: String(MAX_BYTES_IN_FLIGHT),
    BALISE_MAX_REQUESTS_IN_FLIGHT: '64',
    BALISE_MAX_EVENT_LOOP_DELAY_MS: '100',
    BALISE_MAX_REQUEST_WAIT_MS: '2000',
    BALISE_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
    BALISE_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
  });
});

afterAll(async () => {
  if (balise && balise.child.exitCode === null) {
    balise.child.kill('SIGTERM');
    await balise.exited;
  }
});

interface RawAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: string;
}

/** One request written byte for byte on a fresh socket; the answer as received. */
function rawRequest(body: Buffer, extraHeaders: string[] = []): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const head = [
      `POST /v1/batch HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      `Authorization: ${TEST_WRITE_AUTH}`,
      'Content-Type: application/json',
      `Content-Length: ${body.length}`,
      'Connection: close',
      ...extraHeaders,
      '',
      '',
    ].join('\r\n');
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (data = Buffer.concat([data, chunk])));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = data.toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const headers = text.slice(0, split);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0);
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text.slice(split + 4)) as Record<string, unknown>;
      } catch {
        parsed = { raw: text.slice(split + 4) };
      }
      resolve({ status, body: parsed, headers });
    });
    // write, not end: a half-closed client may see its connection closed before a slow (gzip)
    // answer; the server closes it after answering (Connection: close).
    socket.write(Buffer.concat([Buffer.from(head), body]));
  });
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${balise.baseUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name) && !line.startsWith('#'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

async function expectAnswering(): Promise<void> {
  expect((await fetch(`${balise.baseUrl}/health`)).status).toBe(200);
  expect((await fetch(`${balise.baseUrl}/ready`)).status).toBe(200);
}

/** Every acknowledged batch has all its events, each stored once (checked per batch). */
async function expectExactlyOnce(prefix: string, acknowledged: number[], batchSize: number): Promise<void> {
  expect(new Set(acknowledged).size).toBe(acknowledged.length);
  // In pages: the SQL API answers at most 10,000 rows, and a flood acknowledges more batches than that.
  const stored = async () => {
    const batches = new Map<number, { total: number; distinct: number }>();
    for (let offset = 0; ; offset += SQL_PAGE) {
      const page = await sqlViaApi(
        balise.baseUrl,
        `SELECT splitByChar('-', message_id)[2] AS b, count() AS n, uniqExact(message_id) AS d FROM events WHERE startsWith(message_id, '${prefix}-') GROUP BY b ORDER BY b LIMIT ${SQL_PAGE} OFFSET ${offset}`,
      );
      for (const r of page) batches.set(Number(r[0]), { total: Number(r[1]), distinct: Number(r[2]) });
      if (page.length < SQL_PAGE) return batches;
    }
  };
  const deadline = Date.now() + 60_000;
  let rows = await stored();
  const missing = () => acknowledged.filter((b) => (rows.get(b)?.distinct ?? 0) < batchSize);
  while (missing().length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    rows = await stored();
  }
  expect(missing()).toEqual([]);
  expect([...rows].filter(([, s]) => s.total !== s.distinct)).toEqual([]);
}

/** Polls /health and /metrics while `during` runs; returns the polls that failed or took over `limitMs`. */
async function pollWhile<T>(during: Promise<T>, limitMs: number): Promise<{ result: T; polls: number; failures: string[]; maxBytesInFlight: number }> {
  let done = false;
  const failures: string[] = [];
  let polls = 0;
  let maxBytesInFlight = 0;
  const poller = (async () => {
    while (!done) {
      for (const path of ['/health', '/metrics']) {
        const started = Date.now();
        try {
          const res = await fetch(`${balise.baseUrl}${path}`, { signal: AbortSignal.timeout(limitMs) });
          const text = await res.text();
          if (res.status !== 200) failures.push(`${path}: ${res.status}`);
          if (path === '/metrics') {
            const line = text.split('\n').find((l) => l.startsWith('balise_ingest_bytes_in_flight '));
            maxBytesInFlight = Math.max(maxBytesInFlight, Number(line?.split(' ')[1] ?? 0));
          }
        } catch (error) {
          failures.push(`${path}: ${(error as Error).name} after ${Date.now() - started} ms`);
        }
        polls++;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const result = await during;
  done = true;
  await poller;
  return { result, polls, failures, maxBytesInFlight };
}

describe('odd bytes', () => {
  it('refuses invalid UTF-8 anywhere with 400 invalid_utf8 and quarantines ids with lone surrogates: nothing collides', async () => {
    const before = await metric('balise_duplicates_dropped_total');
    const event = (id: string) => `{"type":"track","event":"odd_bytes","userId":"u","messageId":"${id}"}`;
    const invalid = [
      Buffer.concat([Buffer.from(`{"batch":[${event('coll-')}`.slice(0, -2)), Buffer.from([0xff]), Buffer.from('"}]}')]),
      Buffer.concat([Buffer.from(`{"batch":[${event('coll-')}`.slice(0, -2)), Buffer.from([0xfe]), Buffer.from('"}]}')]),
      // An overlong "/", a truncated euro sign, a lone continuation byte, in a property value.
      Buffer.concat([Buffer.from('{"batch":[{"type":"track","event":"odd_bytes","userId":"u","messageId":"coll-p1","properties":{"v":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}}]}')]),
      Buffer.concat([Buffer.from('{"batch":[{"type":"track","event":"odd_bytes","userId":"u","messageId":"coll-p2","properties":{"v":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}}]}')]),
      Buffer.concat([Buffer.from('{"batch":[{"type":"track","event":"odd_bytes","userId":"u","messageId":"coll-p3","properties":{"v":"'), Buffer.from([0x80]), Buffer.from('"}}]}')]),
    ];
    for (const body of invalid) {
      const answer = await rawRequest(body);
      expect([answer.status, answer.body.code]).toEqual([400, 'invalid_utf8']);
    }
    const gzipped = await rawRequest(gzipSync(invalid[0]!), ['Content-Encoding: gzip']);
    expect([gzipped.status, gzipped.body.code]).toEqual([400, 'invalid_utf8']);

    // Lone surrogates are valid JSON escapes but not Unicode: each such event gets its own verdict.
    const mixed = Buffer.from(
      `{"batch":[${event('coll-\\ud800')},${event('coll-\\udbff')},${event('coll-ok-1')},{"type":"track","event":"odd_bytes","userId":"u","messageId":"coll-ok-2","properties":{"constructor":"Acme Builders"}}]}`,
    );
    const answer = await rawRequest(mixed);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ success: true, accepted: 2, quarantined: 2 });
    const results = answer.body.results as { messageId: string; status: string; code?: string }[];
    expect(results.map((r) => [r.status, r.code ?? ''])).toEqual([
      ['quarantined', 'invalid_id'],
      ['quarantined', 'invalid_id'],
      ['accepted', ''],
      ['accepted', ''],
    ]);
    expect(results[0]!.messageId).toBe('coll-\ud800');

    const deadline = Date.now() + 20_000;
    let stored: unknown[][] = [];
    let quarantined: unknown[][] = [];
    while (Date.now() < deadline) {
      stored = await sqlViaApi(balise.baseUrl, `SELECT message_id, JSONExtractString(properties, 'constructor') FROM events WHERE startsWith(message_id, 'coll-') ORDER BY message_id`);
      quarantined = await sqlViaApi(balise.baseUrl, `SELECT reasons FROM quarantine WHERE event = 'odd_bytes'`);
      if (stored.length >= 2 && quarantined.length >= 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(stored).toEqual([
      ['coll-ok-1', ''],
      ['coll-ok-2', 'Acme Builders'],
    ]);
    expect(quarantined).toEqual([[['malformed:invalid_id']], [['malformed:invalid_id']]]);
    expect(await metric('balise_duplicates_dropped_total')).toBe(before);
    await expectAnswering();
  });
});

describe('slow senders', () => {
  it('answers 408 body_timeout (or 429 when the budget is full) and closes every slow connection; others get through afterwards', { timeout: 60_000 }, async () => {
    const SLOW = 150;
    const outcomes = await pollWhile(
      Promise.all(
        Array.from({ length: SLOW }, (_, i) => {
          const headersOnly = i % 5 === 0;
          return new Promise<{ status: number; closedAfterMs: number }>((resolve) => {
            const opened = Date.now();
            const socket = net.connect(port, '127.0.0.1');
            let data = '';
            let timer: NodeJS.Timeout | undefined;
            socket.on('data', (c: Buffer) => (data += c.toString()));
            socket.on('error', () => undefined);
            socket.on('close', () => {
              clearInterval(timer);
              resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), closedAfterMs: Date.now() - opened });
            });
            if (headersOnly) {
              // Headers that never end (slowloris).
              socket.write(`POST /v1/batch HTTP/1.1\r\nHost: x\r\n`);
              timer = setInterval(() => socket.write(`X-Slow: ${i}\r\n`), 300);
            } else {
              socket.write(`POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: ${TEST_WRITE_AUTH}\r\nContent-Type: application/json\r\nContent-Length: 400000\r\n\r\n{"batch":[`);
              timer = setInterval(() => socket.write(' '), 200);
            }
            // Bounded: a connection still open after 15 s is a failure, reported as status -1.
            setTimeout(() => {
              if (!socket.destroyed) {
                socket.destroy();
                resolve({ status: -1, closedAfterMs: Date.now() - opened });
              }
            }, 15_000).unref();
          });
        }),
      ),
      5000,
    );
    const statuses = outcomes.result.map((o) => o.status);
    expect(statuses.filter((s) => s === -1)).toEqual([]);
    const bodies = statuses.filter((_, i) => i % 5 !== 0);
    expect(bodies.every((s) => s === 408 || s === 429)).toBe(true);
    expect(bodies.filter((s) => s === 408).length).toBeGreaterThan(0);
    // The byte budget held while they trickled: 8 MiB, plus the one request always let through.
    expect(outcomes.maxBytesInFlight).toBeLessThanOrEqual(MAX_BYTES_IN_FLIGHT + MAX_REQUEST_BYTES);
    expect(outcomes.failures).toEqual([]);

    const after = await floodFromChild({
      url: balise.baseUrl,
      writeKey: TEST_WRITE_KEY,
      prefix: 'slowafter',
      connections: 4,
      requestsPerSecond: 20,
      durationMs: 1000,
      batchSize: 10,
      clientTimeoutMs: 10_000,
    });
    expect(after.acknowledged.length).toBeGreaterThan(0);
    await expectExactlyOnce('slowafter', after.acknowledged, 10);
    await expectAnswering();
  });
});

describe('large bodies at once', () => {
  it('bounds the bytes in flight, refuses the excess with 429 too_many_bytes and Retry-After, and stores every acknowledged batch once', { timeout: 90_000 }, async () => {
    // ~450 KB per request, 80 at once: ~36 MB offered against an 8 MiB budget.
    const run = await pollWhile(
      floodFromChild({
        url: balise.baseUrl,
        writeKey: TEST_WRITE_KEY,
        prefix: 'big',
        connections: 80,
        requestsPerSecond: 400,
        durationMs: 6000,
        batchSize: 100,
        padding: 4400,
        clientTimeoutMs: 20_000,
        retryDelayMs: 300,
      }),
      5000,
    );
    const flood: FloodResult = run.result;
    expect(flood.statuses['429'] ?? 0).toBeGreaterThan(0);
    expect(flood.withoutRetryAfter).toBe(0);
    expect(flood.acknowledged.length).toBeGreaterThan(0);
    expect(run.maxBytesInFlight).toBeLessThanOrEqual(MAX_BYTES_IN_FLIGHT + MAX_REQUEST_BYTES);
    expect(run.failures).toEqual([]);
    await expectExactlyOnce('big', flood.acknowledged, 100);
    await expectAnswering();
  });
});

describe('a flood from many connections', () => {
  it('sheds with 429/503 and Retry-After, keeps /health and /metrics answering, and stores every acknowledged event once', { timeout: 120_000 }, async () => {
    const run = await pollWhile(
      floodFromChild({ url: balise.baseUrl, writeKey: TEST_WRITE_KEY, prefix: 'flood', connections: 400, requestsPerSecond: 1500, durationMs: 8000, batchSize: 50, clientTimeoutMs: 10_000 }),
      5000,
    );
    const flood = run.result;
    const refused = (flood.statuses['429'] ?? 0) + (flood.statuses['503'] ?? 0);
    expect(refused).toBeGreaterThan(0);
    expect(flood.withoutRetryAfter).toBe(0);
    expect(flood.acknowledged.length).toBeGreaterThan(0);
    expect(run.failures).toEqual([]);
    await expectExactlyOnce('flood', flood.acknowledged, 50);
    await expectAnswering();
  });
});
