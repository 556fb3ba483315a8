/**
 * Soak: a `balise up` process (API + worker + redis-server child + chDB) fed at a steady rate
 * for SOAK_SECONDS (default 600) at SOAK_RATE events/s (default 5000), in batches of 100.
 * Every 5 s the resident memory (VmRSS) of the server and of its redis-server child is sampled.
 * Verdict: the server's memory levels off when the mean of the last third of the samples is within
 * SOAK_MAX_GROWTH_PCT (default 10 %) of the mean of the middle third (the first third is warm-up:
 * chDB caches, JIT, connection pools). Redis is reported apart, with its growth per event
 * acknowledged: it holds no dedupe state (decision 0011), only the jobs on their way and BullMQ's
 * bookkeeping, so at a steady rate it should level off too. Not part of CI.
 *
 *   SOAK_SECONDS=60 node --import tsx bench/soak.ts
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { freePort, sqlViaApi, startBaliseProcess, TEST_WRITE_AUTH } from '../tests/helpers/process.ts';
import { tempDir } from '../tests/helpers/stack.ts';
import { printResult, round, shippedWorkerSettings } from './lib.ts';
import { encodeRequest, LoadClient } from './load-client.ts';
import { baliseRssKiB, redisChildPid, rssKiB } from './proc.ts';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 5000);
const MAX_GROWTH_PCT = Number(process.env.SOAK_MAX_GROWTH_PCT ?? 10);
const SAMPLE_MS = 5000;
const BATCH = 100;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Growth of the last third's mean over the middle third's, in %. */
function levelOff(samples: number[]): { middle: number; last: number; growthPct: number } {
  const third = Math.floor(samples.length / 3);
  const middle = mean(samples.slice(third, 2 * third));
  const last = mean(samples.slice(2 * third));
  return { middle, last, growthPct: middle > 0 ? ((last - middle) / middle) * 100 : 0 };
}

const headers = { 'Content-Type': 'application/json', Authorization: TEST_WRITE_AUTH };

/** The answer's status, or 0 when the connection failed (counted as refused, as a client that gives up). */
function send(client: LoadClient, body: string): Promise<number> {
  return client.send(encodeRequest('/v1/batch', headers, Buffer.from(body))).catch(() => 0);
}

function makeBody(b: number): string {
  const now = new Date().toISOString();
  const batch = Array.from({ length: BATCH }, (_, i) => ({
    type: 'track',
    event: 'mission_proposal_received',
    messageId: `soak-${b}-${i}`,
    userId: `fr_${(b * 7 + i) % 20_000}`,
    timestamp: now,
    properties: { mission_id: `msn_${b % 5000}`, freelancer_id: `fr_${(b * 7 + i) % 20_000}`, category: 'data_engineering', match_score: (i % 100) / 100 },
    context: { library: { name: 'balise-soak', version: '0' }, page: { path: '/missions' }, locale: 'fr-FR' },
  }));
  return JSON.stringify({ batch, sentAt: now });
}

async function main(): Promise<void> {
  const port = await freePort();
  const dataDir = tempDir('balise-soak-');
  const server = await startBaliseProcess('up', dataDir, port, { ...shippedWorkerSettings(), LOG_LEVEL: 'error', BALISE_MAX_QUEUE_DEPTH: '100000' });
  const pid = server.child.pid!;
  const client = new LoadClient(port, 64);
  const samples: { t: number; server: number; redis: number; total: number; sent: number; refused: number }[] = [];
  let sent = 0;
  let acknowledged = 0;
  let refused = 0;
  let inflight = 0;
  console.log(`soak: ${SECONDS} s at ${RATE} events/s against balise up (pid ${pid}), sampling RSS every ${SAMPLE_MS / 1000} s`);
  try {
    const start = performance.now();
    const sample = () => {
      const r = redisChildPid(pid);
      const s = baliseRssKiB(pid);
      const rr = r ? rssKiB(r) : 0;
      samples.push({ t: Math.round((performance.now() - start) / 1000), server: s, redis: rr, total: s + rr, sent: acknowledged, refused });
      const last = samples.at(-1)!;
      console.log(
        `  t=${String(last.t).padStart(4)} s  server ${(s / 1024).toFixed(0).padStart(5)} MiB  redis ${(rr / 1024).toFixed(0).padStart(4)} MiB  acknowledged ${acknowledged}  refused ${refused}`,
      );
    };
    sample();
    const sampler = setInterval(sample, SAMPLE_MS);
    const requestsPerSecond = RATE / BATCH;
    const pending = new Set<Promise<void>>();
    while (performance.now() - start < SECONDS * 1000) {
      const due = Math.floor(((performance.now() - start) / 1000) * requestsPerSecond);
      while (sent < due) {
        const b = sent++;
        // A client that cannot keep up is itself a finding; cap what is outstanding.
        if (inflight > 256) {
          refused++;
          continue;
        }
        inflight++;
        const p = send(client, makeBody(b)).then((status) => {
          inflight--;
          if (status === 200) acknowledged += BATCH;
          else refused++;
        });
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(pending);
    clearInterval(sampler);
    sample();
    const elapsed = (performance.now() - start) / 1000;

    // Everything acknowledged must be queryable once the queue drains.
    const deadline = Date.now() + 60_000;
    let stored = 0;
    for (;;) {
      const [[n] = [0]] = await sqlViaApi(server.baseUrl, `SELECT count() FROM events WHERE startsWith(message_id, 'soak-')`);
      stored = Number(n);
      if (stored >= acknowledged || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }

    const totals = samples.map((s) => s.total);
    const serverOnly = levelOff(samples.map((s) => s.server));
    const combined = levelOff(totals);
    const levelled = serverOnly.growthPct <= MAX_GROWTH_PCT;
    // Redis holds no state per event (decision 0011): past the warm-up it levels off as the server does.
    const redisOnly = levelOff(samples.map((x) => x.redis));
    const redisFirst = samples[0]!.redis;
    const redisLast = samples.at(-1)!.redis;
    const redisBytesPerEvent = acknowledged ? ((redisLast - redisFirst) * 1024) / acknowledged : 0;
    console.log(`achieved ${Math.round(acknowledged / elapsed)} events/s acknowledged (${refused} requests refused or skipped); stored ${stored} of ${acknowledged}`);
    console.log(
      `RSS server: first ${(samples[0]!.server / 1024).toFixed(0)} MiB, max ${(Math.max(...samples.map((x) => x.server)) / 1024).toFixed(0)} MiB, middle third ${(serverOnly.middle / 1024).toFixed(0)} MiB, last third ${(serverOnly.last / 1024).toFixed(0)} MiB`,
    );
    console.log(
      `RSS redis: ${(redisFirst / 1024).toFixed(0)} → ${(redisLast / 1024).toFixed(0)} MiB, ${redisBytesPerEvent.toFixed(1)} B per acknowledged event; last vs middle third ${redisOnly.growthPct.toFixed(1)} %`,
    );
    console.log(
      `verdict: server RSS growth, last vs middle third ${serverOnly.growthPct.toFixed(1)} % (server + redis ${combined.growthPct.toFixed(1)} %) → ${levelled ? 'LEVELS OFF' : `STILL GROWING (> ${MAX_GROWTH_PCT} %)`}`,
    );
    printResult('soak', [
      { name: `soak ${SECONDS} s: acknowledged rate`, value: Math.round(acknowledged / elapsed), unit: 'events/s', target: `${RATE} events/s steady` },
      { name: 'soak: stored / acknowledged', value: round(acknowledged ? stored / acknowledged : 0, 4), unit: 'ratio', target: '1' },
      {
        name: 'soak: server RSS, last third',
        value: round(serverOnly.last / 1024),
        unit: 'MiB',
        baseline: { name: 'middle third', value: round(serverOnly.middle / 1024), unit: 'MiB' },
        ratio: round(serverOnly.middle ? serverOnly.last / serverOnly.middle : 0, 3),
        target: `growth ≤ ${MAX_GROWTH_PCT} %`,
      },
      { name: 'soak: server RSS growth, last vs middle third', value: round(serverOnly.growthPct, 2), unit: '%', target: `≤ ${MAX_GROWTH_PCT} %` },
      { name: 'soak: server + redis RSS growth', value: round(combined.growthPct, 2), unit: '%' },
      // The first third also holds BullMQ's warm-up (its events stream fills to its 10,000-entry cap), as the server's does.
      { name: 'soak: redis RSS growth, last vs middle third', value: round(redisOnly.growthPct, 2), unit: '%', target: `≤ ${MAX_GROWTH_PCT} % (no state per event, decision 0011)` },
    ]);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    client.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
