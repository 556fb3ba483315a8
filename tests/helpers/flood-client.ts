/**
 * A flood of real HTTP clients, run as its own process (`node --import tsx flood-client.ts`,
 * options as JSON in FLOOD_OPTIONS) so that it loads the server from outside, over many real
 * connections. It behaves like an SDK: each batch keeps its messageIds until acknowledged, and
 * is resent after a refusal (429/503, after a short back-off), a client timeout or a network
 * error. Prints one JSON line (FloodResult) when done.
 *
 * Open loop: new batches start at `requestsPerSecond` whatever the answers, up to `connections`
 * at once, so an overloaded server sees the offered load, not a politely slowed one.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface FloodOptions {
  url: string;
  writeKey: string;
  prefix: string;
  connections: number;
  requestsPerSecond: number;
  durationMs: number;
  batchSize: number;
  /** Bytes of padding per event (a property), to make large bodies. */
  padding?: number;
  clientTimeoutMs: number;
  /** Back-off after a refusal or error before the batch is resent. */
  retryDelayMs?: number;
}

export interface FloodResult {
  /** Batch numbers acknowledged (200); event ids are `${prefix}-${batch}-${i}`. */
  acknowledged: number[];
  /** Latency of every acknowledged attempt, ms. */
  latencies: number[];
  statuses: Record<string, number>;
  /** Refusals (429/503) that came without Retry-After. */
  withoutRetryAfter: number;
  timeouts: number;
  errors: number;
  /** Batches sent again after a client timeout: what would make a duplicate. */
  resentAfterTimeout: number;
  seconds: number;
  /** The largest delay of this client's own event loop, ms: a starved client sees timeouts of its own. */
  clientLoopDelayMaxMs: number;
}

function makeBody(o: FloodOptions, batch: number): Buffer {
  const pad = o.padding ? 'x'.repeat(o.padding) : undefined;
  const events = [];
  for (let i = 0; i < o.batchSize; i++) {
    events.push({
      type: 'track',
      event: 'flood_test',
      userId: `u${(batch * 7 + i) % 1000}`,
      messageId: `${o.prefix}-${batch}-${i}`,
      properties: pad ? { i, pad } : { i, mission_id: `msn_${batch % 100}` },
    });
  }
  return Buffer.from(JSON.stringify({ batch: events, sentAt: new Date().toISOString() }));
}

export async function flood(o: FloodOptions): Promise<FloodResult> {
  const target = new URL('/v1/batch', o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const auth = `Basic ${Buffer.from(`${o.writeKey}:`).toString('base64')}`;
  const result: FloodResult = { acknowledged: [], latencies: [], statuses: {}, withoutRetryAfter: 0, timeouts: 0, errors: 0, resentAfterTimeout: 0, seconds: 0, clientLoopDelayMaxMs: 0 };
  let tick = performance.now();
  const loopProbe = setInterval(() => {
    const now = performance.now();
    result.clientLoopDelayMaxMs = Math.max(result.clientLoopDelayMaxMs, now - tick - 50);
    tick = now;
  }, 50);
  const retryDelay = o.retryDelayMs ?? 200;

  const attempt = (body: Buffer): Promise<{ status: number; retryAfter: boolean } | 'timeout' | 'error'> =>
    new Promise((resolve) => {
      const req = http.request(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: auth, 'content-length': body.length } },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] !== undefined }));
          res.on('error', () => resolve('error'));
        },
      );
      req.setTimeout(o.clientTimeoutMs, () => {
        req.destroy();
        resolve('timeout');
      });
      req.on('error', () => resolve('error'));
      req.end(body);
    });

  /** One batch, resent until acknowledged or the flood is over. */
  const deliver = async (batch: number, stopAt: number) => {
    const body = makeBody(o, batch);
    let timedOut = false;
    while (performance.now() < stopAt) {
      if (timedOut) result.resentAfterTimeout++;
      const started = performance.now();
      const outcome = await attempt(body);
      if (outcome === 'timeout') {
        result.timeouts++;
        timedOut = true;
        continue;
      }
      if (outcome === 'error') {
        result.errors++;
        await new Promise((r) => setTimeout(r, retryDelay));
        continue;
      }
      result.statuses[outcome.status] = (result.statuses[outcome.status] ?? 0) + 1;
      if (outcome.status === 200) {
        result.acknowledged.push(batch);
        result.latencies.push(performance.now() - started);
        return;
      }
      if ((outcome.status === 429 || outcome.status === 503) && !outcome.retryAfter) result.withoutRetryAfter++;
      if (outcome.status !== 429 && outcome.status !== 503 && outcome.status !== 408) return;
      await new Promise((r) => setTimeout(r, retryDelay * (0.5 + Math.random())));
    }
  };

  const start = performance.now();
  const stopAt = start + o.durationMs;
  let started = 0;
  let active = 0;
  const running = new Set<Promise<void>>();
  while (performance.now() < stopAt) {
    const due = Math.floor(((performance.now() - start) / 1000) * o.requestsPerSecond);
    while (started < due && active < o.connections) {
      const batch = started++;
      active++;
      const p = deliver(batch, stopAt).finally(() => {
        active--;
        running.delete(p);
      });
      running.add(p);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(running);
  clearInterval(loopProbe);
  agent.destroy();
  result.seconds = (performance.now() - start) / 1000;
  return result;
}

if (process.env.FLOOD_OPTIONS) {
  const result = await flood(JSON.parse(process.env.FLOOD_OPTIONS) as FloodOptions);
  process.stdout.write(`FLOOD_RESULT ${JSON.stringify(result)}\n`);
}

/** Runs a flood from a child process (its own event loop and CPU time) and returns its result. */
export async function floodFromChild(o: FloodOptions): Promise<FloodResult> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname], {
    env: { ...process.env, FLOOD_OPTIONS: JSON.stringify(o) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = out.split('\n').find((l) => l.startsWith('FLOOD_RESULT '));
  if (!line) throw new Error(`flood client exited with ${code}: ${err.slice(-2000)}`);
  return JSON.parse(line.slice('FLOOD_RESULT '.length)) as FloodResult;
}
