import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlanValidator } from '../../src/plan/compile.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { post, startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const proposal = (messageId: string, extra: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'mission_proposal_received',
  messageId,
  userId: 'fr_ada',
  properties: { mission_id: 'msn_42', category: 'data_engineering', match_score: 0.9 },
  timestamp: '2026-03-01T10:00:00.000Z',
  ...extra,
});

interface EventRowOut {
  message_id: string;
  type: string;
  event: string;
  user_id: string;
  anonymous_id: string;
  ts: string;
  received: string;
  properties: string;
  source: string;
  plan_version: string;
  plan_status: string;
}

const rowsFor = (ids: string[]) =>
  stack.query<EventRowOut>(
    `SELECT message_id, type, event, user_id, anonymous_id, toUnixTimestamp64Milli(timestamp) AS ts, toUnixTimestamp64Milli(received_at) AS received, properties, source, plan_version, plan_status
     FROM events FINAL WHERE message_id IN {ids:Array(String)} ORDER BY message_id`,
    { ids },
  );

async function waitFor<T>(read: () => Promise<T[]>, count: number, timeoutMs = 15_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await read();
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('ingest → queue → ClickHouse', () => {
  it('stores a batch with every field in the events table, stamped with the plan version', async () => {
    const res = await post(stack, '/v1/batch', {
      batch: [
        proposal('m-basic-1'),
        { type: 'identify', messageId: 'm-basic-2', userId: 'fr_ada', anonymousId: 'anon-1', traits: { email: 'ada@example.com' } },
        { type: 'page', messageId: 'm-basic-3', anonymousId: 'anon-1', name: 'mission_list', properties: { path: '/missions' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, accepted: 3, quarantined: 0 });
    const rows = await waitFor(() => rowsFor(['m-basic-1', 'm-basic-2', 'm-basic-3']), 3);
    expect(rows.map((r) => [r.message_id, r.type, r.event, r.user_id, r.anonymous_id, r.source])).toEqual([
      ['m-basic-1', 'track', 'mission_proposal_received', 'fr_ada', '', 'test'],
      ['m-basic-2', 'identify', '', 'fr_ada', 'anon-1', 'test'],
      ['m-basic-3', 'page', 'mission_list', '', 'anon-1', 'test'],
    ]);
    expect(JSON.parse(rows[0]!.properties)).toEqual({ mission_id: 'msn_42', category: 'data_engineering', match_score: 0.9 });
    expect(Number(rows[0]!.ts)).toBe(Date.parse('2026-03-01T10:00:00.000Z'));
    // No version declared: validated against, and stamped with, the plan's latest version.
    expect(rows[0]!.plan_version).toBe((await loadPlanValidator(FIXTURE_PLAN)).latestVersion);
    expect(rows[0]!.plan_status).toBe('valid');
  });

  it.each([
    ['/v1/track', { event: 'route_check', userId: 'u1', messageId: 'm-route-track' }, 'track'],
    ['/v1/identify', { userId: 'u1', messageId: 'm-route-identify', traits: {} }, 'identify'],
    ['/v1/page', { anonymousId: 'a1', messageId: 'm-route-page' }, 'page'],
    ['/v1/screen', { anonymousId: 'a1', messageId: 'm-route-screen', name: 'home' }, 'screen'],
    ['/v1/group', { userId: 'u1', groupId: 'co_1', messageId: 'm-route-group' }, 'group'],
    ['/v1/alias', { userId: 'u1', previousId: 'a1', messageId: 'm-route-alias' }, 'alias'],
  ])('%s stores a %s event', async (route, body, type) => {
    const res = await post(stack, route, body);
    expect(res.status).toBe(200);
    const rows = await waitFor(() => rowsFor([body.messageId]), 1);
    expect(rows[0]?.type).toBe(type);
  });

  it('corrects client clock skew with sentAt and stamps receivedAt', async () => {
    // The device clock is 1 hour fast: the event happened 5 s before it was sent.
    const deviceNow = Date.now() + 3_600_000;
    const before = Date.now();
    await post(stack, '/v1/batch', { batch: [proposal('m-skew', { timestamp: new Date(deviceNow - 5000).toISOString() })], sentAt: new Date(deviceNow).toISOString() });
    const after = Date.now();
    const [row] = await waitFor(() => rowsFor(['m-skew']), 1);
    const received = Number(row!.received);
    expect(received).toBeGreaterThanOrEqual(before);
    expect(received).toBeLessThanOrEqual(after);
    expect(received - Number(row!.ts)).toBe(5000);
  });

  it('gives a server messageId to events that have none', async () => {
    const res = await post(stack, '/v1/track', { event: 'route_check', anonymousId: 'anon-no-id' });
    expect(res.status).toBe(200);
    const rows = await waitFor(() => stack.query<{ message_id: string }>(`SELECT message_id FROM events WHERE anonymous_id = 'anon-no-id'`), 1);
    expect(rows[0]!.message_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('accepts gzip bodies and checks the decompressed size', async () => {
    const body = gzipSync(JSON.stringify({ batch: [proposal('m-gzip')] }));
    const ok = await post(stack, '/v1/batch', body, { 'content-encoding': 'gzip' });
    expect(ok.status).toBe(200);
    expect(await waitFor(() => rowsFor(['m-gzip']), 1)).toHaveLength(1);
    // 2 MB of zeros compresses to a few KB but must still be refused.
    const bomb = gzipSync(JSON.stringify({ batch: [proposal('m-bomb', { properties: { pad: '0'.repeat(2_000_000) } })] }));
    expect(bomb.length).toBeLessThan(50_000);
    const refused = await post(stack, '/v1/batch', bomb, { 'content-encoding': 'gzip' });
    expect(refused.status).toBe(413);
    expect(refused.body.code).toBe('payload_too_large');
  });

  it('keeps the good events of a batch and quarantines the bad ones with per-event verdicts', async () => {
    const res = await post(stack, '/v1/batch', {
      batch: [
        proposal('m-mixed-good-1'),
        { type: 'track', messageId: 'm-mixed-noname', userId: 'u1' },
        { type: 'track', event: 'x', messageId: 'm-mixed-numid', userId: 42 },
        proposal('m-mixed-invalid', { properties: { mission_id: 'not-a-mission', category: 'cooking' } }),
        'not even an object',
        proposal('m-mixed-good-2'),
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, accepted: 2, quarantined: 4 });
    const results = res.body.results as { index: number; status: string; code?: string }[];
    expect(results.map((r) => [r.index, r.status, r.code ?? ''])).toEqual([
      [0, 'accepted', ''],
      [1, 'quarantined', 'missing_event_name'],
      [2, 'quarantined', 'invalid_id'],
      [3, 'quarantined', 'plan_violation'],
      [4, 'quarantined', 'not_an_object'],
      [5, 'accepted', ''],
    ]);
    expect(await waitFor(() => rowsFor(['m-mixed-good-1', 'm-mixed-good-2']), 2)).toHaveLength(2);
    const quarantined = await waitFor(
      () =>
        stack.query<{ message_id: string; reasons: string[] }>(
          `SELECT message_id, reasons FROM quarantine WHERE message_id IN ('m-mixed-noname','m-mixed-numid','m-mixed-invalid') ORDER BY message_id`,
        ),
      3,
    );
    expect(quarantined).toEqual([
      { message_id: 'm-mixed-invalid', reasons: expect.arrayContaining(['pattern', 'enum']) },
      { message_id: 'm-mixed-noname', reasons: ['malformed:missing_event_name'] },
      { message_id: 'm-mixed-numid', reasons: ['malformed:invalid_id'] },
    ]);
  });

  it('stores text with a lone UTF-16 surrogate (valid JSON, invalid Unicode) instead of failing the insert', async () => {
    const body = JSON.stringify({ batch: [proposal('m-surrogate', { properties: { mission_id: 'msn_1', category: 'bi', note: 'x' } })] }).replace('"note":"x"', '"note":"a\\ud800b"');
    expect(body).toContain('\\ud800');
    const res = await post(stack, '/v1/batch', body);
    expect(res.status).toBe(200);
    expect(await waitFor(() => rowsFor(['m-surrogate']), 1)).toHaveLength(1);
  });

  it('stores an event sent twice with the same messageId once', async () => {
    await post(stack, '/v1/batch', { batch: [proposal('m-dup'), proposal('m-dup')] });
    await post(stack, '/v1/batch', { batch: [proposal('m-dup')] });
    await post(stack, '/v1/batch', { batch: [proposal('m-after-dup')] });
    await waitFor(() => rowsFor(['m-after-dup']), 1);
    const [row] = await stack.query<{ n: string }>(`SELECT count() AS n FROM events WHERE message_id = 'm-dup'`);
    expect(Number(row!.n)).toBe(1);
  });
});

describe('bad requests get a stable code and disturb nothing', () => {
  const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
  it.each([
    ['no write key', { authorization: '' }, JSON.stringify({ batch: [proposal('x1')] }), 401, 'missing_write_key'],
    ['wrong write key', { authorization: basic('nope-nope-nope') }, JSON.stringify({ batch: [proposal('x2')] }), 401, 'invalid_write_key'],
    ['malformed JSON', {}, '{"batch": [', 400, 'invalid_json'],
    ['a form body (any content type is read, the body must be JSON)', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=1', 400, 'invalid_json'],
    ['batch not an array', {}, JSON.stringify({ batch: {} }), 400, 'invalid_batch'],
    ['empty batch', {}, JSON.stringify({ batch: [] }), 400, 'empty_batch'],
    ['batch too long', {}, JSON.stringify({ batch: Array.from({ length: 2501 }, (_, i) => ({ type: 'track', event: 'e', userId: 'u', messageId: `b${i}` })) }), 400, 'batch_too_large'],
    ['body over 500 KB', {}, JSON.stringify({ batch: [proposal('x3', { properties: { pad: 'x'.repeat(600_000) } })] }), 413, 'payload_too_large'],
    ['a JSON array body', {}, '[1,2]', 400, 'invalid_body'],
  ])('%s', async (_name, headers, body, status, code) => {
    const res = await post(stack, '/v1/batch', body, headers as Record<string, string>);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(res.body.success).toBe(false);
  });

  it.each([
    ['GET', '/v1/track'],
    ['PUT', '/v1/batch'],
    ['DELETE', '/v1/track/'],
    ['HEAD', '/v1/BATCH'],
  ])('answers %s %s with 405 method_not_allowed and Allow: POST, OPTIONS (the path exists)', async (method, route) => {
    const res = await fetch(`${stack.baseUrl}${route}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'GET' || method === 'HEAD' ? undefined : '{}' });
    expect([res.status, res.headers.get('allow')]).toEqual([405, 'POST, OPTIONS']);
    if (method !== 'HEAD') expect(((await res.json()) as { code: string }).code).toBe('method_not_allowed');
  });

  it.each([
    ['PATCH', '/'],
    ['GET', '/v1/nope'],
    ['POST', '/nope'],
    ['GET', '/assets/../../etc/passwd'],
  ])('answers %s %s with a JSON 404 not_found', async (method, route) => {
    const res = await fetch(`${stack.baseUrl}${route}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await res.json()) as { code: string }).code).toBe('not_found');
  });

  it.each(['basic', 'BASIC'])('reads the write key from an HTTP %s scheme: auth schemes are case-insensitive', async (scheme) => {
    const res = await post(stack, '/v1/batch', JSON.stringify({ batch: [proposal(`m-scheme-${scheme}`)] }), { authorization: `${scheme} ${Buffer.from(`${stack.writeKey}:`).toString('base64')}` });
    expect([res.status, res.body.accepted]).toEqual([200, 1]);
  });

  it('accepts the write key in the body (beacons cannot set headers) as text/plain', async () => {
    const res = await post(stack, '/v1/batch', JSON.stringify({ writeKey: stack.writeKey, batch: [proposal('m-body-key')] }), { authorization: '', 'content-type': 'text/plain;charset=UTF-8' });
    expect(res.status).toBe(200);
  });

  it.each([
    ['an event over 32 KB', proposal('m-big', { properties: { mission_id: 'msn_1', category: 'bi', pad: 'y'.repeat(40_000) } }), 'event_too_large'],
    ['nesting deeper than the limit', proposal('m-deep', { properties: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) }), 'too_deep'],
    ['a __proto__ key', JSON.parse('{"type":"track","event":"e","userId":"u","messageId":"m-proto","properties":{"__proto__":{"polluted":true}}}'), 'forbidden_key'],
    ['an absurd timestamp', proposal('m-1970', { timestamp: '1970-01-01T00:00:00Z' }), 'invalid_timestamp'],
    ['a timestamp in year 3000', proposal('m-3000', { timestamp: '3000-01-01T00:00:00Z' }), 'invalid_timestamp'],
    ['a non-string userId', proposal('m-objid', { userId: { id: 1 } }), 'invalid_id'],
  ])('quarantines %s without sinking the batch', async (_name, bad, code) => {
    const res = await post(stack, '/v1/batch', { batch: [bad, proposal(`ok-${code}-${_name.length}`)] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 1, quarantined: 1 });
    expect((res.body.results as { code?: string }[])[0]!.code).toBe(code);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('answers CORS preflights for browsers', async () => {
    const res = await fetch(`${stack.baseUrl}/v1/batch`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
  });
});

describe('operations endpoints', () => {
  it('reports health, readiness and Prometheus metrics', async () => {
    expect((await fetch(`${stack.baseUrl}/health`)).status).toBe(200);
    const ready = await fetch(`${stack.baseUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { redis: true, clickhouse: true, migrations: true } });
    const metrics = await (await fetch(`${stack.baseUrl}/metrics`)).text();
    for (const name of [
      'balise_events_accepted_total',
      'balise_events_rejected_total',
      'balise_jobs_queued_total',
      'balise_rows_inserted_total',
      'balise_queue_depth',
      'balise_insert_duration_seconds',
      'balise_end_to_end_lag_seconds',
      'balise_plan_violations_total',
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/balise_events_accepted_total\{source="test"\} [1-9]/);
  });
});
