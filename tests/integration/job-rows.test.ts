import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queuedRows } from '../../src/privacy/queued.ts';
import { rowsKey, startRowsSweep, sweepOrphanRows } from '../../src/queue/job-rows.ts';
import { createIngestQueue, INLINE_ROWS_MAX_CHARS } from '../../src/queue/producer.ts';
import type { QueuedJobData } from '../../src/queue/jobs.ts';
import { createRedis } from '../../src/redis/server.ts';
import { post, startStack, type Stack } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

// Decision 0045: a job's event lines are stored beside it as bytes, not in BullMQ's JSON; a
// small job's ride inside it (0054).
let stack: Stack;
let redis: Redis;
const MINUTE = 60_000;

beforeAll(async () => {
  // Two quick attempts: a job whose inserts fail reaches the dead letter within a second.
  stack = await startStack({ queueKeys: { name: 'job-rows', prefix: '{jrows}' }, env: { BALISE_INSERT_ATTEMPTS: '2', BALISE_INSERT_BACKOFF_MS: '100' } });
  redis = createRedis(stack.balise.redisTarget);
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

const pageSeen = (messageId: string) => ({ type: 'track', event: 'page_seen', anonymousId: 'anon-rows', messageId });
/** A property value that puts its event's line alone past the bound of a job that carries its lines (0054). */
const PAST_THE_BOUND = 'x'.repeat(INLINE_ROWS_MAX_CHARS);
/** An event whose job keeps its rows beside it. */
const bigPageSeen = (messageId: string) => ({ ...pageSeen(messageId), properties: { note: PAST_THE_BOUND } });

const countOf = (prefix: string) => stack.countEvents(prefix);

/** Posts events (big ones unless told otherwise) with the queue paused and returns the one job they make. */
async function heldJob(ids: string[], event: (messageId: string) => object = bigPageSeen): Promise<Job<QueuedJobData>> {
  await stack.balise.queue.pause();
  expect((await post(stack, '/v1/batch', { batch: ids.map(event) })).body).toMatchObject({ accepted: ids.length });
  const jobs = (await stack.balise.queue.getJobs(['waiting', 'paused'])) as Job<QueuedJobData>[];
  expect(jobs).toHaveLength(1);
  return jobs[0]!;
}

async function failedReason(jobId: string): Promise<string | undefined> {
  await waitFor(`job ${jobId} to fail`, async () => (await stack.balise.queue.getJobState(jobId)) === 'failed', { timeoutMs: 10_000 });
  return (await stack.balise.queue.getJob(jobId))?.failedReason;
}

describe('the event rows of a queued job', () => {
  it("are stored beside the job as JSON lines, out of BullMQ's JSON, and removed once the job is complete", async () => {
    const ids = ['beside-0', 'beside-1', 'beside-2'];
    const job = await heldJob(ids);
    expect(job.data.events).toBeUndefined();
    expect(job.data.ids).toEqual(ids);
    const key = job.data.rows!;
    expect(key).toMatch(/^\{jrows\}:job-rows:rows:/);
    // The job's hash in Redis holds the ids, not the rows.
    const stored = await redis.hget(stack.balise.queue.toKey(job.id!), 'data');
    expect(stored).not.toContain('page_seen');
    const lines = (await redis.getBuffer(key))!.toString().split('\n');
    expect(lines).toHaveLength(3);
    lines.forEach((line, i) => {
      expect(line).toContain(`"${ids[i]}"`);
      expect(line).toContain('"page_seen"');
    });

    await stack.balise.queue.resume();
    await stack.waitForDrained();
    expect(await countOf('beside-')).toEqual({ total: 3, distinct: 3 });
    await waitFor('the rows key to be removed', async () => (await redis.exists(key)) === 0, { timeoutMs: 10_000 });
    expect(await redis.exists(key)).toBe(0);
  });

  it('ride inside a small job: no key of their own, and loaded once', async () => {
    const ids = ['inline-0', 'inline-1'];
    const rowsKeys = () => redis.keys(`${stack.balise.queue.qualifiedName}:rows:*`);
    const keysBefore = await rowsKeys();
    const job = await heldJob(ids, pageSeen);
    expect(job.data.rows).toBeUndefined();
    expect(job.data.ids).toEqual(ids);
    expect(job.data.events).toHaveLength(2);
    job.data.events!.forEach((line, i) => expect(line).toContain(`"${ids[i]}"`));
    expect(await rowsKeys()).toEqual(keysBefore);
    await stack.balise.queue.resume();
    await stack.waitForDrained();
    expect(await countOf('inline-')).toEqual({ total: 2, distinct: 2 });
  });

  it('keep text beyond ASCII byte for byte, from the request to Redis to ClickHouse, and half an emoji as U+FFFD', async () => {
    const title = 'naïve – 日本語 🚀';
    await stack.balise.queue.pause();
    // A string cut by its length in UTF-16 units keeps half of 🚀 (a lone surrogate): ClickHouse's
    // JSON functions refused the whole properties text, so the title read as empty too.
    const sent = { ...pageSeen('utf8-0'), properties: { title, cut: '🚀'.slice(0, 1), note: PAST_THE_BOUND } };
    expect((await post(stack, '/v1/batch', { batch: [sent] })).body).toMatchObject({ accepted: 1 });
    const jobs = (await stack.balise.queue.getJobs(['waiting', 'paused'])) as Job<QueuedJobData>[];
    const job = jobs.find((candidate) => candidate.data.ids.includes('utf8-0'));
    const payload = (await redis.getBuffer(job!.data.rows!))!;
    // Valid UTF-8 with nothing replaced: decoded and encoded again, it is the same bytes.
    expect(Buffer.from(payload.toString('utf8'), 'utf8').equals(payload)).toBe(true);
    expect(payload.toString('utf8')).toContain(title);

    await stack.balise.queue.resume();
    await stack.waitForDrained();
    const stored = await stack.warehouse.client.query({
      query: "SELECT JSONExtractString(properties, 'title') AS title, JSONExtractString(properties, 'cut') AS cut FROM events FINAL WHERE message_id = 'utf8-0'",
      format: 'JSONEachRow',
    });
    expect(await stored.json()).toEqual([{ title, cut: '\ufffd' }]);
  });

  it('stay while their job is dead-lettered, and `replay dead-letter` loads them once', async () => {
    await stack.warehouse.client.command({ query: 'RENAME TABLE events TO events_offline' });
    let key: string;
    try {
      expect((await post(stack, '/v1/batch', { batch: ['dead-0', 'dead-1'].map(bigPageSeen) })).status).toBe(200);
      await waitFor('one dead-lettered job', async () => (await stack.balise.queue.getFailedCount()) === 1, { timeoutMs: 10_000 });
      const [job] = (await stack.balise.queue.getFailed()) as Job<QueuedJobData>[];
      key = job!.data.rows!;
      expect(await redis.exists(key)).toBe(1);
    } finally {
      await stack.warehouse.client.command({ query: 'RENAME TABLE events_offline TO events' });
    }
    const replay = await fetch(`${stack.baseUrl}/api/admin/replay/dead-letter`, { method: 'POST', headers: { authorization: `Bearer ${stack.adminToken}` } });
    expect(await replay.json()).toEqual({ requeued: 1 });
    await stack.waitForDrained();
    expect(await countOf('dead-')).toEqual({ total: 2, distinct: 2 });
    await waitFor('the rows key to be removed', async () => (await redis.exists(key)) === 0, { timeoutMs: 10_000 });
    expect(await redis.exists(key)).toBe(0);
  });

  it('missing from Redis fail their job with job_rows_missing (dead-lettered), rather than completing it empty', async () => {
    const queue = stack.balise.queue;
    const rows = rowsKey(queue.qualifiedName, 'rows-gone');
    await queue.add('request', { ids: ['gone-0'], quarantine: [], receivedAt: Date.now(), eventLayout: 1, rows }, { jobId: 'rows-gone', attempts: 1 });
    expect(await failedReason('rows-gone')).toMatch(/are not in Redis/);
    expect(await countOf('gone-')).toEqual({ total: 0, distinct: 0 });
    // Dead-lettered without rows, it does not stop a person's export (nor an erasure).
    expect(await queuedRows(queue, redis, new Set(['anon-rows']))).toEqual({ events: [], quarantine: [] });
    await (await queue.getJob('rows-gone'))?.remove();
  });

  it('out of step with their ids fail their job with job_rows_mismatch, rather than storing a row under another id', async () => {
    // A seen id makes the worker pick rows line by line: two ids, one line.
    expect((await post(stack, '/v1/batch', { batch: [pageSeen('step-0')] })).status).toBe(200);
    await stack.waitForDrained();
    const queue = stack.balise.queue;
    // step-1's line, taken from a job held back and then removed.
    const held = await heldJob(['step-1']);
    const rows = held.data.rows!;
    await held.remove();
    await queue.add('request', { ids: ['step-0', 'step-1'], quarantine: [], receivedAt: Date.now(), eventLayout: 1, rows }, { jobId: 'rows-step', attempts: 1 });
    await queue.resume();
    expect(await failedReason('rows-step')).toMatch(/1 event rows for 2 ids/);
    expect(await countOf('step-')).toEqual({ total: 1, distinct: 1 });
    await (await queue.getJob('rows-step'))?.remove();
    await redis.unlink(rows);
  });

  it('are swept once their job is gone, while rows a job names and rows still young are kept', async () => {
    const queue = stack.balise.queue;
    const job = await heldJob(['swept-0']);
    const named = job.data.rows!;
    // The sweeps below run "later" (`now` ahead of the clock), so these keys are young to the
    // stack's own sweep, which would otherwise race this test for the old ones.
    const later = Date.now() + 11 * MINUTE;
    const orphan = rowsKey(queue.qualifiedName, 'orphan-old', later - 11 * MINUTE);
    const young = rowsKey(queue.qualifiedName, 'orphan-young', later);
    // An erasure's leftover: the job names another key of its own id.
    const replaced = rowsKey(queue.qualifiedName, job.id!, later - 11 * MINUTE);
    for (const key of [orphan, young, replaced]) await redis.set(key, '["x"]');
    const exists = async () => Object.fromEntries(await Promise.all([named, orphan, young, replaced].map(async (key) => [key, await redis.exists(key)])));

    expect(await sweepOrphanRows(redis, queue, 10 * MINUTE, later)).toBe(2);
    expect(await exists()).toEqual({ [named]: 1, [orphan]: 0, [young]: 1, [replaced]: 0 });
    // Later: the young orphan is old enough now; the rows the waiting job names are never swept.
    expect(await sweepOrphanRows(redis, queue, 10 * MINUTE, later + 11 * MINUTE)).toBe(1);
    expect(await exists()).toEqual({ [named]: 1, [orphan]: 0, [young]: 0, [replaced]: 0 });

    await queue.resume();
    await stack.waitForDrained();
    expect(await countOf('swept-')).toEqual({ total: 1, distinct: 1 });
  });

  it('are swept by a process from its start, before its connection to Redis is even ready', async () => {
    // A queue of its own: the stack's own sweep, at its start, would race this one for the orphan.
    const keys = { name: 'job-rows-start', prefix: '{jrows}' };
    const orphan = rowsKey(`${keys.prefix}:${keys.name}`, 'orphan-at-start', Date.now() - 11 * MINUTE);
    await redis.set(orphan, '["x"]');
    // As the runtime opens it: no offline queue, so a command sent before "ready" is refused.
    const fresh = createRedis(stack.balise.redisTarget, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    const queue = createIngestQueue(fresh, { attempts: 1, backoffMs: 100 }, keys);
    let stop = () => undefined as void;
    const swept = new Promise<number>((resolve) => {
      stop = startRowsSweep(fresh, queue, { graceMs: 10 * MINUTE, intervalMs: MINUTE }, resolve);
    });
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('nothing swept in 10 s'), 10_000));
    expect(await Promise.race([swept, timeout])).toBe(1);
    expect(await redis.exists(orphan)).toBe(0);
    stop();
    await queue.close();
    fresh.disconnect();
  });
});
