import { Worker, type Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.ts';
import { createBatchInserter } from '../../src/queue/batcher.ts';
import { createDeduper, type Deduper } from '../../src/queue/dedupe.ts';
import type { QueuedJobData, QueueKeys } from '../../src/queue/jobs.ts';
import { createIngestQueue } from '../../src/queue/producer.ts';
import { ingestProcessor, startIngestWorker, type IngestWorker } from '../../src/queue/worker.ts';
import { createRedis } from '../../src/redis/server.ts';
import { post, startStack, type Stack } from '../helpers/stack.ts';

// The API runs in the stack; the worker is assembled here so faults can be injected around it.
// Each test starts its own worker (and closes it after), so any one of them runs alone.
let stack: Stack;
let worker: IngestWorker | undefined;
const connections: ReturnType<typeof createRedis>[] = [];

beforeAll(async () => {
  stack = await startStack({ roles: { api: true, worker: false }, env: { BALISE_INSERT_BACKOFF_MS: '100', BALISE_INSERT_ATTEMPTS: '30' } });
});
afterEach(async () => {
  await worker?.close();
  worker = undefined;
});
afterAll(async () => {
  await worker?.close();
  for (const c of connections) c.disconnect();
  await stack?.stop();
});

function startWorker(wrap: (deduper: Deduper) => Deduper = (d) => d, keys: QueueKeys = stack.balise.queueKeys): IngestWorker {
  const workerConnection = createRedis(stack.balise.redisTarget, { maxRetriesPerRequest: null });
  connections.push(workerConnection);
  const deduper = wrap(createDeduper({ windowSeconds: 3600, maxIds: 100_000 }));
  const inserter = createBatchInserter(stack.warehouse, deduper, { maxRows: 10_000, maxWaitMs: 50 }, stack.balise.metrics, createLogger('silent'));
  return startIngestWorker(workerConnection, inserter, { concurrency: 50, lockDurationMs: 2000, keys }, createLogger('silent'));
}

const events = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ type: 'track', event: 'fault_check', userId: 'u1', messageId: `${prefix}-${i}` }));

const countOf = (prefix: string) => stack.countEvents(`${prefix}-`);

async function waitForCount(prefix: string, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await countOf(prefix)).distinct < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

async function waitForDrained(queue: Queue<QueuedJobData> = stack.balise.queue): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed');
    if ((counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('queue not drained');
}

/** An `events` row as an API older than line layouts queued it: one JSONEachRow object. */
const objectRow = (id: string) =>
  JSON.stringify({
    message_id: id,
    type: 'track',
    event: 'fault_check',
    user_id: 'u1',
    anonymous_id: '',
    group_id: '',
    previous_id: '',
    timestamp: Date.now(),
    sent_at: null,
    received_at: Date.now(),
    properties: '{}',
    traits: '{}',
    context: '{}',
    source: 'test',
    library_name: '',
    library_version: '',
    plan_version: '',
    plan_status: 'unplanned',
    violations: '',
  });

describe('worker faults', () => {
  it('a worker that dies after its insert but before completing its jobs does not double count', async () => {
    // The first batch is inserted, then the "process dies" before the batch commits and the
    // jobs complete: the jobs are retried, and their rows must not be inserted again.
    let crashes = 0;
    worker = startWorker((deduper) => ({
      ...deduper,
      async commit(batchId) {
        if (crashes++ === 0) throw new Error('simulated crash after insert');
        return deduper.commit(batchId);
      },
    }));
    const res = await post(stack, '/v1/batch', { batch: events('crash', 200) });
    expect(res.status).toBe(200);
    await waitForDrained();
    expect(crashes).toBeGreaterThanOrEqual(2);
    expect(await countOf('crash')).toEqual({ total: 200, distinct: 200 });
  });

  it('a worker killed between insert and completion, its memory gone, does not double count once another takes its jobs', async () => {
    // The first worker inserts, then never completes (its commit hangs) and is closed by force: its
    // locks lapse and a fresh worker, whose recent-id window has never seen these ids, gets the
    // jobs back. Only ClickHouse knows they are stored (decision 0011).
    const keys = stack.balise.queueKeys;
    const deadConnection = createRedis(stack.balise.redisTarget, { maxRetriesPerRequest: null });
    connections.push(deadConnection);
    const hanging: Deduper = { ...createDeduper({ windowSeconds: 3600, maxIds: 100_000 }), commit: () => new Promise<void>(() => undefined) };
    const doomed = createBatchInserter(stack.warehouse, hanging, { maxRows: 10_000, maxWaitMs: 50 }, stack.balise.metrics, createLogger('silent'));
    const dying = new Worker<QueuedJobData>(keys.name, ingestProcessor(deadConnection, doomed), {
      connection: deadConnection,
      prefix: keys.prefix,
      concurrency: 50,
      lockDuration: 2000,
      stalledInterval: 1000,
    });
    const res = await post(stack, '/v1/batch', { batch: events('killed', 120) });
    expect(res.status).toBe(200);
    await waitForCount('killed', 120);
    // Killed: its connection drops (no more lock renewals), then it is closed without waiting.
    deadConnection.disconnect();
    void dying.close(true).catch(() => undefined);
    worker = startWorker();
    await waitForDrained();
    expect(await countOf('killed')).toEqual({ total: 120, distinct: 120 });
  });

  it('inserts failing for a while (ClickHouse table unavailable) are retried and land exactly once', async () => {
    worker = startWorker();
    await stack.warehouse.client.command({ query: 'RENAME TABLE events TO events_offline' });
    try {
      const sent = [];
      for (let i = 0; i < 5; i++) sent.push(await post(stack, '/v1/batch', { batch: events(`outage-${i}`, 100) }));
      expect(sent.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      // The table comes back only once inserts have been seen to fail (not after a guessed sleep).
      const failures = () => stack.balise.metrics.registry.getSingleMetricAsString('balise_insert_failures_total');
      const deadline = Date.now() + 20_000;
      while (!/balise_insert_failures_total [1-9]/.test(await failures()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await failures()).toMatch(/balise_insert_failures_total [1-9]/);
    } finally {
      await stack.warehouse.client.command({ query: 'RENAME TABLE events_offline TO events' });
    }
    await waitForDrained();
    for (let i = 0; i < 5; i++) expect(await countOf(`outage-${i}`)).toEqual({ total: 100, distinct: 100 });
  });

  it('a job ClickHouse refuses does not hold back the jobs batched with it, and its partly inserted rows are not duplicated', async () => {
    // One job whose events rows are fine but whose quarantine row is not JSON: its events insert
    // lands, its quarantine insert fails, on every attempt. Good jobs with the same few attempts
    // are queued beside it: batched together, they would share its fate without isolation.
    const job = (ids: string[], quarantine: string[]) => ({ events: ids.map(objectRow), ids, quarantine, receivedAt: Date.now() });
    const fewAttempts = { attempts: 3, backoff: { type: 'fixed', delay: 100 } };
    // A queue of its own: the dead letter counted below holds this test's jobs and nothing else.
    const keys: QueueKeys = { name: 'poison', prefix: '{wf-poison}' };
    const producer = createRedis(stack.balise.redisTarget);
    connections.push(producer);
    const queue = createIngestQueue(producer, { attempts: 3, backoffMs: 100 }, keys);
    worker = startWorker(undefined, keys);
    await queue.addBulk([
      { name: 'request', data: job(['poison-0'], ['{"message_id": "poison-q", this is not JSON']), opts: fewAttempts },
      ...[0, 1, 2].map((i) => ({
        name: 'request',
        data: job(
          Array.from({ length: 20 }, (_, k) => `beside-poison-${i}-${k}`),
          [],
        ),
        opts: fewAttempts,
      })),
    ]);
    for (let i = 0; i < 3; i++) await waitForCount(`beside-poison-${i}`, 20);
    const deadline = Date.now() + 20_000;
    while ((await queue.getFailedCount()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await waitForDrained(queue);
    expect(await queue.getFailedCount()).toBe(1);
    expect(await countOf('poison')).toEqual({ total: 1, distinct: 1 });
    for (let i = 0; i < 3; i++) expect(await countOf(`beside-poison-${i}`)).toEqual({ total: 20, distinct: 20 });
    await queue.close();
  });

  it("loads jobs an older API queued (object lines) beside this one's (compact lines), and dead-letters a layout it does not know", async () => {
    const legacyIds = Array.from({ length: 5 }, (_, i) => `layout-old-${i}`);
    await stack.balise.queue.add('request', { events: legacyIds.map(objectRow), ids: legacyIds, quarantine: [], receivedAt: Date.now() });
    const future = await stack.balise.queue.add('request', { events: ['["layout-new-0"]'], eventLayout: 99, ids: ['layout-new-0'], quarantine: [], receivedAt: Date.now() }, { attempts: 1 });
    expect((await post(stack, '/v1/batch', { batch: events('layout-now', 5) })).status).toBe(200);
    worker = startWorker();
    await waitForDrained();
    expect(await countOf('layout-old')).toEqual({ total: 5, distinct: 5 });
    expect(await countOf('layout-now')).toEqual({ total: 5, distinct: 5 });
    expect(await countOf('layout-new')).toEqual({ total: 0, distinct: 0 });
    expect(await future.getState()).toBe('failed');
    expect((await stack.balise.queue.getJob(future.id!))?.failedReason).toMatch(/layout 99 is newer than this worker/);
    await future.remove();
  });

  it('a client resending a batch whose answer it lost does not double count', async () => {
    worker = startWorker();
    const dropped = async () => (await stack.balise.metrics.duplicatesDropped.get()).values[0]?.value ?? 0;
    const droppedBefore = await dropped();
    const batch = events('resend', 50);
    await post(stack, '/v1/batch', { batch });
    await waitForDrained();
    await post(stack, '/v1/batch', { batch });
    await waitForDrained();
    expect(await countOf('resend')).toEqual({ total: 50, distinct: 50 });
    expect((await dropped()) - droppedBefore).toBe(50);
  });
});
