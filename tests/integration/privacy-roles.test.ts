import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredRoutes } from '../helpers/routes.ts';
import { REPO_ROOT, startStack, type Stack } from '../helpers/stack.ts';

const sha = (t: string) => createHash('sha256').update(t).digest('hex');
const TOKENS = { viewer: 'viewer-token-0123456789abcdef', analyst: 'analyst-token-0123456789abcdef' };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    planDir: path.join(REPO_ROOT, 'tests/fixtures/privacy-plan'),
    queueKeys: { name: 'privacy-roles', prefix: '{prol}' },
    env: { BALISE_TOKENS: `pm:viewer:${sha(TOKENS.viewer)},ana:analyst:${sha(TOKENS.analyst)}` },
  });
});
afterAll(async () => {
  await stack?.stop();
});

type Role = 'viewer' | 'analyst' | 'admin';
/** The least role each /api route needs. Every route the app registers must be here. */
const LEAST_ROLE: Record<string, Role> = {
  'GET /api/kpis': 'viewer',
  'GET /api/funnels': 'viewer',
  'GET /api/funnels/:id': 'viewer',
  'GET /api/trends': 'viewer',
  'GET /api/health/plan': 'viewer',
  'GET /api/health/pipeline': 'viewer',
  // Who dropped off: the entities' ids, person-level data.
  'GET /api/funnels/:id/dropoffs': 'analyst',
  'GET /api/retention': 'viewer',
  'GET /api/retention/:id': 'viewer',
  'POST /api/retention': 'viewer',
  'GET /api/plan/catalog': 'viewer',
  'POST /api/explore/trend': 'viewer',
  'POST /api/explore/funnel': 'viewer',
  'GET /api/people/:id': 'analyst',
  'GET /api/entities/:property/:value': 'analyst',
  'GET /api/live': 'analyst',
  'GET /api/alerts': 'viewer',
  'POST /api/sql': 'analyst',
  'POST /api/admin/replay/quarantine': 'admin',
  'POST /api/admin/replay/dead-letter': 'admin',
  'POST /api/admin/plan/reload': 'admin',
  'POST /api/admin/kpis': 'admin',
  'POST /api/admin/privacy/erase': 'admin',
  'POST /api/admin/privacy/export': 'admin',
  'GET /api/admin/privacy/requests': 'admin',
  'GET /api/admin/audit': 'admin',
  'POST /api/admin/audit': 'admin',
};
/** Where a route's pattern is not enough: the live stream never ends, so ask it with a filter it refuses (400). */
const PATHS: Record<string, string> = { 'GET /api/live': '/api/live?verdict=no_such_verdict' };
/** Bodies that do no harm: refused as invalid (400) when the role is allowed. */
const BODIES: Record<string, unknown> = {
  'POST /api/sql': { query: 'SELECT 1' },
  'POST /api/admin/privacy/erase': { id: '' },
  'POST /api/admin/privacy/export': { id: '' },
  'POST /api/admin/audit': { action: 'test.roles' },
};
const RANK: Record<Role, number> = { viewer: 0, analyst: 1, admin: 2 };

async function call(route: string, headers: Record<string, string>) {
  const [method, pattern] = route.split(' ') as [string, string];
  const body = BODIES[route] ?? (method === 'POST' ? {} : undefined);
  const res = await fetch(`${stack.baseUrl}${PATHS[route] ?? pattern.replace(':id', 'no_such_funnel').replace(':property', 'no_such_property').replace(':value', 'x')}`, {
    method,
    redirect: 'manual',
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as { code?: string } };
}

/** One admin action in the audit log, waited for. */
async function recordAudit(): Promise<void> {
  await fetch(`${stack.baseUrl}/api/admin/audit`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ action: 'test.sql' }),
  });
  await stack.waitForRows('audit_log', 1);
}

const tokenOf = (role: Role) => (role === 'admin' ? stack.adminToken : TOKENS[role]);

describe('roles', () => {
  it('name every /api route the app registers (a new route must be placed in this table)', () => {
    const routes = registeredRoutes(stack.balise.app!).filter((r) => r.split(' ')[1]!.startsWith('/api/') && !r.split(' ')[1]!.startsWith('/api/s/'));
    expect(routes.sort()).toEqual(Object.keys(LEAST_ROLE).sort());
  });

  const cases = Object.entries(LEAST_ROLE).flatMap(([route, least]) => (['viewer', 'analyst', 'admin'] as const).map((role) => [route, role, RANK[role] >= RANK[least]] as const));
  it.each(cases)('%s as %s: allowed %s', async (route, role, allowed) => {
    const res = await call(route, { authorization: `Bearer ${tokenOf(role)}` });
    // Allowed: whatever the route answers (a 403 of its own, such as kpi_write_disabled, included), not the role check's refusal.
    if (allowed) {
      expect(res.status).toBeLessThan(500);
      expect(res.status === 401 || res.body.code === 'forbidden', `${route} as ${role}: ${res.status} ${res.body.code}`).toBe(false);
    } else expect(res).toEqual({ status: 403, body: expect.objectContaining({ code: 'forbidden' }) });
  });

  it('judge a path whatever its letter case, as express routes it', async () => {
    const viewer = { authorization: `Bearer ${TOKENS.viewer}` };
    for (const path of ['/api/Admin/audit', '/api/ADMIN/privacy/requests', '/api/People/u1', '/api/Entities/mission_id/m1', '/API/admin/audit', '/api/Funnels/f/Dropoffs?step=2']) {
      const res = await fetch(`${stack.baseUrl}${path}`, { headers: viewer });
      expect([path, res.status]).toEqual([path, 403]);
    }
  });

  it("keep the audit log and the privacy requests out of an analyst's SQL, by any path; an admin reads them", async () => {
    const sql = (token: string, query: string) =>
      fetch(`${stack.baseUrl}/api/sql`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    await recordAudit();
    for (const query of [
      'SELECT count() FROM audit_log',
      'SELECT * FROM "privacy_requests"',
      'SELECT count() FROM (SELECT actor FROM `Audit_Log`)',
      "SELECT count() FROM merge(currentDatabase(), '^aud')",
      'SELECT count() FROM view(SELECT * FROM audit_log)',
    ]) {
      const res = await sql(TOKENS.analyst, query);
      expect([query, res.status, ((await res.json()) as { code: string }).code]).toEqual([query, 400, 'sql_rejected']);
    }
    // Its name in a string is no read: the table list is metadata.
    expect((await sql(TOKENS.analyst, "SELECT name FROM system.tables WHERE name = 'audit_log'")).status).toBe(200);
    const admin = await sql(stack.adminToken, 'SELECT count() AS n FROM audit_log');
    expect(admin.status).toBe(200);
    expect(Number(((await admin.json()) as { rows: unknown[][] }).rows[0]![0])).toBeGreaterThan(0);
  });

  it('let a viewer explore a funnel, but not list who dropped off (dropOffStep)', async () => {
    const definition = { id: 'x', title: 'x', steps: [{ event: 'order_placed' }, { event: 'order_placed' }] };
    const ask = (token: string, extra: Record<string, unknown>) =>
      fetch(`${stack.baseUrl}/api/explore/funnel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ definition, ...extra }),
      });
    const aggregate = await ask(TOKENS.viewer, {});
    expect(aggregate.status, JSON.stringify(await aggregate.clone().json())).toBe(200);
    const persons = await ask(TOKENS.viewer, { dropOffStep: 2 });
    expect(persons.status).toBe(403);
    expect(await persons.json()).toMatchObject({ code: 'forbidden' });
    expect((await ask(TOKENS.analyst, { dropOffStep: 2 })).status).toBe(200);
  });

  it('log in to the dashboard with a session id in the cookie, never the token', async () => {
    const login = await fetch(`${stack.baseUrl}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${TOKENS.viewer}` });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect(login.headers.get('set-cookie')).not.toMatch(/;\s*Secure/i);
    // Behind a TLS proxy (X-Forwarded-Proto: https) the cookie is Secure.
    const proxied = await fetch(`${stack.baseUrl}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'https' },
      body: `token=${TOKENS.viewer}`,
    });
    expect(proxied.headers.get('set-cookie')).toMatch(/;\s*Secure/i);
    expect(cookie).toMatch(/^balise_session=[A-Za-z0-9_-]{43}$/);
    expect(cookie).not.toContain(TOKENS.viewer);
    expect((await call('GET /api/kpis', { cookie })).status).toBe(200);
    expect((await call('POST /api/sql', { cookie })).status).toBe(403);
    expect((await fetch(`${stack.baseUrl}/`, { redirect: 'manual', headers: { cookie } })).status).toBe(200);
    await fetch(`${stack.baseUrl}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie } });
    expect((await call('GET /api/kpis', { cookie })).status).toBe(401);
    // The raw admin token as a cookie (what the cookie held before) is not a session.
    expect((await call('GET /api/kpis', { cookie: `balise_session=${stack.adminToken}` })).status).toBe(401);
  });

  it('record every admin action with who and when in the audit log', async () => {
    const before = Date.now();
    expect((await call('POST /api/admin/plan/reload', { authorization: `Bearer ${stack.adminToken}` })).status).toBe(200);
    expect((await call('POST /api/admin/privacy/erase', { authorization: `Bearer ${stack.adminToken}` })).status).toBe(400);
    expect((await call('POST /api/admin/audit', { authorization: `Bearer ${stack.adminToken}` })).status).toBe(200);
    // A refused attempt is recorded with who made it; a dry run is told from a real erasure.
    expect((await call('GET /api/admin/audit', { authorization: `Bearer ${TOKENS.viewer}` })).status).toBe(403);
    const dry = await fetch(`${stack.baseUrl}/api/admin/privacy/erase`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'nobody-in-particular', dryRun: true }),
    });
    expect(dry.status).toBe(200);
    const expected = [
      'admin/admin POST /api/admin/plan/reload 200',
      'admin/admin POST /api/admin/privacy/erase 400',
      'admin/admin test.roles 200',
      'pm/viewer GET /api/admin/audit 403',
      'admin/admin POST /api/admin/privacy/erase (dry run) 200',
    ];
    const deadline = Date.now() + 10_000;
    let actions: string[] = [];
    while (Date.now() < deadline) {
      const rows = await stack.query<{ action: string; actor: string; role: string; status: number; at: string }>(
        `SELECT action, actor, role, status, toUnixTimestamp64Milli(at) AS at FROM audit_log WHERE at >= fromUnixTimestamp64Milli({t:Int64}) ORDER BY at`,
        { t: before },
      );
      actions = rows.map((r) => `${r.actor}/${r.role} ${r.action} ${r.status}`);
      if (expected.every((e) => actions.includes(e))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(actions).toEqual(expect.arrayContaining(expected));
  });
});
