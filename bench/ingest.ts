/**
 * End-to-end ingest bench: `balise up` runs as its own process (API + worker + Redis + chDB);
 * this process generates load over HTTP and polls ClickHouse through the SQL API.
 *
 * Phase 1 (sustained): N events in batches of 100 (~500 B each) as fast as the API takes them;
 *   throughput = N / (first send → all N queryable).
 * Phase 2 (half load): paced at half the phase-1 rate: request latency p50/p99, and freshness
 *   (send → queryable) of probe events, p50/p95.
 * Baselines, same run, same machine: JSON.parse of the same request bodies; one raw ClickHouse
 * insert of the same rows into the same schema (embedded chDB in this process).
 */
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { freePort, sqlViaApi, startBaliseProcess, TEST_WRITE_KEY } from '../tests/helpers/process.ts';
import { tempDir } from '../tests/helpers/stack.ts';
import { openWarehouse } from '../src/warehouse/client.ts';
import { migrate } from '../src/warehouse/migrations.ts';
import { insertJsonLines } from '../src/warehouse/insert.ts';
import { processEvents } from '../src/ingest/process.ts';
import { loadPlanValidator } from '../src/plan/compile.ts';
import { percentile, printResult, round, shippedWorkerSettings } from './lib.ts';
import { cpuMs, redisChildPid } from './proc.ts';

const TOTAL = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const BATCH = 100;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 24);
const HALF_LOAD_SECONDS = Number(process.env.BENCH_HALF_SECONDS ?? 10);
const CATEGORIES = ['fullstack', 'front', 'back', 'devops', 'mobile', 'data_science', 'data_engineering', 'bi', 'big_data', 'web_analytics'];

function makeBody(prefix: string, b: number): string {
  const now = new Date().toISOString();
  const batch = [];
  for (let i = 0; i < BATCH; i++) {
    batch.push({
      type: 'track',
      event: 'mission_proposal_received',
      messageId: `${prefix}-${b}-${i}`,
      userId: `fr_${(b * 7 + i) % 50_000}`,
      timestamp: now,
      properties: { mission_id: `msn_${b % 10_000}`, freelancer_id: `fr_${(b * 7 + i) % 50_000}`, category: CATEGORIES[i % 10], match_score: (i % 100) / 100 },
      context: {
        library: { name: 'balise-sdk', version: '0.1.0' },
        page: { path: '/missions/proposals', url: 'https://app.example.com/missions/proposals?utm_source=newsletter' },
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
        locale: 'fr-FR',
        timezone: 'Europe/Paris',
      },
    });
  }
  return JSON.stringify({ batch, sentAt: now });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const auth = `Basic ${Buffer.from(`${TEST_WRITE_KEY}:`).toString('base64')}`;

function send(port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/batch', method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: auth, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends until accepted (429/503 are retried after a short pause, as an SDK would). */
async function sendAccepted(port: number, body: string): Promise<void> {
  for (;;) {
    const status = await send(port, body);
    if (status === 200) return;
    if (status !== 429 && status !== 503) throw new Error(`unexpected status ${status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function countEvents(baseUrl: string, prefix: string): Promise<number> {
  const [[n] = [0]] = await sqlViaApi(baseUrl, `SELECT count() FROM events WHERE startsWith(message_id, '${prefix}-')`);
  return Number(n);
}

async function main() {
  // Baseline 1: JSON.parse of request bodies like the ones sent.
  const sample = Array.from({ length: 200 }, (_, b) => makeBody('parse', b));
  const bytesPerEvent = Buffer.byteLength(sample[0]!) / BATCH;
  let parsed = 0;
  const parseStart = performance.now();
  while (performance.now() - parseStart < 2000) for (const body of sample) parsed += (JSON.parse(body) as { batch: unknown[] }).batch.length;
  const parseRate = parsed / ((performance.now() - parseStart) / 1000);

  // Baseline 2: one raw ClickHouse insert of the same rows into the same schema, this process.
  const validator = await loadPlanValidator(new URL('../tracking-plan', import.meta.url).pathname);
  const rawDir = tempDir('balise-bench-raw-');
  const raw = await openWarehouse({ clickhouse: { url: undefined, user: 'default', password: '', database: 'balise', cluster: undefined }, dataDir: rawDir });
  await migrate(raw);
  const rawRows = 200_000;
  const lines: string[] = [];
  for (let b = 0; b < rawRows / BATCH; b++) {
    const body = JSON.parse(makeBody('raw', b)) as { batch: unknown[] };
    lines.push(...processEvents(body.batch, validator, { receivedAt: Date.now(), source: 'bench', maxEventBytes: 32_768, piiKey: 'bench-pii-key' }).job.events);
  }
  const insertStart = performance.now();
  await insertJsonLines(raw, 'events', lines);
  const rawInsertRate = rawRows / ((performance.now() - insertStart) / 1000);
  await raw.close();

  const port = await freePort();
  const dataDir = tempDir('balise-bench-');
  const server = await startBaliseProcess('up', dataDir, port, { ...shippedWorkerSettings(), BALISE_MAX_QUEUE_DEPTH: '100000', LOG_LEVEL: 'error' });
  try {
    // Phase 1: sustained. Bodies are built beforehand so the load generator, which shares the
    // two cores with Balise, spends the measured time sending, not serialising.
    const batches = Math.ceil(TOTAL / BATCH);
    const bodies = Array.from({ length: batches }, (_, b) => makeBody('sus', b));
    // CPU time of every party during phase 1: what a 2-core box spends per event, and where.
    const serverPid = server.child.pid!;
    const redisPid = redisChildPid(serverPid);
    const cpuBefore = { server: cpuMs(serverPid), redis: redisPid ? cpuMs(redisPid) : 0, generator: process.cpuUsage() };
    let next = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < batches) await sendAccepted(port, bodies[next++]!);
      }),
    );
    bodies.length = 0;
    const sentSeconds = (performance.now() - start) / 1000;
    while ((await countEvents(server.baseUrl, 'sus')) < batches * BATCH) await new Promise((r) => setTimeout(r, 100));
    const e2eSeconds = (performance.now() - start) / 1000;
    const generatorCpu = process.cpuUsage(cpuBefore.generator);
    const events = batches * BATCH;
    const cpuPerEventUs = {
      server: ((cpuMs(serverPid) - cpuBefore.server) * 1000) / events,
      redis: redisPid ? ((cpuMs(redisPid) - cpuBefore.redis) * 1000) / events : 0,
      generator: (generatorCpu.user + generatorCpu.system) / events,
    };
    const cpuPerEventTotal = cpuPerEventUs.server + cpuPerEventUs.redis + cpuPerEventUs.generator;
    const rawInsertCpuUs = 1e6 / rawInsertRate;
    const e2eRate = (batches * BATCH) / e2eSeconds;
    const acceptRate = (batches * BATCH) / sentSeconds;

    // Phase 2: half load, paced; latency and freshness.
    const targetRequestsPerSecond = e2eRate / 2 / BATCH;
    const latencies: number[] = [];
    const probes = new Map<string, number>();
    const freshness: number[] = [];
    let stop = false;
    const poller = (async () => {
      while (!stop || probes.size) {
        const pending = [...probes.keys()];
        if (pending.length) {
          const found = await sqlViaApi(server.baseUrl, `SELECT DISTINCT message_id FROM events WHERE message_id IN (${pending.map((p) => `'${p}'`).join(',')})`);
          const now = performance.now();
          for (const [id] of found) {
            const sentAt = probes.get(String(id));
            if (sentAt !== undefined) {
              freshness.push(now - sentAt);
              probes.delete(String(id));
            }
          }
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const halfStart = performance.now();
    let sentRequests = 0;
    const inflight: Promise<void>[] = [];
    while (performance.now() - halfStart < HALF_LOAD_SECONDS * 1000) {
      const due = Math.floor(((performance.now() - halfStart) / 1000) * targetRequestsPerSecond);
      while (sentRequests < due) {
        const n = sentRequests++;
        const body = makeBody('half', n);
        const probeId = `half-${n}-0`;
        inflight.push(
          (async () => {
            const t0 = performance.now();
            await sendAccepted(port, body);
            latencies.push(performance.now() - t0);
            if (n % 10 === 0) probes.set(probeId, t0);
          })(),
        );
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(inflight);
    stop = true;
    await poller;
    latencies.sort((a, b) => a - b);
    freshness.sort((a, b) => a - b);

    const halfRate = (sentRequests * BATCH) / HALF_LOAD_SECONDS;
    console.log(`events: ${batches * BATCH} of ~${Math.round(bytesPerEvent)} B, batches of ${BATCH}, concurrency ${CONCURRENCY}`);
    console.log(`sustained end to end: ${Math.round(e2eRate)} events/s (accepted by the API at ${Math.round(acceptRate)} events/s)`);
    console.log(`half load (${Math.round(halfRate)} events/s): request p50 ${round(percentile(latencies, 50))} ms, p99 ${round(percentile(latencies, 99))} ms; freshness p50 ${round(percentile(freshness, 50))} ms, p95 ${round(percentile(freshness, 95))} ms (${freshness.length} probes)`);
    console.log(`CPU per event (phase 1): balise ${round(cpuPerEventUs.server)} µs (API, worker and chDB), redis-server ${round(cpuPerEventUs.redis)} µs, load generator ${round(cpuPerEventUs.generator)} µs; ${os.availableParallelism()} cores allow ${round((os.availableParallelism() * 1e6) / 100_000)} µs per event at 100,000 events/s`);
    console.log(`baselines: JSON.parse ${Math.round(parseRate)} events/s; raw ClickHouse insert ${Math.round(rawInsertRate)} rows/s`);
    printResult('ingest', [
      { name: 'sustained end-to-end throughput', value: Math.round(e2eRate), unit: 'events/s', baseline: { name: 'JSON.parse of the same bodies', value: Math.round(parseRate), unit: 'events/s' }, ratio: round(e2eRate / parseRate, 3), target: '≥ 100,000 events/s' },
      { name: 'sustained end-to-end throughput vs raw insert', value: Math.round(e2eRate), unit: 'events/s', baseline: { name: 'one raw ClickHouse insert of the same rows', value: Math.round(rawInsertRate), unit: 'rows/s' }, ratio: round(e2eRate / rawInsertRate, 3) },
      { name: 'API accept rate (to Redis)', value: Math.round(acceptRate), unit: 'events/s', baseline: { name: 'JSON.parse', value: Math.round(parseRate), unit: 'events/s' }, ratio: round(acceptRate / parseRate, 3) },
      { name: 'CPU per event, balise process (API + worker + chDB)', value: round(cpuPerEventUs.server), unit: 'µs', baseline: { name: 'one raw ClickHouse insert, per row', value: round(rawInsertCpuUs), unit: 'µs' }, ratio: round(cpuPerEventUs.server / rawInsertCpuUs, 2) },
      { name: 'CPU per event, redis-server', value: round(cpuPerEventUs.redis), unit: 'µs' },
      { name: 'CPU per event, all parties (budget at 100k events/s)', value: round(cpuPerEventTotal), unit: 'µs', target: `≤ ${round((os.availableParallelism() * 1e6) / 100_000)} µs` },
      { name: 'request latency p50 at half load', value: round(percentile(latencies, 50)), unit: 'ms' },
      { name: 'request latency p99 at half load', value: round(percentile(latencies, 99)), unit: 'ms', target: '≤ 20 ms' },
      { name: 'freshness p50 (send → queryable)', value: round(percentile(freshness, 50)), unit: 'ms' },
      { name: 'freshness p95 (send → queryable)', value: round(percentile(freshness, 95)), unit: 'ms', target: '≤ 2,000 ms' },
    ]);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    agent.destroy();
  }
}

await main();
