import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.ts';
import { createBatchInserter } from '../../src/queue/batcher.ts';
import { createDeduper } from '../../src/queue/dedupe.ts';
import { startIngestWorker, type IngestWorker } from '../../src/queue/worker.ts';
import { createRedis, startLocalRedis, type LocalRedis } from '../../src/redis/server.ts';
import { post, startStack, type Stack } from '../helpers/stack.ts';

// The API alone, so jobs wait in Redis; the worker is assembled here once Redis is back.
let stack: Stack;
let restarted: LocalRedis | undefined;
let worker: IngestWorker | undefined;
const connections: ReturnType<typeof createRedis>[] = [];

beforeAll(async () => {
  // Supervision off: this test stages the outage and brings Redis back itself.
  stack = await startStack({ roles: { api: true, worker: false }, superviseRedis: false });
});
afterAll(async () => {
  await worker?.close();
  for (const c of connections) c.disconnect();
  await stack?.stop();
  await restarted?.stop();
});

const BATCHES = 20;
const PER_BATCH = 50;
const events = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ type: 'track', event: 'redis_fault', userId: `u${i % 5}`, messageId: `${prefix}-${i}` }));

function startWorker(): IngestWorker {
  const workerConnection = createRedis(stack.balise.redisTarget, { maxRetriesPerRequest: null });
  connections.push(workerConnection);
  const inserter = createBatchInserter(stack.warehouse, createDeduper({ windowSeconds: 3600, maxIds: 100_000 }), { maxRows: 10_000, maxWaitMs: 50 }, stack.balise.metrics, createLogger('silent'));
  return startIngestWorker(workerConnection, inserter, { concurrency: 50, lockDurationMs: 2000 }, createLogger('silent'));
}

async function waiting(): Promise<number> {
  const counts = await stack.balise.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** Posts until the API answers 200 again (the producer reconnects on its own). */
async function postUntilAccepted(body: unknown, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await post(stack, '/v1/batch', body);
    if (res.status === 200 || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Redis restarted (AOF on) with jobs waiting', () => {
  it('answers 503 queue_unavailable while Redis is down, and loads every acknowledged event exactly once after', { timeout: 60_000 }, async () => {
    const acknowledged: string[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const batch = events(`before-${b}`, PER_BATCH);
      const res = await post(stack, '/v1/batch', { batch });
      expect(res.status).toBe(200);
      acknowledged.push(...batch.map((e) => e.messageId));
    }
    expect(await waiting()).toBe(BATCHES);

    // SHUTDOWN: Redis flushes and fsyncs the AOF, then exits (the stack's redis-server child).
    const admin = createRedis(stack.balise.redisTarget, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    const pid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);
    expect(pid).toBeGreaterThan(0);
    await admin.call('SHUTDOWN').catch(() => undefined);
    admin.disconnect();
    const gone = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
    expect(isAlive(pid)).toBe(false);

    // Down: refused fast with a retryable, stable answer; never a hang or a 500.
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const res = await post(stack, '/v1/batch', { batch: events(`down-${i}`, 10) }, {});
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('queue_unavailable');
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(Date.now() - started).toBeLessThan(3_000);
    }
    const ready = await fetch(`${stack.baseUrl}/ready`, { signal: AbortSignal.timeout(5_000) });
    expect(ready.status).toBe(503);
    expect((await fetch(`${stack.baseUrl}/health`)).status).toBe(200);

    // Back on the same data directory: the AOF brings the waiting jobs back.
    restarted = await startLocalRedis(stack.dataDir);
    expect(restarted.owned).toBe(true);
    const after = events('after', PER_BATCH);
    const res = await postUntilAccepted({ batch: after });
    expect(res.status).toBe(200);
    acknowledged.push(...after.map((e) => e.messageId));
    expect(await waiting()).toBe(BATCHES + 1);

    worker = startWorker();
    await stack.waitForRows('events', acknowledged.length, 30_000);
    const drained = Date.now() + 10_000;
    while ((await waiting()) > 0 && Date.now() < drained) await new Promise((r) => setTimeout(r, 50));
    const [row] = await stack.query<{ total: string; distinct: string; wanted: string }>(
      `SELECT count() AS total, uniqExact(message_id) AS distinct, countIf(message_id IN {ids:Array(String)}) AS wanted FROM events`,
      { ids: acknowledged },
    );
    expect({ total: Number(row!.total), distinct: Number(row!.distinct), wanted: Number(row!.wanted) }).toEqual({
      total: acknowledged.length,
      distinct: acknowledged.length,
      wanted: acknowledged.length,
    });
    // Refused requests stored nothing.
    const [down] = await stack.query<{ n: string }>(`SELECT count() AS n FROM events WHERE startsWith(message_id, 'down-')`);
    expect(Number(down!.n)).toBe(0);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
