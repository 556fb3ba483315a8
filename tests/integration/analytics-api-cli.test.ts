/**
 * Retention and funnel answers through the real HTTP API and the real `balise` CLI process,
 * on a generated world whose answers are known exactly (tests/helpers/known-world.ts).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../helpers/process.ts';
import { REPO_ROOT, startStack, tempDir, type Stack } from '../helpers/stack.ts';
import { DAY, generateWorld, insertWorld, weeklyRetentionTruth, WORLD_START, type World } from '../helpers/known-world.ts';
import type { RetentionResult } from '../../src/analytics/results.ts';

let stack: Stack;
let world: World;

beforeAll(async () => {
  stack = await startStack();
  world = generateWorld(33, 120);
  await insertWorld(stack.warehouse, world.events);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function api<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.baseUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${stack.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

type Kpis = { id: string; value: number | null }[];

const cli = (args: string[]) => runCli(args, { BALISE_URL: stack.baseUrl, BALISE_ADMIN_TOKEN: stack.adminToken, NO_COLOR: '1' });

/** cohort → [entered, returned per period], from a result. */
const table = (r: RetentionResult) => r.cohorts.map((c) => [c.cohort, c.entered, c.cells.map((x) => x.entities)]);

describe('funnel breakdowns over HTTP and the CLI', () => {
  it('refuses a breakdown property the entry step lacks (it used to show every category converting 100%)', async () => {
    const res = await api<{ code: string; message: string }>('GET', '/api/funnels/freelancer_activation?breakdown=category');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('unknown_breakdown_property');
    const run = await cli(['funnel', 'freelancer_activation', '--breakdown', 'category', '--json']);
    // An option's value the server refused: a usage error (2), like --from garbage.
    expect(run.code).toBe(2);
    expect(JSON.parse(run.output)).toMatchObject({ error: { code: 'unknown_breakdown_property', message: expect.stringContaining('person.category') } });
  }, 60_000);

  it("breaks the shipped activation funnel down by the person's category trait, exactly", async () => {
    const res = await api<{ breakdown: { groups: { value: string; entered: number; counts: number[] }[] } }>(
      'GET',
      '/api/funnels/freelancer_activation?from=2025-03-03&to=2025-03-30&breakdown=person.category',
    );
    expect(res.status).toBe(200);
    // Sign-up → a proposal received within 90 days → a completed mission (none in this world).
    const expected = new Map<string, [number, number]>();
    for (const p of world.persons) {
      const g = expected.get(p.category) ?? [0, 0];
      g[0]++;
      if (p.accepts.some((at) => at - 3_600_000 > p.signupAt && at - 3_600_000 <= p.signupAt + 90 * DAY)) g[1]++;
      expected.set(p.category, g);
    }
    const got = new Map(res.body.breakdown.groups.map((g) => [g.value, [g.entered, g.counts[1]]]));
    expect(got).toEqual(expected);
    const text = await cli(['funnel', 'freelancer_activation', '--from', '2025-03-03', '--to', '2025-03-30', '--breakdown', 'person.category']);
    expect(text.code).toBe(0);
    expect(text.output).toContain('By person.category (latest traits):');
  }, 60_000);
});

describe('retention over HTTP and the CLI', () => {
  it('answers the shipped definition exactly, by id and ad hoc, and the CLI prints the same', async () => {
    const list = await api<{ id: string }[]>('GET', '/api/retention');
    expect(list.body.map((d) => d.id)).toContain('freelancer_proposal_retention');

    const truth = weeklyRetentionTruth(world, WORLD_START, WORLD_START + 28 * DAY, Date.now(), 8);
    const expected = [...truth.cohorts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([cohort, c]) => [cohort, c.entered, c.returned]);
    expect(expected).toHaveLength(4);

    const byId = await api<RetentionResult>('GET', '/api/retention/freelancer_proposal_retention?from=2025-03-03&to=2025-03-30');
    expect(byId.status).toBe(200);
    expect(table(byId.body)).toEqual(expected);
    expect(byId.body.range).toEqual({ from: '2025-03-03T00:00:00.000Z', to: '2025-03-31T00:00:00.000Z', isDefault: false, defaultDays: 90, timeZone: 'UTC' });
    expect(byId.body.cohorts.flatMap((c) => c.cells).every((c) => c.status === 'complete')).toBe(true);

    const adHoc = await api<RetentionResult>('POST', '/api/retention?from=2025-03-03&to=2025-03-30', {
      start: 'freelancer_signup_completed',
      return: 'mission_proposal_accepted',
      grain: 'week',
      periods: 8,
    });
    expect(adHoc.status).toBe(200);
    expect(table(adHoc.body)).toEqual(expected);

    const json = await cli(['retention', 'freelancer_proposal_retention', '--from', '2025-03-03', '--to', '2025-03-30', '--json']);
    expect(json.code).toBe(0);
    expect(table(JSON.parse(json.output) as RetentionResult)).toEqual(expected);

    const text = await cli(['retention', 'freelancer_proposal_retention', '--from', '2025-03-03', '--to', '2025-03-30']);
    expect(text.code).toBe(0);
    expect(text.output).toContain('2025-03-03 → 2025-03-30');
    const [cohort, entered] = expected[0] as [string, number];
    expect(text.output).toMatch(new RegExp(`│ ${cohort}\\s+│ ${entered}\\s+│`));
  }, 60_000);

  it('refuses an ad-hoc definition the plan does not know, and an unknown id, with stable codes', async () => {
    const bad = await api<{ code: string; message: string }>('POST', '/api/retention', { start: 'freelancer_signup_completed', return: 'mission_proposal_acepted' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('kpi_definition_invalid');
    expect(bad.body.message).toContain('"mission_proposal_acepted" is not in the tracking plan');
    const missing = await api<{ code: string }>('GET', '/api/retention/nope');
    expect([missing.status, missing.body.code]).toEqual([404, 'retention_not_found']);
    const run = await cli(['retention', 'nope', '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.output)).toMatchObject({ error: { code: 'retention_not_found' } });
  }, 60_000);

  it('uses the one default range when none is given, and says so', async () => {
    const r = await api<RetentionResult>('GET', '/api/retention/freelancer_proposal_retention');
    expect(r.body.range.isDefault).toBe(true);
    expect((Date.parse(r.body.range.to) - Date.parse(r.body.range.from)) / DAY).toBe(90);
    const kpis = await api<{ range: { isDefault: boolean; from: string } }[]>('GET', '/api/kpis');
    expect(kpis.body[0]?.range).toEqual(r.body.range);
  });
});

/** `balise sql` with `input` piped to its standard input; stdout alone. */
function cliWithStdin(args: string[], input: string): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/balise.js'), ...args], {
    env: { ...process.env, BALISE_URL: stack.baseUrl, BALISE_ADMIN_TOKEN: stack.adminToken, LOG_LEVEL: 'warn' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout })));
}

describe('balise sql formats and sources', () => {
  const QUERY = "SELECT 'a,b' AS text, 'say \"hi\"' AS quoted, 3 AS n";

  it('prints CSV (RFC 4180 quoting), JSON and a table, from an argument, a file or standard input', async () => {
    const csv = await cli(['sql', '--format', 'csv', QUERY]);
    expect(csv.code).toBe(0);
    expect(csv.output).toBe('text,quoted,n\r\n"a,b","say ""hi""",3\r\n');

    const dir = tempDir('balise-sql-file-');
    const file = path.join(dir, 'q.sql');
    fs.writeFileSync(file, `-- a saved question\n${QUERY};\n`);
    const json = await cli(['sql', '--file', file, '--format', 'json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.output)).toEqual({
      columns: [
        { name: 'text', type: 'String' },
        { name: 'quoted', type: 'String' },
        { name: 'n', type: 'UInt8' },
      ],
      rows: [['a,b', 'say "hi"', 3]],
      truncated: false,
    });
    fs.rmSync(dir, { recursive: true, force: true });

    const piped = await cliWithStdin(['sql', '--format', 'csv'], 'SELECT count() AS persons FROM persons');
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe(`persons\r\n${new Set(world.persons.map((p) => p.id)).size * 2}\r\n`);
    const dash = await cliWithStdin(['sql', '-'], 'SELECT 42 AS answer');
    expect(dash.stdout).toContain('│ 42     │');
  }, 60_000);

  it('refuses a bad format and an argument given twice as usage errors', async () => {
    expect((await cli(['sql', '--format', 'xml', 'SELECT 1'])).code).toBe(2);
    const both = await cli(['sql', 'SELECT 1', '--file', '/nonexistent', '--json']);
    expect(both.code).toBe(2);
    expect(JSON.parse(both.output)).toMatchObject({ error: { code: 'usage' } });
  }, 60_000);
});

describe('the KPI panel asked by several viewers at once', () => {
  it('is computed once for all of them, and again for the next viewer', async () => {
    // The known world's weeks, and a range of no events at all for "another panel".
    const panel = `/api/kpis?from=${new Date(WORLD_START).toISOString()}&to=${new Date(WORLD_START + 60 * DAY).toISOString()}`;
    const queries = vi.spyOn(stack.warehouse.reads, 'query');
    try {
      const alone = await api<Kpis>('GET', panel);
      const perPanel = queries.mock.calls.length;
      expect(alone.status).toBe(200);
      expect(alone.body.some((k) => (k.value ?? 0) > 0)).toBe(true);
      expect(perPanel).toBeGreaterThan(0);

      queries.mockClear();
      const together = await Promise.all([1, 2, 3].map(() => api<Kpis>('GET', panel)));
      expect(together.map((r) => r.body)).toEqual([alone.body, alone.body, alone.body]);
      expect(queries.mock.calls.length).toBe(perPanel);

      // Shared while it runs, never kept: the next viewer's panel is computed afresh.
      queries.mockClear();
      expect((await api<Kpis>('GET', panel)).body).toEqual(alone.body);
      expect(queries.mock.calls.length).toBe(perPanel);

      // Another range is another panel.
      queries.mockClear();
      await Promise.all([api<Kpis>('GET', panel), api<Kpis>('GET', '/api/kpis?from=2025-01-01&to=2025-02-01')]);
      expect(queries.mock.calls.length).toBe(2 * perPanel);
    } finally {
      queries.mockRestore();
    }
  });
});
