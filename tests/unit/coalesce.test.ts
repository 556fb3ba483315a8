/** Group commit of the ingest queue (src/queue/coalesce.ts): requests share a job, never an acknowledgement they did not earn. */
import { describe, expect, it } from 'vitest';
import { coalesceJobs, mergeJobs } from '../../src/queue/coalesce.ts';
import type { IngestJobData } from '../../src/queue/jobs.ts';

const job = (name: string, events: number, quarantine = 0, receivedAt = 1000): IngestJobData => ({
  events: Array.from({ length: events }, (_, i) => `["${name}-${i}"]`),
  eventLayout: 1,
  ids: Array.from({ length: events }, (_, i) => `${name}-${i}`),
  quarantine: Array.from({ length: quarantine }, (_, i) => `{"message_id":"${name}-q${i}"}`),
  quarantineIds: Array.from({ length: quarantine }, (_, i) => `${name}-q${i}`),
  receivedAt,
});

/** An `add` whose calls stay pending until the test settles them. */
function manualRedis() {
  const calls: { job: IngestJobData; resolve: () => void; reject: (error: Error) => void }[] = [];
  const add = (stored: IngestJobData) => new Promise<void>((resolve, reject) => calls.push({ job: stored, resolve, reject }));
  return { calls, add };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('requests gathered into jobs', () => {
  it('sends a request alone at once, as its own job, and acknowledges it once stored', async () => {
    const redis = manualRedis();
    const enqueue = coalesceJobs(redis.add, { maxRows: 100 });
    const a = job('a', 3);
    let done = false;
    const queued = enqueue(a).then(() => (done = true));
    expect(redis.calls.map((c) => c.job)).toEqual([a]);
    await tick();
    expect(done).toBe(false);
    redis.calls[0]!.resolve();
    await queued;
    expect(done).toBe(true);
  });

  it('gathers the requests that arrive while a job is on its way into the next job, in order', async () => {
    const redis = manualRedis();
    const queuedJobs: number[] = [];
    const enqueue = coalesceJobs(redis.add, { maxRows: 100, onQueued: (requests) => queuedJobs.push(requests) });
    const first = enqueue(job('a', 1));
    const acknowledged: string[] = [];
    const rest = [job('b', 2, 1, 900), job('c', 1, 0, 1100)].map((j) => enqueue(j).then(() => acknowledged.push(j.ids[0]!)));
    expect(redis.calls).toHaveLength(1);
    redis.calls[0]!.resolve();
    await first;
    await tick();
    expect(redis.calls).toHaveLength(2);
    expect(acknowledged).toEqual([]);
    expect(redis.calls[1]!.job).toEqual({
      events: ['["b-0"]', '["b-1"]', '["c-0"]'],
      eventLayout: 1,
      ids: ['b-0', 'b-1', 'c-0'],
      quarantine: ['{"message_id":"b-q0"}'],
      quarantineIds: ['b-q0'],
      receivedAt: 900,
    });
    redis.calls[1]!.resolve();
    await Promise.all(rest);
    expect(acknowledged).toEqual(['b-0', 'c-0']);
    expect(queuedJobs).toEqual([1, 2]);
  });

  it('with two jobs in flight, a second request leaves at once; the next ones gather until one of the two is stored', async () => {
    const redis = manualRedis();
    const enqueue = coalesceJobs(redis.add, { maxRows: 100, jobsInFlight: 2 });
    const acknowledged: string[] = [];
    const all = ['a', 'b', 'c', 'd'].map((name) => enqueue(job(name, 1)).then(() => acknowledged.push(name)));
    expect(redis.calls.map((c) => c.job.ids)).toEqual([['a-0'], ['b-0']]);
    // Stored out of order: each request is acknowledged with its own job, and a lane is free again.
    redis.calls[1]!.resolve();
    await tick();
    expect(acknowledged).toEqual(['b']);
    expect(redis.calls.map((c) => c.job.ids)).toEqual([['a-0'], ['b-0'], ['c-0', 'd-0']]);
    redis.calls[0]!.resolve();
    redis.calls[2]!.resolve();
    await Promise.all(all);
    expect(acknowledged).toEqual(['b', 'a', 'c', 'd']);
  });

  it('sends a second job while one is on its way only when it is large: small requests gather behind the first, a large one leaves at once', async () => {
    const redis = manualRedis();
    const enqueue = coalesceJobs(redis.add, { maxRows: 2000, jobsInFlight: 2, extraLaneMinRows: 100 });
    const acknowledged: string[] = [];
    const small = ['a', 'b', 'c'].map((name) => enqueue(job(name, 1)).then(() => acknowledged.push(name)));
    // One-event requests (a browser SDK's): the second lane stays free, b and c wait together.
    expect(redis.calls.map((c) => c.job.ids)).toEqual([['a-0']]);
    // A request of 100 events joins them, and the group, now large enough, takes the second lane.
    const large = enqueue(job('d', 100)).then(() => acknowledged.push('d'));
    expect(redis.calls.map((c) => c.job.ids.length)).toEqual([1, 102]);
    expect(redis.calls[1]!.job.ids.slice(0, 3)).toEqual(['b-0', 'c-0', 'd-0']);
    // With both lanes busy a small request waits; once one is free and the other still busy, it waits on.
    const late = enqueue(job('e', 1)).then(() => acknowledged.push('e'));
    redis.calls[1]!.resolve();
    await tick();
    expect(acknowledged).toEqual(['b', 'c', 'd']);
    expect(redis.calls).toHaveLength(2);
    // Both lanes empty: it goes alone, at once.
    redis.calls[0]!.resolve();
    await tick();
    expect(redis.calls.map((c) => c.job.ids)).toHaveLength(3);
    expect(redis.calls[2]!.job.ids).toEqual(['e-0']);
    redis.calls[2]!.resolve();
    await Promise.all([...small, large, late]);
    expect(acknowledged).toEqual(['b', 'c', 'd', 'a', 'e']);
  });

  it('starts another job when the next request would pass the row limit', async () => {
    const redis = manualRedis();
    const enqueue = coalesceJobs(redis.add, { maxRows: 5 });
    const all = [enqueue(job('a', 1)), enqueue(job('b', 3)), enqueue(job('c', 3)), enqueue(job('d', 2))];
    for (let i = 0; i < 3; i++) {
      redis.calls[i]!.resolve();
      await tick();
    }
    await Promise.all(all);
    expect(redis.calls.map((c) => c.job.ids.map((id) => id[0]).join(''))).toEqual(['a', 'bbb', 'cccdd']);
  });

  it('refuses every request of a job Redis refused, and still sends the next', async () => {
    const redis = manualRedis();
    const enqueue = coalesceJobs(redis.add, { maxRows: 100 });
    const first = enqueue(job('a', 1));
    const shared = [enqueue(job('b', 1)), enqueue(job('c', 1))].map((p) =>
      p.then(
        () => 'stored',
        (e: Error) => e.message,
      ),
    );
    redis.calls[0]!.resolve();
    await first;
    await tick();
    const later = enqueue(job('d', 1));
    redis.calls[1]!.reject(new Error('redis gone'));
    expect(await Promise.all(shared)).toEqual(['redis gone', 'redis gone']);
    await tick();
    expect(redis.calls[2]!.job.ids).toEqual(['d-0']);
    redis.calls[2]!.resolve();
    await later;
  });

  it('keeps jobs of different line layouts apart', () => {
    const redis = manualRedis();
    const enqueue = coalesceJobs(redis.add, { maxRows: 100 });
    void enqueue(job('a', 1));
    void enqueue(job('b', 1));
    void enqueue({ ...job('c', 1), eventLayout: undefined });
    redis.calls[0]!.resolve();
    return tick().then(async () => {
      redis.calls[1]!.resolve();
      await tick();
      expect(redis.calls.map((c) => c.job.ids)).toEqual([['a-0'], ['b-0'], ['c-0']]);
    });
  });

  it('merges a job queued without quarantine ids by giving its lines none', () => {
    const old = { ...job('o', 0), quarantine: ['{"message_id":"x"}'], quarantineIds: undefined };
    expect(mergeJobs([job('n', 1, 1), old]).quarantineIds).toEqual(['n-q0', '']);
  });
});
