import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BaliseError } from '../../src/errors.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { joinPlanReloads, planReloadChannel, type PlanReloads } from '../../src/queue/plan-reloads.ts';
import { createRedis } from '../../src/redis/server.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

// Decision 0047: a plan reload is announced on Redis, and every other API process answers.
let stack: Stack;
const connections: Redis[] = [];
const logger = createLogger('silent');
// Not the stack's own channel: its Balise would answer too.
const channel = planReloadChannel({ name: 'members', prefix: '{preload}' });

beforeAll(async () => {
  stack = await startStack({ queueKeys: { name: 'plan-reloads', prefix: '{preload}' } });
});
afterAll(async () => {
  for (const connection of connections) connection.disconnect();
  await stack?.stop();
});

function connect(): Redis {
  const connection = createRedis(stack.balise.redisTarget);
  connections.push(connection);
  return connection;
}

let probe: Redis | undefined;
async function subscribers(on: string): Promise<number> {
  probe ??= connect();
  const [, count] = (await probe.pubsub('NUMSUB', on)) as [string, number];
  return Number(count);
}

/** A member whose subscription is in place before the test goes on. */
async function join(reload: () => Promise<string>, waitMs?: number, on = channel): Promise<PlanReloads> {
  const before = await subscribers(on);
  const member = joinPlanReloads({ subscriber: connect(), publisher: connect(), channel: on, reload, logger, waitMs });
  while ((await subscribers(on)) <= before) await new Promise((r) => setTimeout(r, 10));
  return member;
}

describe('plan reloads across API processes', () => {
  it('each other process reloads and answers with its plan version or why it could not; one that never answers is counted; none reloads twice', async () => {
    const calls = { announcer: 0, follower: 0, broken: 0 };
    const announcer = await join(async () => String(++calls.announcer), 1500);
    await join(async () => {
      calls.follower++;
      return '2.1.0';
    });
    await join(async () => {
      calls.broken++;
      throw new BaliseError('plan_invalid', 'events/mission_bookmarked.yaml: required names an undeclared property');
    });
    // Subscribed, and silent: an API process of an older Balise, or one stuck.
    const silent = connect();
    await silent.subscribe(channel);

    const report = await announcer.announce();
    expect(report).toEqual({
      asked: 3,
      reloaded: [{ process: expect.stringMatching(/^.+:\d+$/), planVersion: '2.1.0' }],
      failed: [{ process: expect.stringMatching(/^.+:\d+$/), code: 'plan_invalid', message: expect.stringContaining('undeclared property') }],
      unanswered: 1,
    });
    // The announcer reloads on its own (the admin API did), not on its own notice.
    expect(calls).toEqual({ announcer: 0, follower: 1, broken: 1 });
  });

  it('answers at once when no other process listens (it does not wait for answers nobody will send)', async () => {
    const channelAlone = planReloadChannel({ name: 'nobody-else', prefix: '{preload}' });
    // Were it to wait, the test would time out first.
    const alone = await join(async () => '1', 600_000, channelAlone);
    expect(await alone.announce()).toEqual({ asked: 0, reloaded: [], failed: [], unanswered: 0 });
  });
});
