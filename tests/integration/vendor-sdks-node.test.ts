import { createRequire } from 'node:module';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import { jitsuAnalytics } from '@jitsu/js';
import RudderV2 from 'rudder-sdk-node-2';
import RudderV3 from 'rudder-sdk-node-3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.ts';
import { one, storedEvents, type StoredEvent } from '../helpers/vendor-rows.ts';

/**
 * The vendors' Node SDKs, unchanged, pointed at a real Balise (redis-server, chDB, worker): every
 * call is stored once with its type, ids, timestamp, properties, traits and library.
 */
let stack: Stack;
const JITSU_KEY = 'jitsu-web:0123456789abcdef';
beforeAll(async () => {
  // Jitsu's client refuses a key not shaped `id:secret`; Balise keys may contain a colon.
  stack = await startStack({ env: { BALISE_WRITE_KEYS: `test:test-write-key-123,jitsu:${JITSU_KEY}` } });
});
afterAll(async () => {
  await stack?.stop();
});

/** The legacy `analytics-node` 6.x ships no types; this is the part of its API the test uses. */
interface LegacySegment {
  track(message: object): void;
  identify(message: object): void;
  page(message: object): void;
  group(message: object): void;
  alias(message: object): void;
  flush(): Promise<unknown>;
}
const LegacySegmentNode = createRequire(import.meta.url)('analytics-node') as new (writeKey: string, options: object) => LegacySegment;

const AT = new Date(Date.now() - 3_600_000);
const proposal = { mission_id: 'msn_7', category: 'data_engineering', match_score: 0.8 };
const traits = { role: 'freelancer', email: 'ada@example.com' };

/** The calls every Segment-style client makes, with the same arguments. */
function callEverything(client: { track(m: object): unknown; identify(m: object): unknown; page(m: object): unknown; group(m: object): unknown; alias(m: object): unknown }, tag: string): void {
  const userId = `${tag}-u`;
  client.identify({ userId, traits, timestamp: AT });
  client.track({ userId, event: 'mission_proposal_received', properties: proposal, timestamp: AT });
  client.page({ userId, name: 'Pricing', category: 'Docs', properties: { path: '/pricing' }, timestamp: AT });
  client.group({ userId, groupId: 'cmp_acme', traits: { name: 'Acme' }, timestamp: AT });
  client.alias({ previousId: userId, userId: `${tag}-u2`, timestamp: AT });
}

/** What every client must have stored for `callEverything`. */
function expectEverything(rows: StoredEvent[], tag: string, library: string): void {
  const userId = `${tag}-u`;
  const identify = one(rows, 'identify');
  expect([identify.user_id, identify.traits, identify.plan_status]).toEqual([userId, traits, 'valid']);
  const track = one(rows, 'track', 'mission_proposal_received');
  expect([track.user_id, track.properties, track.plan_status]).toEqual([userId, proposal, 'valid']);
  const page = one(rows, 'page', 'Pricing');
  expect(page.properties).toMatchObject({ path: '/pricing', name: 'Pricing', category: 'Docs' });
  const group = one(rows, 'group');
  expect([group.user_id, group.group_id, group.traits]).toEqual([userId, 'cmp_acme', { name: 'Acme' }]);
  const alias = one(rows, 'alias');
  expect([alias.previous_id, alias.user_id]).toEqual([userId, `${tag}-u2`]);
  for (const row of rows) {
    expect(row.library_name).toBe(library);
    // A server's address is not its users': only a browser's request fills context.ip.
    expect(row.context.ip).toBeUndefined();
    // Sent straight away, so the clock-skew correction moves the timestamp by the transit time only.
    expect(Math.abs(row.ts - AT.getTime())).toBeLessThan(5_000);
  }
}

describe('vendor Node SDKs, unchanged, against a real Balise', () => {
  it('@segment/analytics-node 3.x', async () => {
    const analytics = new SegmentAnalytics({ writeKey: stack.writeKey, host: stack.baseUrl, flushInterval: 50 });
    callEverything(analytics, 'segnode');
    await analytics.closeAndFlush({ timeout: 10_000 });
    expectEverything(await storedEvents(stack, 'segnode', 5), 'segnode', '@segment/analytics-node');
  });

  it("@segment/analytics-node: a title cut in the middle of an emoji leaves the event's other properties readable by ClickHouse (0053)", async () => {
    const analytics = new SegmentAnalytics({ writeKey: stack.writeKey, host: stack.baseUrl, flushInterval: 50 });
    // 'Data pipeline 🚀' is 16 UTF-16 units: cut at 15, it keeps half of the emoji.
    const title = 'Data pipeline 🚀'.slice(0, 15);
    analytics.track({ userId: 'segcut-u', event: 'mission_title_seen', properties: { mission_id: 'msn_7', title }, timestamp: AT });
    await analytics.closeAndFlush({ timeout: 10_000 });
    const [row] = await storedEvents(stack, 'segcut', 1);
    expect(row!.properties).toEqual({ mission_id: 'msn_7', title: 'Data pipeline \ufffd' });
    const read = await stack.query<{ mission: string; title: string }>(
      "SELECT JSONExtractString(properties, 'mission_id') AS mission, JSONExtractString(properties, 'title') AS title FROM events WHERE user_id = 'segcut-u'",
    );
    expect(read).toEqual([{ mission: 'msn_7', title: 'Data pipeline \ufffd' }]);
  });

  it('analytics-node 6.x (legacy Segment), page category included', async () => {
    const analytics = new LegacySegmentNode(stack.writeKey, { host: stack.baseUrl, flushAt: 100, flushInterval: 60_000 });
    callEverything(analytics, 'legacy');
    await analytics.flush();
    expectEverything(await storedEvents(stack, 'legacy', 5), 'legacy', 'analytics-node');
  });

  // Both send gzip JSON labelled application/x-www-form-urlencoded (axios' default for a Buffer).
  it.each([
    ['2.x', RudderV2, 'rudder2'],
    ['3.x', RudderV3, 'rudder3'],
  ] as const)('@rudderstack/rudder-sdk-node %s (gzip JSON as a form content type)', async (_version, Rudder, tag) => {
    const errors: unknown[] = [];
    const analytics = new Rudder(stack.writeKey, { dataPlaneUrl: stack.baseUrl, flushAt: 100, flushInterval: 60_000, logLevel: 'error', errorHandler: (e: unknown) => errors.push(e) });
    callEverything(analytics as unknown as Parameters<typeof callEverything>[0], tag);
    await analytics.flush();
    expect(errors).toEqual([]);
    expectEverything(await storedEvents(stack, tag, 5), tag, 'analytics-node');
  });

  it("@jitsu/js (Jitsu's protocol: /api/s/:type, X-Write-Key)", async () => {
    const analytics = jitsuAnalytics({ host: stack.baseUrl, writeKey: JITSU_KEY });
    await analytics.identify('jitsu-u', traits);
    await analytics.track('mission_proposal_received', proposal);
    await analytics.page('Pricing', { path: '/pricing' });
    await analytics.group('cmp_acme', { name: 'Acme' });
    const rows = await storedEvents(stack, 'jitsu', 4);
    expect(one(rows, 'identify').traits).toEqual(traits);
    expect(one(rows, 'track', 'mission_proposal_received')).toMatchObject({ user_id: 'jitsu-u', properties: proposal, plan_status: 'valid' });
    expect(one(rows, 'page', 'Pricing').properties).toMatchObject({ name: 'Pricing', path: '/pricing' });
    expect(one(rows, 'group')).toMatchObject({ user_id: 'jitsu-u', group_id: 'cmp_acme', traits: { name: 'Acme' } });
    for (const row of rows) expect(row.library_name).toBe('@jitsu/js');
  });
});

describe('the routes and headers vendor SDKs need', () => {
  const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
  const event = (tag: string) => ({ batch: [{ type: 'track', event: 'mission_proposal_received', userId: `${tag}-u`, properties: proposal }] });

  it('answers a preflight by echoing the requested headers, and exposes Retry-After', async () => {
    const preflight = await fetch(`${stack.baseUrl}/v1/t`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'anonymousid,authorization,content-type,rsa-retry-attempt,sentat,x-retry-count',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('anonymousid,authorization,content-type,rsa-retry-attempt,sentat,x-retry-count');
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    const answer = await fetch(`${stack.baseUrl}/v1/b`, { method: 'POST', headers: { origin: 'https://shop.example', authorization: basic(stack.writeKey) }, body: JSON.stringify(event('routes1')) });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('access-control-expose-headers')).toBe('Retry-After');
    await storedEvents(stack, 'routes1', 1);
  });

  it('reads the write key from the query string on the beacon path only', async () => {
    const beacon = await fetch(`${stack.baseUrl}/beacon/v1/batch?writeKey=${stack.writeKey}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(event('routes2')) });
    expect(beacon.status).toBe(200);
    await storedEvents(stack, 'routes2', 1);
    const elsewhere = await fetch(`${stack.baseUrl}/v1/batch?writeKey=${stack.writeKey}`, { method: 'POST', body: JSON.stringify(event('routes3')) });
    expect([elsewhere.status, ((await elsewhere.json()) as { code: string }).code]).toEqual([401, 'missing_write_key']);
    const wrong = await fetch(`${stack.baseUrl}/beacon/v1/batch?writeKey=nope-nope-nope`, { method: 'POST', body: JSON.stringify(event('routes4')) });
    expect([wrong.status, ((await wrong.json()) as { code: string }).code]).toEqual([401, 'invalid_write_key']);
  });

  it('serves SDK settings only for a known write key', async () => {
    const segment = await fetch(`${stack.baseUrl}/v1/projects/${stack.writeKey}/settings`, { headers: { 'x-forwarded-proto': 'https' } });
    const settings = (await segment.json()) as { integrations: Record<string, { apiHost: string; protocol: string }> };
    expect(settings.integrations['Segment.io']).toMatchObject({ apiHost: `${new URL(stack.baseUrl).host}/v1`, protocol: 'https' });
    // Behind a proxy that serves Balise under /balise (first-party, past ad blockers): the events go back through it.
    const prefixed = await fetch(`${stack.baseUrl}/v1/projects/${stack.writeKey}/settings`, { headers: { 'x-forwarded-prefix': '/balise/' } });
    const behind = (await prefixed.json()) as typeof settings;
    expect(behind.integrations['Segment.io']!.apiHost).toBe(`${new URL(stack.baseUrl).host}/balise/v1`);
    expect((await fetch(`${stack.baseUrl}/v1/projects/nope-nope-nope/settings`)).status).toBe(404);
    const rudder = await fetch(`${stack.baseUrl}/sourceConfig/?writeKey=${stack.writeKey}`);
    expect(((await rudder.json()) as { source: { id: string } }).source.id).toBe('test');
    expect((await fetch(`${stack.baseUrl}/sourceConfig`)).status).toBe(401);
    const wrong = await fetch(`${stack.baseUrl}/sourceConfig`, { headers: { authorization: basic('nope-nope-nope') } });
    expect(wrong.status).toBe(401);
    // A key that was sent but is unknown is not told to send one.
    expect(await wrong.json()).toMatchObject({ code: 'invalid_write_key', message: 'unknown write key' });
  });
});
