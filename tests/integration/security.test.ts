import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constantTimeEquals } from '../../src/util/constant-time.ts';
import { startLoggedStack, type LoggedStack } from '../helpers/logged-stack.ts';

// One stack for the file (chDB binds one data dir per process), logging at debug into memory so
// the last test can check that no secret reached the log.
let stack: LoggedStack;
beforeAll(async () => {
  stack = await startLoggedStack('debug');
});
afterAll(async () => {
  await stack?.stop();
});

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
const bearer = (token: string) => `Bearer ${token}`;

async function call(method: string, route: string, headers: Record<string, string> = {}, body?: unknown) {
  const started = performance.now();
  const response = await fetch(`${stack.baseUrl}${route}`, {
    method,
    redirect: 'manual',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: response.status, body: json, ms: performance.now() - started, location: response.headers.get('location') };
}

const sql = (query: string) => call('POST', '/api/sql', { authorization: bearer(stack.adminToken) }, { query });

const event = (messageId: string) => ({ type: 'track', event: 'security_check', userId: 'u-sec', messageId });

async function waitForEvent(messageId: string): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const [row] = await stack.query<{ n: string }>(`SELECT count() AS n FROM events WHERE message_id = {id:String}`, { id: messageId });
    const n = Number(row?.n ?? 0);
    if (n > 0 || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every read or admin endpoint, with a body where it takes one. */
const ADMIN_ENDPOINTS: [string, string, unknown?][] = [
  ['GET', '/api/kpis'],
  ['GET', '/api/funnels'],
  ['GET', '/api/funnels/freelancer_activation'],
  ['POST', '/api/sql', { query: 'SELECT 1' }],
  ['GET', '/api/health/plan'],
  ['GET', '/api/health/pipeline'],
  ['GET', '/api/trends'],
  ['POST', '/api/admin/replay/quarantine', {}],
  ['POST', '/api/admin/replay/dead-letter', {}],
  ['POST', '/api/admin/plan/reload', {}],
  ['GET', '/api/plan/catalog'],
  ['GET', '/api/funnels/freelancer_activation/dropoffs?step=2'],
  ['POST', '/api/explore/trend', { definition: { id: 'x', type: 'count', event: 'mission_posted' } }],
  ['POST', '/api/explore/funnel', { definition: { id: 'f', steps: ['freelancer_signup_started', 'freelancer_signup_completed'] } }],
  ['GET', '/api/entities/mission_id/msn_1'],
];

describe('the admin token guards every read endpoint', () => {
  const credentials: [string, () => Record<string, string>][] = [
    ['no credentials', () => ({})],
    ['a wrong bearer token', () => ({ authorization: bearer('adm-logged-secret-token-8e1d7X') })],
    ['the write key as a bearer token', () => ({ authorization: bearer(stack.writeKey) })],
    ['the write key as HTTP Basic', () => ({ authorization: basic(stack.writeKey) })],
    ['the admin token as HTTP Basic', () => ({ authorization: basic(stack.adminToken) })],
    ['a forged session cookie', () => ({ cookie: 'balise_session=not-a-session' })],
    ['the admin token as the session cookie', () => ({ cookie: `balise_session=${stack.adminToken}` })],
    ['an empty bearer token', () => ({ authorization: 'Bearer ' })],
  ];
  const cases = ADMIN_ENDPOINTS.flatMap(([method, route, body]) => credentials.map(([who, headers]) => [method, route, who, headers, body] as const));

  it.each(cases)('%s %s with %s → 401', async (method, route, _who, headers, body) => {
    const res = await call(method, route, headers(), body);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('unauthorized');
  });

  it('counts a refused request in /metrics under a route named for it, not as "unmatched" (a 404)', async () => {
    const [method, route, body] = ADMIN_ENDPOINTS[0]!;
    expect((await call(method, route, {}, body)).status).toBe(401);
    const scrape = await (await fetch(`${stack.baseUrl}/metrics`)).text();
    expect(scrape).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/api\/\* \(refused: credentials or role\)"[^}]*status_code="401"[^}]*\} [1-9]/);
    expect(scrape).not.toMatch(/route="unmatched"[^}]*status_code="401"/);
  });

  it('tells a caller with no token to send one, and a caller whose token is unknown that it is not valid', async () => {
    const [method, route, body] = ADMIN_ENDPOINTS[0]!;
    expect((await call(method, route, {}, body)).body.message).toBe('send a token as "Authorization: Bearer <token>" or log in');
    expect((await call(method, route, { authorization: bearer('adm-stale-rotated-token-0123456') }, body)).body.message).toMatch(/^the token sent is not valid: mistyped, or rotated or revoked/);
  });

  it.each(ADMIN_ENDPOINTS)('%s %s with the admin token → 200 (the route exists)', async (method, route, body) => {
    const res = await call(method, route, { authorization: bearer(stack.adminToken) }, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it('the dashboard page sends anonymous visitors to the login page, and a wrong token is refused', async () => {
    const page = await call('GET', '/');
    expect(page.status).toBe(302);
    expect(page.location).toBe('/login');
    const login = await fetch(`${stack.baseUrl}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(stack.writeKey)}`,
    });
    expect(login.status).toBe(401);
    expect(login.headers.get('set-cookie')).toBeNull();
  });
});

describe('write keys only write', () => {
  it('the write key writes, and the admin token is not a write key', async () => {
    expect((await call('POST', '/v1/batch', { authorization: basic(stack.writeKey) }, { batch: [event('sec-write-ok')] })).status).toBe(200);
    const admin = await call('POST', '/v1/batch', { authorization: basic(stack.adminToken) }, { batch: [event('sec-write-admin')] });
    expect(admin.status).toBe(401);
    expect(admin.body.code).toBe('invalid_write_key');
  });
});

describe('the SQL endpoint is read-only and bounded', () => {
  it.each([
    ['INSERT', "INSERT INTO events (message_id) VALUES ('sql-injected')"],
    ['DROP', 'DROP TABLE events'],
    ['ALTER', 'ALTER TABLE events DELETE WHERE 1'],
    ['CREATE', 'CREATE TABLE evil (a Int8) ENGINE = Memory'],
    ['SET', 'SET readonly = 0'],
    ['TRUNCATE', 'TRUNCATE TABLE events'],
    ['a multi-statement', 'SELECT 1; DROP TABLE events'],
    ['a multi-statement hidden after a string', "SELECT ';'; DROP TABLE events"],
    ['INTO OUTFILE', "SELECT * FROM events INTO OUTFILE '/tmp/balise-leak.tsv'"],
    ['a system table write', "INSERT INTO system.settings (name) VALUES ('x')"],
    ['SYSTEM', 'SYSTEM SHUTDOWN'],
    ['KILL', 'KILL QUERY WHERE 1'],
    ['a SETTINGS readonly=0 override', 'SELECT 1 SETTINGS readonly = 0'],
    ['a SETTINGS override in a subquery', 'SELECT * FROM (SELECT 1 SETTINGS readonly = 0)'],
    ['a FORMAT clause', 'SELECT 1 FORMAT TabSeparated'],
    // A comment is allowed (`SELECT 1 -- ; DROP TABLE events` runs SELECT 1 only); a comment before a second statement is not a way through.
    ['a statement after a comment', 'SELECT 1 /* harmless */; DROP TABLE events'],
  ])('rejects %s with code sql_rejected', async (_name, query) => {
    const res = await sql(query);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('sql_rejected');
  });

  it('refuses writes that only ClickHouse can recognise (a write table function inside a SELECT)', async () => {
    // Text-level checks pass this; the engine's readonly=1 must refuse it.
    const res = await sql("SELECT * FROM (SELECT 1) WHERE (SELECT count() FROM file('balise-leak.csv', 'CSV', 'a Int8')) > 0");
    // Refused for being a write, by the engine: not any error (a typo in this query would also fail).
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'sql_error', message: expect.stringMatching(/readonly mode/i) });
  });

  it('bounds an enormous query (system.numbers is infinite) by rows, quickly', async () => {
    const res = await sql('SELECT * FROM system.numbers');
    expect(res.status).toBe(200);
    expect(res.body.truncated).toBe(true);
    expect((res.body.rows as unknown[]).length).toBe(10_000);
    expect(res.ms).toBeLessThan(5_000);
  });

  it('bounds an endless aggregation by time, with an error rather than a hang', { timeout: 40_000 }, async () => {
    const res = await sql('SELECT count() FROM system.numbers');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(typeof res.body.code).toBe('string');
    expect(res.ms).toBeLessThan(20_000);
  });

  it('reads system tables without exposing write access, and the ingest still writes afterwards', async () => {
    const tables = await sql("SELECT name FROM system.tables WHERE database = currentDatabase() AND name = 'events'");
    expect(tables.status).toBe(200);
    expect(tables.body.rows).toEqual([['events']]);
    // After every attempt above: nothing injected, the table intact, and ingest unaffected
    // (readonly was scoped to each analyst query, not the shared embedded session).
    expect(await waitForEvent('sql-injected')).toBe(0);
    expect((await call('POST', '/v1/batch', { authorization: basic(stack.writeKey) }, { batch: [event('sec-after-sql')] })).status).toBe(200);
    expect(await waitForEvent('sec-after-sql')).toBe(1);
  });
});

describe('constant-time key comparison', () => {
  it.each([
    ['equal keys', 'wk-logged-secret-4f9a2c', 'wk-logged-secret-4f9a2c', true],
    ['differ in the last character', 'wk-logged-secret-4f9a2c', 'wk-logged-secret-4f9a2d', false],
    ['differ in the first character', 'wk-logged-secret-4f9a2c', 'xk-logged-secret-4f9a2c', false],
    ['a prefix', 'wk-logged-secret-4f9a2c', 'wk-logged', false],
    ['longer', 'wk-logged-secret-4f9a2c', 'wk-logged-secret-4f9a2c0', false],
    ['empty vs key', '', 'wk-logged-secret-4f9a2c', false],
    ['both empty', '', '', true],
    ['unicode equal', 'clé-é', 'clé-é', true],
  ])('%s', (_name, a, b, expected) => {
    expect(constantTimeEquals(a, b)).toBe(expected);
  });
});

describe('secrets never appear in logs', () => {
  it('keeps the write key and the admin token out of the log, even when requests carrying them fail', async () => {
    const sentWithSecrets = [
      call('POST', '/v1/batch', { authorization: basic(stack.writeKey) }, { batch: [{ type: 'track', userId: 42 }] }),
      call('POST', '/v1/batch', { authorization: basic(`${stack.writeKey}x`) }, { batch: [event('sec-bad-key')] }),
      call('POST', '/v1/batch', {}, { writeKey: stack.writeKey, batch: 'nope' }),
      call('POST', '/v1/track', { authorization: basic(stack.writeKey), 'content-type': 'application/json' }),
      call('GET', '/api/kpis', { authorization: bearer(`${stack.adminToken}x`) }),
      call('GET', '/api/funnels/nope', { authorization: bearer(stack.adminToken) }),
      // A query ClickHouse itself refuses: the admin API logs it (warn) and answers 400.
      sql('SELECT no_such_column FROM events'),
      sql('SELECT count() FROM no_such_table'),
      call('POST', '/api/sql', { authorization: bearer(stack.adminToken), 'content-type': 'application/json' }),
    ];
    await Promise.all(sentWithSecrets);
    await new Promise((r) => setTimeout(r, 200));
    const logs = stack.logs();
    // The log is not empty: the server did log at debug level, including the errors above.
    expect(logs).toContain('"level":20');
    expect(logs).toContain('"level":40');
    for (const secret of [stack.writeKey, stack.adminToken, Buffer.from(`${stack.writeKey}:`).toString('base64'), Buffer.from(`${stack.writeKey}x:`).toString('base64')]) {
      expect(logs).not.toContain(secret);
    }
  });
});
