/**
 * What the messageId dedupe costs (the worker's CPU, Redis memory), and whether restarting grows with its history
 * (issue 14; issue 12, item 7; docs/decisions/0011-dedupe-in-clickhouse.md).
 *
 * 0. The worker's window itself (src/queue/dedupe.ts): CPU per id claimed with the shipped bound
 *    full, against the same claims with an empty window (BALISE_DEDUPE_MAX_IDS=0), in this process.
 * 1. Redis memory per event in the dedupe window: `balise up` ingests BENCH_DEDUPE_EVENTS events
 *    through /v1/batch twice; Redis `used_memory` growth over the second round (stored, queue
 *    drained), per event. Same-run baseline: the claim the worker made before 0011 (one `SET NX EX`
 *    per messageId, value a batch id) for the same ids, in the same Redis.
 * 2. Restart to ready: `balise up` on an empty data directory, then again with
 *    BENCH_DEDUPE_HISTORY events of history in ClickHouse, and again with as many claims of the
 *    old design in Redis's AOF (what a restart had to load before 0011). Ratios against empty.
 *
 *   node --import tsx bench/dedupe.ts
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { freePort, sqlViaApi, startBaliseProcess, TEST_WRITE_AUTH, type BaliseProcess } from '../tests/helpers/process.ts';
import { tempDir } from '../tests/helpers/stack.ts';
import { openWarehouse } from '../src/warehouse/client.ts';
import { loadConfig } from '../src/config/index.ts';
import { localRedisSocket } from '../src/redis/server.ts';
import { createDeduper } from '../src/queue/dedupe.ts';
import { printResult, round, shippedWorkerSettings } from './lib.ts';

const EVENTS = Number(process.env.BENCH_DEDUPE_EVENTS ?? 200_000);
const HISTORY = Number(process.env.BENCH_DEDUPE_HISTORY ?? 3_000_000);
const BATCH = 500;

async function start(dataDir: string): Promise<{ server: BaliseProcess; seconds: number }> {
  const port = await freePort();
  const started = performance.now();
  const server = await startBaliseProcess('up', dataDir, port, { ...shippedWorkerSettings(), LOG_LEVEL: 'error' });
  return { server, seconds: (performance.now() - started) / 1000 };
}

async function stop(server: BaliseProcess): Promise<void> {
  server.child.kill('SIGTERM');
  await server.exited;
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
}

async function stored(baseUrl: string, prefix: string): Promise<number> {
  const rows = await sqlViaApi(baseUrl, `SELECT count() FROM events FINAL WHERE startsWith(message_id, '${prefix}')`);
  return Number(rows[0]?.[0] ?? 0);
}

async function drained(redis: Redis): Promise<void> {
  // removeOnComplete: a drained queue holds no job hashes; wait for the wait and active lists to empty.
  for (;;) {
    const [waiting, active] = await Promise.all([redis.llen('{balise}:ingest:wait'), redis.llen('{balise}:ingest:active')]);
    if (waiting + active === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function ingest(baseUrl: string, prefix: string, n: number): Promise<void> {
  let next = 0;
  const batches = Math.ceil(n / BATCH);
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < batches) {
        const b = next++;
        const batch = Array.from({ length: Math.min(BATCH, n - b * BATCH) }, (_, i) => ({
          type: 'track',
          event: 'bench_dedupe',
          userId: `u${i % 100}`,
          messageId: `${prefix}${b}-${i}-${'x'.repeat(8)}`,
        }));
        const body = JSON.stringify({ batch });
        // A 503 (queue deep, or the shared box busy) is retried, as a client would.
        for (;;) {
          const res = await fetch(`${baseUrl}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: TEST_WRITE_AUTH }, body });
          await res.arrayBuffer();
          if (res.ok) break;
          if (res.status !== 503) throw new Error(`ingest refused: ${res.status}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }),
  );
}

/** The pre-0011 claim: one key per messageId, value the claiming batch's id, TTL the window. */
async function oldClaims(redis: Redis, prefix: string, n: number): Promise<void> {
  for (let start = 0; start < n; start += 10_000) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(n, start + 10_000); i++) pipeline.set(`{bdd}:${prefix}${Math.floor(i / BATCH)}-${i % BATCH}-${'x'.repeat(8)}`, 'AbCdEfGhIjKl', 'EX', 3600, 'NX');
    await pipeline.exec();
  }
}

/**
 * CPU per id of the worker's window once `maxIds` are held: ids claimed ~550 a batch, each batch
 * parsed from JSON as the worker gets them from a job (the parse is in both figures).
 */
async function claimCpuUs(maxIds: number): Promise<number> {
  const deduper = createDeduper({ windowSeconds: 3600, maxIds });
  const perBatch = 550;
  let id = 0;
  const jobs = (count: number) => Array.from({ length: count }, () => JSON.stringify(Array.from({ length: perBatch }, () => `window-${id++}-000000000000`)));
  const claim = async (texts: string[]) => {
    for (const [b, text] of texts.entries()) {
      await deduper.claim(`b${b}`, JSON.parse(text) as string[]);
      await deduper.commit(`b${b}`);
    }
  };
  await claim(jobs(Math.ceil((2 * maxIds) / perBatch) + 200));
  const timed = jobs(4000);
  const before = process.cpuUsage();
  await claim(timed);
  const spent = process.cpuUsage(before);
  return (spent.user + spent.system) / (4000 * perBatch);
}

async function main(): Promise<void> {
  const figures = [];
  // 0. The window's CPU, full at the shipped bound, against an empty one.
  const shippedMaxIds = loadConfig({}).worker.dedupeMaxIds;
  const fullUs = await claimCpuUs(shippedMaxIds);
  const emptyUs = await claimCpuUs(0);
  console.log(`worker's messageId window: ${round(fullUs, 2)} µs of CPU per id claimed, ${shippedMaxIds} ids held (empty window: ${round(emptyUs, 2)} µs)`);
  figures.push({
    name: `worker's messageId window, CPU per id claimed (${shippedMaxIds} held)`,
    value: round(fullUs, 2),
    unit: 'µs',
    baseline: { name: 'an empty window (BALISE_DEDUPE_MAX_IDS=0)', value: round(emptyUs, 2), unit: 'µs' },
    ratio: round(fullUs / emptyUs, 2),
  });
  const dataDir = tempDir('balise-bench-dedupe-');
  const empty = await start(dataDir);
  const redis = new Redis({ path: localRedisSocket(dataDir) });
  try {
    // 1. Redis memory per event.
    // The marginal cost: a first round fills what is bounded whatever the traffic (BullMQ's event
    // stream is capped, client buffers), the second round's growth is what each event adds.
    await ingest(empty.server.baseUrl, 'warm-', EVENTS);
    while ((await stored(empty.server.baseUrl, 'warm-')) < EVENTS) await new Promise((r) => setTimeout(r, 200));
    await drained(redis);
    const before = await usedMemory(redis);
    await ingest(empty.server.baseUrl, 'now-', EVENTS);
    while ((await stored(empty.server.baseUrl, 'now-')) < EVENTS) await new Promise((r) => setTimeout(r, 200));
    await drained(redis);
    const after = await usedMemory(redis);
    await oldClaims(redis, 'old-', EVENTS);
    const withOld = await usedMemory(redis);
    const perEvent = Math.max(0, (after - before) / EVENTS);
    const oldPerEvent = (withOld - after) / EVENTS;
    console.log(`Redis memory per event in the dedupe window: ${round(perEvent, 2)} B (SET NX claim per event, as before 0011: ${round(oldPerEvent, 1)} B) over ${EVENTS} events`);
    figures.push({
      name: 'Redis memory per event in the dedupe window',
      value: round(perEvent, 2),
      unit: 'B/event',
      baseline: { name: 'one SET NX claim per messageId (before decision 0011)', value: round(oldPerEvent, 1), unit: 'B/event' },
      ratio: round(perEvent / oldPerEvent, 3),
      target: '≤ 5 B/event (24 h at 50k/s < 22 GB)',
    });
    // The old claims are dropped again: the restart figures below add their own.
    await redis.eval("for _, k in ipairs(redis.call('KEYS', '{bdd}:*')) do redis.call('UNLINK', k) end return 0", 0);
  } finally {
    redis.disconnect();
    await stop(empty.server);
  }

  // 2. Restart with history in ClickHouse (where the dedupe lives now).
  const config = loadConfig({ BALISE_DATA_DIR: dataDir });
  const warehouse = await openWarehouse(config);
  await warehouse.client.command({
    query: `INSERT INTO events (message_id, type, event, user_id, timestamp, received_at, sent_at, source, plan_status)
            SELECT concat('hist-', toString(number)), 'track', 'bench_history', concat('u', toString(number % 10000)),
                   fromUnixTimestamp64Milli(toInt64(toUnixTimestamp64Milli(now64(3)) - number), 'UTC') AS t, t, NULL, 'bench', 'unplanned' FROM numbers(${HISTORY})`,
  });
  await warehouse.close();
  const restartEmpty = await start(dataDir);
  await stop(restartEmpty.server);
  const withHistory = await start(dataDir);
  const history = Number((await sqlViaApi(withHistory.server.baseUrl, `SELECT count() FROM events WHERE event = 'bench_history'`))[0]?.[0] ?? 0);
  // 3. The same history as claims of the old design, in Redis's AOF: what a restart loaded before.
  const redis2 = new Redis({ path: localRedisSocket(dataDir) });
  await oldClaims(redis2, 'hist-', HISTORY);
  redis2.disconnect();
  await stop(withHistory.server);
  const withOldKeys = await start(dataDir);
  await stop(withOldKeys.server);
  console.log(
    `Restart to ready: first start ${round(empty.seconds, 2)} s; empty history ${round(restartEmpty.seconds, 2)} s; ${history} events of history ${round(withHistory.seconds, 2)} s; plus ${HISTORY} pre-0011 claims in Redis ${round(withOldKeys.seconds, 2)} s (loaded box: compare ratios)`,
  );
  figures.push({
    name: `restart to ready, ${HISTORY} events of dedupe history`,
    value: round(withHistory.seconds, 2),
    unit: 's',
    baseline: { name: 'restart with no history (same data dir, same run)', value: round(restartEmpty.seconds, 2), unit: 's' },
    ratio: round(withHistory.seconds / restartEmpty.seconds, 2),
    target: '≤ 1.5 (ratio)',
  });
  figures.push({
    name: `restart to ready with the same history as pre-0011 Redis claims`,
    value: round(withOldKeys.seconds, 2),
    unit: 's',
    baseline: { name: 'restart with no history (same data dir, same run)', value: round(restartEmpty.seconds, 2), unit: 's' },
    ratio: round(withOldKeys.seconds / restartEmpty.seconds, 2),
  });
  printResult('dedupe', figures);
}

await main();
