/**
 * Replay says why (issue 16): events that declare a plan version (the SDK's planVersion) are
 * re-validated against the current version when their own cannot accept them, and every event
 * that stays in quarantine comes with the reason, through the API and `balise replay quarantine`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlan } from '../../src/plan/build.ts';
import type { ReplayQuarantineResult } from '../../src/queue/replay-quarantine.ts';
import { replayLockKey } from '../../src/queue/replay-lock.ts';
import { createRedis } from '../../src/redis/server.ts';
import { runCli } from '../helpers/process.ts';
import { post, startStack, tempDir, type Stack } from '../helpers/stack.ts';

const PLAN = (version: string) => `name: shop
version: ${version}
description: Fixture plan for quarantine replay.
defaults:
  mode: enforce
  unplanned: allow
`;
const ORDER = (extra: string) => `name: order_placed
kind: track
description: An order was placed.
owner: team-shop
status: active
undeclared: quarantine
properties:
  total: { type: number, description: Amount. }
${extra}required: [total]
`;

let stack: Stack;
let planDir: string;

beforeAll(async () => {
  planDir = tempDir('balise-replay-plan-');
  fs.mkdirSync(path.join(planDir, 'events'));
  fs.writeFileSync(path.join(planDir, 'plan.yaml'), PLAN('1.0.0'));
  fs.writeFileSync(path.join(planDir, 'events/order_placed.yaml'), ORDER(''));
  // 1.0.0 is published: the SDK of the app in the field declares it.
  await buildPlan(planDir);
  stack = await startStack({ planDir });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const declaring = (messageId: string, properties: Record<string, unknown>) => ({
  type: 'track',
  event: 'order_placed',
  userId: 'u1',
  messageId,
  properties,
  context: { plan: { version: '1.0.0' } },
});

describe('replay of events that declare a plan version', () => {
  it('moves what the current version accepts although the declared one does not, and says why each other event stays (API and CLI)', async () => {
    const fixedLater = declaring('rq-coupon', { total: 5, coupon: 'SPRING' });
    const stillBad = declaring('rq-typo', { total: 'five', colour: 'red' });
    const res = await post(stack, '/v1/batch', { batch: [fixedLater, stillBad] });
    expect(res.body).toMatchObject({ accepted: 0, quarantined: 2 });
    await stack.waitForDrained();
    await stack.waitForRows('quarantine', 2);

    // The plan is fixed in 1.1.0 (coupon declared); the app in the field still declares 1.0.0.
    fs.writeFileSync(path.join(planDir, 'plan.yaml'), PLAN('1.1.0'));
    fs.writeFileSync(path.join(planDir, 'events/order_placed.yaml'), ORDER('  coupon: { type: string, description: Coupon code. }\n'));

    const replay = await fetch(`${stack.baseUrl}/api/admin/replay/quarantine`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(replay.status).toBe(200);
    const result = (await replay.json()) as ReplayQuarantineResult;
    expect(result).toMatchObject({ examined: 2, moved: 1, movedUnderCurrent: 1, stillInvalid: 1, staysNotExplained: 0 });
    expect(result.stays).toEqual([
      {
        messageId: 'rq-typo',
        event: 'order_placed',
        declaredVersion: '1.0.0',
        tried: [
          {
            version: '1.0.0',
            violations: [
              { path: '/properties/total', rule: 'type', message: 'total must be number' },
              {
                path: '/properties/colour',
                rule: 'undeclared_property',
                message: 'property "colour" is not declared for "order_placed" in tracking plan 1.0.0 (policy quarantine: the event is quarantined)',
              },
            ],
          },
          {
            version: '1.1.0',
            violations: [
              { path: '/properties/total', rule: 'type', message: 'total must be number' },
              {
                path: '/properties/colour',
                rule: 'undeclared_property',
                message: 'property "colour" is not declared for "order_placed" in tracking plan 1.1.0 (policy quarantine: the event is quarantined)',
              },
            ],
          },
        ],
        why: 'declared version 1.0.0: total must be number; property "colour" is not declared for "order_placed" in tracking plan 1.0.0 (policy quarantine: the event is quarantined) | version 1.1.0 (current): total must be number; property "colour" is not declared for "order_placed" in tracking plan 1.1.0 (policy quarantine: the event is quarantined)',
      },
    ]);
    const [moved] = await stack.query<{ plan_version: string; plan_status: string; properties: string }>(
      'SELECT plan_version, plan_status, properties FROM events FINAL WHERE message_id = {id:String}',
      { id: 'rq-coupon' },
    );
    expect(moved).toEqual({ plan_version: '1.1.0', plan_status: 'valid', properties: JSON.stringify({ total: 5, coupon: 'SPRING' }) });

    // The CLI prints the same reasons (the moved event is not examined again).
    const cli = await runCli(['replay', 'quarantine'], { BALISE_URL: stack.baseUrl, BALISE_ADMIN_TOKEN: stack.adminToken, BALISE_DATA_DIR: stack.dataDir });
    expect(cli.code, cli.output).toBe(0);
    expect(cli.output).toContain('examined 1, moved 0 into events, still invalid 1');
    expect(cli.output).toContain('still in quarantine, and why:');
    expect(cli.output).toContain('rq-typo order_placed: declared version 1.0.0: total must be number;');
    expect(cli.output).toContain('| version 1.1.0 (current): total must be number;');
  }, 120_000);
});

describe('the replay endpoint', () => {
  const replay = (query: string, body: unknown) =>
    fetch(`${stack.baseUrl}/api/admin/replay/quarantine${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('names its own parameter in a date error, and reads event and since from the query string too', async () => {
    const inBody = await replay('', { since: 'garbage' });
    expect(inBody.status).toBe(400);
    expect(await inBody.json()).toMatchObject({ code: 'invalid_date', message: expect.stringMatching(/^since: "garbage" is not a date/) });
    const inQuery = await replay('?since=garbage', {});
    expect(inQuery.status).toBe(400);
    expect(await inQuery.json()).toMatchObject({ code: 'invalid_date', message: expect.stringMatching(/^since: /) });
    const none = await replay('?event=no_such_event', {});
    expect(none.status).toBe(200);
    expect(await none.json()).toMatchObject({ examined: 0, moved: 0, alreadyStored: 0 });
  });

  it('takes since as epoch milliseconds in the query string, as the CLI does', async () => {
    const sent = Date.now();
    const res = await post(stack, '/v1/batch', { batch: [declaring(`rq-epoch-${sent}`, { total: 'not a number' })] });
    expect(res.body).toMatchObject({ accepted: 0, quarantined: 1 });
    const seen = async (since: number) => {
      const answer = await replay(`?event=order_placed&since=${since}`, {});
      expect(answer.status).toBe(200);
      const result = (await answer.json()) as ReplayQuarantineResult;
      return result.stays?.map((s) => s.messageId) ?? [];
    };
    await expect.poll(() => seen(sent - 60_000), { timeout: 20_000 }).toContain(`rq-epoch-${sent}`);
    expect(await seen(sent + 3_600_000)).toEqual([]);
  });

  // Found 2026-12-05: two replays at once both moved the same events and counted the other's as resent by the client.
  it('runs one replay at a time: another asked meanwhile gets 409 replay_running, and the lock goes with the replay', async () => {
    const redis = createRedis(stack.balise.redisTarget);
    try {
      const key = replayLockKey(stack.balise.queue.qualifiedName);
      await redis.set(key, 'another-replay', 'PX', 30_000);
      const refused = await replay('', {});
      expect([refused.status, ((await refused.json()) as { code: string }).code]).toEqual([409, 'replay_running']);
      await redis.del(key);
      expect((await replay('', {})).status).toBe(200);
      expect(await redis.exists(key)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});
