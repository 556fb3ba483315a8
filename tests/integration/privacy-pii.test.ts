import { createHmac } from 'node:crypto';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/redis/server.ts';
import { post, REPO_ROOT, startStack, type Stack } from '../helpers/stack.ts';

const PII_KEY = 'pii-test-key-0123456789abcdef0123456789';
const KEYS = { name: 'privacy-pii', prefix: '{ppii}' };
const hmac = (value: string) => createHmac('sha256', PII_KEY).update(value).digest('hex');

let stack: Stack;
let redis: Redis;
beforeAll(async () => {
  stack = await startStack({
    planDir: path.join(REPO_ROOT, 'tests/fixtures/pii-plan'),
    queueKeys: KEYS,
    env: { BALISE_WRITE_KEYS: 'web:web-write-key-123,backend:backend-write-key-123', BALISE_PII_KEY: PII_KEY },
  });
  redis = createRedis(stack.balise.redisTarget);
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

const SECRETS = ['alice@example.com', 'Alice Martin', '+33 6 12 34 56 78', '203.0.113.77', 'Mozilla/5.0 (X11)'];

function batch(tag: string) {
  const context = { ip: '203.0.113.77', userAgent: 'Mozilla/5.0 (X11)', traits: { email: 'alice@example.com', plan_tier: 'pro' } };
  return [
    {
      type: 'track',
      event: 'order_placed',
      userId: `u-${tag}`,
      messageId: `${tag}-1`,
      context,
      properties: { order_id: 'o1', amount: 30, customer_email: 'alice@example.com', card_holder: 'Alice Martin' },
    },
    { type: 'identify', userId: `u-${tag}`, messageId: `${tag}-2`, context, traits: { email: 'alice@example.com', phone: '+33 6 12 34 56 78', plan_tier: 'pro' } },
    // No amount: quarantined, and its raw event is stored under the same rules.
    { type: 'track', event: 'order_placed', userId: `u-${tag}`, messageId: `${tag}-3`, context, properties: { order_id: 'o2', customer_email: 'alice@example.com', card_holder: 'Alice Martin' } },
  ];
}

/**
 * What Redis holds of each queued job, exactly: the `data` field of its BullMQ hash and, beside
 * it, its event rows (decision 0045).
 */
async function queuedPayloads(): Promise<string[]> {
  const jobs = await stack.balise.queue.getJobs(['waiting', 'paused']);
  return Promise.all(
    jobs.map(async (job) => {
      const data = (await redis.hget(stack.balise.queue.toKey(job.id!), 'data')) ?? '';
      const rows = job.data.rows ? ((await redis.get(job.data.rows)) ?? '') : '';
      return `${data}\n${rows}`;
    }),
  );
}

async function send(writeKey: string, tag: string) {
  const res = await post({ baseUrl: stack.baseUrl, writeKey }, '/v1/batch', { batch: batch(tag) });
  expect(res.body).toMatchObject({ accepted: 2, quarantined: 1 });
}

describe('personal data marked in the plan', () => {
  it('is hashed or dropped before the job is queued, and stored so', async () => {
    await stack.balise.queue.pause();
    await send('web-write-key-123', 'web');
    const payloads = await queuedPayloads();
    expect(payloads).toHaveLength(1);
    const payload = payloads[0]!;
    for (const secret of SECRETS) expect(payload).not.toContain(secret);
    // Keyed hashes: the same email hashes the same in the event, in its context traits and in identify.
    expect(payload.split(hmac('alice@example.com')).length - 1).toBe(6);
    await stack.balise.queue.resume();
    await stack.waitForDrained();

    const rows = await stack.query<{ message_id: string; properties: string; traits: string; context: string }>(
      `SELECT message_id, properties, traits, context FROM events WHERE message_id LIKE 'web-%' ORDER BY message_id`,
    );
    expect(rows.map((r) => r.message_id)).toEqual(['web-1', 'web-2']);
    const track = rows[0]!;
    expect(JSON.parse(track.properties)).toEqual({ order_id: 'o1', amount: 30, customer_email: hmac('alice@example.com') });
    const context = JSON.parse(track.context) as Record<string, unknown>;
    expect(context).toMatchObject({ ip: '203.0.113.0', traits: { email: hmac('alice@example.com'), plan_tier: 'pro' } });
    expect(context).not.toHaveProperty('userAgent');
    expect(JSON.parse(rows[1]!.traits)).toEqual({ email: hmac('alice@example.com'), plan_tier: 'pro' });
    const [quarantined] = await stack.query<{ raw: string }>(`SELECT raw FROM quarantine WHERE message_id = 'web-3'`);
    expect(quarantined).toBeDefined();
    for (const secret of SECRETS) expect(quarantined!.raw).not.toContain(secret);
    expect(JSON.parse(quarantined!.raw)).toMatchObject({ properties: { order_id: 'o2', customer_email: hmac('alice@example.com') } });
    // Joins on the hash still work: the identify and the order meet on the email.
    const [joined] = await stack.query<{ n: string }>(
      `SELECT count() AS n FROM events AS o INNER JOIN events AS i ON JSONExtractString(o.properties, 'customer_email') = JSONExtractString(i.traits, 'email') WHERE o.message_id = 'web-1' AND i.message_id = 'web-2'`,
    );
    expect(Number(joined?.n)).toBe(1);
  });

  it('follows the action of the sending source', async () => {
    await send('backend-write-key-123', 'be');
    await stack.waitForDrained();
    const [row] = await stack.query<{ properties: string }>(`SELECT properties FROM events WHERE message_id = 'be-1'`);
    // backend: keep for card_holder; the email is hashed for every source.
    expect(JSON.parse(row!.properties)).toEqual({ order_id: 'o1', amount: 30, customer_email: hmac('alice@example.com'), card_holder: 'Alice Martin' });
  });
});
