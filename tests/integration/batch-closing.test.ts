/**
 * A batch also closes at half the worker's active jobs (decision 0051). Jobs stay active until
 * their batch is inserted, so a worker holding its whole concurrency in one batch can take no
 * more jobs: with one-event requests a batch reached that count long before its rows, then sat
 * out its wait, and the worker loaded at most `concurrency` jobs per wait (1,600 events/s here).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;

beforeAll(async () => {
  // Four active jobs at most, and a wait no test would sit out: only the job count can close a batch.
  stack = await startStack({ queueKeys: { name: 'batch-closing', prefix: '{bclo}' }, env: { BALISE_WORKER_CONCURRENCY: '4', BALISE_BATCH_MAX_WAIT_MS: '600000' } });
});
afterAll(async () => {
  await stack?.stop();
});

const event = (id: string) => ({ type: 'track', event: 'mission_proposal_received', userId: 'u1', messageId: id, properties: { mission_id: 'msn_1', freelancer_id: 'fr_1', category: 'front' } });

describe('a batch of small jobs', () => {
  it('is inserted once it holds half the jobs the worker may hold, without waiting for its rows or its time', async () => {
    // One request at a time: each is a job of its own.
    for (const id of ['bclo-1', 'bclo-2']) expect((await post(stack, '/v1/track', event(id))).status).toBe(200);
    const deadline = Date.now() + 30_000;
    let counted = await stack.countEvents('bclo-');
    while (counted.total < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      counted = await stack.countEvents('bclo-');
    }
    expect(counted).toEqual({ total: 2, distinct: 2 });
  });
});
