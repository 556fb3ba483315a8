/**
 * Flood bench: `balise up` (shipped settings, shipped load-shedding limits) as its own process;
 * the load comes from a child process over many real connections, behaving like an SDK (a batch
 * keeps its messageIds, is resent after 429/503, a client timeout or an error).
 *
 * Phase 1 (capacity): a few connections, closed loop: acknowledged events/s, p99 of accepted
 *   requests, RSS peak. This is the unflooded capacity of the same run.
 * Phase 2 (flood): open loop at FLOOD_FACTOR × that capacity (4× by default) over many
 *   connections: goodput (acknowledged events/s), p99 of accepted requests, RSS peak, the
 *   slowest /health and /metrics answer, and events processed twice (duplicates the worker
 *   dropped: clients that timed out and resent what had been queued).
 * Every figure is a ratio to phase 1. Afterwards every acknowledged event is checked stored once.
 */
import { performance } from 'node:perf_hooks';
import { floodFromChild, type FloodOptions, type FloodResult } from '../tests/helpers/flood-client.ts';
import { freePort, sqlViaApi, startBaliseProcess, TEST_WRITE_KEY } from '../tests/helpers/process.ts';
import { tempDir } from '../tests/helpers/stack.ts';
import { percentile, printResult, round, shippedWorkerSettings } from './lib.ts';
import { baliseRssKiB } from './proc.ts';

const BATCH = 50;
const CAPACITY_SECONDS = Number(process.env.FLOOD_CAPACITY_SECONDS ?? 10);
const FLOOD_SECONDS = Number(process.env.FLOOD_SECONDS ?? 15);
const FACTOR = Number(process.env.FLOOD_FACTOR ?? 4);
const CONNECTIONS = Number(process.env.FLOOD_CONNECTIONS ?? 1000);
/** Segment's and RudderStack's Node SDKs give up on a request after 10 s. */
const CLIENT_TIMEOUT_MS = 10_000;

interface Phase {
  flood: FloodResult;
  goodput: number;
  p99: number;
  rssPeakMiB: number;
  slowestProbeMs: number;
  probeFailures: number;
}

async function metricValue(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** Runs one load phase while sampling the server's RSS and timing /health and /metrics. */
async function phase(pid: number, baseUrl: string, options: FloodOptions): Promise<Phase> {
  let done = false;
  let rssPeak = baliseRssKiB(pid);
  let slowestProbeMs = 0;
  let probeFailures = 0;
  const sampler = (async () => {
    while (!done) {
      rssPeak = Math.max(rssPeak, baliseRssKiB(pid));
      for (const path of ['/health', '/metrics']) {
        const started = performance.now();
        try {
          const res = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(30_000) });
          await res.arrayBuffer();
          if (!res.ok) probeFailures++;
        } catch {
          probeFailures++;
        }
        slowestProbeMs = Math.max(slowestProbeMs, performance.now() - started);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const flood = await floodFromChild(options);
  done = true;
  await sampler;
  const latencies = [...flood.latencies].sort((a, b) => a - b);
  return { flood, goodput: (flood.acknowledged.length * options.batchSize) / flood.seconds, p99: percentile(latencies, 99), rssPeakMiB: rssPeak / 1024, slowestProbeMs, probeFailures };
}

async function main() {
  const port = await freePort();
  const server = await startBaliseProcess(
    'up',
    tempDir('balise-bench-flood-'),
    port,
    { ...shippedWorkerSettings(), LOG_LEVEL: 'error' },
    (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  );
  const pid = server.child.pid!;
  const base: Omit<FloodOptions, 'prefix' | 'connections' | 'requestsPerSecond' | 'durationMs'> = {
    url: server.baseUrl,
    writeKey: TEST_WRITE_KEY,
    batchSize: BATCH,
    clientTimeoutMs: CLIENT_TIMEOUT_MS,
  };
  try {
    const capacity = await phase(pid, server.baseUrl, { ...base, prefix: 'cap', connections: 16, requestsPerSecond: 100_000, durationMs: CAPACITY_SECONDS * 1000 });
    const duplicatesBefore = await metricValue(server.baseUrl, 'balise_duplicates_dropped_total');
    const offered = (capacity.goodput * FACTOR) / BATCH;
    const flood = await phase(pid, server.baseUrl, { ...base, prefix: 'flood', connections: CONNECTIONS, requestsPerSecond: offered, durationMs: FLOOD_SECONDS * 1000 });

    // Everything acknowledged is loaded before duplicates are read: the worker drops them at insert.
    const acknowledged = flood.flood.acknowledged.length * BATCH;
    const deadline = Date.now() + 180_000;
    let stored = { total: 0, distinct: 0 };
    while (Date.now() < deadline) {
      const [[total, distinct] = [0, 0]] = await sqlViaApi(server.baseUrl, `SELECT count(), uniqExact(message_id) FROM events WHERE startsWith(message_id, 'flood-')`);
      stored = { total: Number(total), distinct: Number(distinct) };
      if (stored.distinct >= acknowledged) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const processedTwice = (await metricValue(server.baseUrl, 'balise_duplicates_dropped_total')) - duplicatesBefore;
    const refused = (flood.flood.statuses['429'] ?? 0) + (flood.flood.statuses['503'] ?? 0);

    console.log(`capacity (16 connections, closed loop): ${Math.round(capacity.goodput)} events/s acknowledged, p99 ${round(capacity.p99)} ms, RSS peak ${Math.round(capacity.rssPeakMiB)} MiB`);
    console.log(
      `flood (${FACTOR}× = ${Math.round(offered * BATCH)} events/s offered over up to ${CONNECTIONS} connections, ${FLOOD_SECONDS} s): goodput ${Math.round(flood.goodput)} events/s, p99 of accepted ${round(flood.p99)} ms, RSS peak ${Math.round(flood.rssPeakMiB)} MiB; answers ${JSON.stringify(flood.flood.statuses)}, client timeouts ${flood.flood.timeouts}, errors ${flood.flood.errors}; slowest /health or /metrics ${Math.round(flood.slowestProbeMs)} ms (${flood.probeFailures} failed); the load generator's own event loop was late by up to ${Math.round(flood.flood.clientLoopDelayMaxMs)} ms (${Math.round(capacity.flood.clientLoopDelayMaxMs)} ms unflooded)`,
    );
    console.log(
      `after the flood: ${stored.distinct} of ${acknowledged} acknowledged events stored, ${stored.total - stored.distinct} stored twice; ${processedTwice} processed twice (duplicates dropped)`,
    );
    printResult('flood', [
      {
        name: `goodput under a ${FACTOR}× flood`,
        value: Math.round(flood.goodput),
        unit: 'events/s',
        baseline: { name: 'unflooded capacity', value: Math.round(capacity.goodput), unit: 'events/s' },
        ratio: round(flood.goodput / capacity.goodput, 2),
        target: '≥ 0.8 (ratio)',
      },
      {
        name: 'p99 of accepted requests, flood',
        value: round(flood.p99),
        unit: 'ms',
        baseline: { name: 'p99 unflooded', value: round(capacity.p99), unit: 'ms' },
        ratio: round(flood.p99 / capacity.p99, 2),
        target: `≤ ${CLIENT_TIMEOUT_MS / 10} ms`,
      },
      {
        name: 'RSS peak, flood',
        value: Math.round(flood.rssPeakMiB),
        unit: 'MiB',
        baseline: { name: 'RSS peak unflooded', value: Math.round(capacity.rssPeakMiB), unit: 'MiB' },
        ratio: round(flood.rssPeakMiB / capacity.rssPeakMiB, 2),
      },
      {
        name: 'events processed twice, flood',
        value: processedTwice,
        unit: 'events',
        baseline: { name: 'events acknowledged', value: acknowledged, unit: 'events' },
        ratio: round(processedTwice / Math.max(1, acknowledged), 4),
        target: '≤ 0 events',
      },
      {
        name: 'requests refused (429/503), flood',
        value: refused,
        unit: 'requests',
        baseline: { name: 'requests acknowledged', value: flood.flood.acknowledged.length, unit: 'requests' },
        ratio: round(refused / Math.max(1, flood.flood.acknowledged.length), 2),
      },
      {
        name: 'slowest /health or /metrics, flood',
        value: Math.round(flood.slowestProbeMs),
        unit: 'ms',
        baseline: { name: 'unflooded', value: Math.round(capacity.slowestProbeMs), unit: 'ms' },
        ratio: round(flood.slowestProbeMs / Math.max(1, capacity.slowestProbeMs), 1),
        target: '≤ 1,000 ms',
      },
      // A starved load generator sees timeouts of its own: a server stall and a client stall look alike from the client.
      {
        name: "load generator's event-loop delay, flood",
        value: Math.round(flood.flood.clientLoopDelayMaxMs),
        unit: 'ms',
        baseline: { name: 'unflooded', value: Math.round(capacity.flood.clientLoopDelayMaxMs), unit: 'ms' },
        ratio: round(flood.flood.clientLoopDelayMaxMs / Math.max(1, capacity.flood.clientLoopDelayMaxMs), 1),
      },
      { name: 'acknowledged events not stored once', value: acknowledged - stored.distinct + (stored.total - stored.distinct), unit: 'events', target: '≤ 0 events' },
    ]);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

await main();
