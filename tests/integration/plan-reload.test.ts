/**
 * Changing the plan while Balise runs: one reload refreshes the validators, the typed ev_* views
 * and the KPI definitions together; `balise plan views --apply` goes through the running server,
 * and `balise migrate` says in one line, with a stable code, that the server owns the engine.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { runCli } from '../helpers/process.ts';
import { post, startStack, tempDir, type Stack } from '../helpers/stack.ts';

let stack: Stack;
let planDir: string;
beforeAll(async () => {
  planDir = path.join(tempDir('balise-reload-plan-'), 'plan');
  await fs.cp(FIXTURE_PLAN, planDir, { recursive: true });
  stack = await startStack({ planDir });
});
afterAll(async () => {
  await stack?.stop();
});

async function addProperty(name: string, yaml: string, version: string): Promise<void> {
  const file = path.join(planDir, 'events/mission_posted.yaml');
  await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('properties:\n', `properties:\n  ${name}:\n${yaml}`));
  const plan = path.join(planDir, 'plan.yaml');
  await fs.writeFile(plan, (await fs.readFile(plan, 'utf8')).replace(/^version: .*$/m, `version: ${version}`));
}

const admin = (route: string, method = 'GET') => fetch(`${stack.baseUrl}${route}`, { method, headers: { authorization: `Bearer ${stack.adminToken}` } });
const columns = async (view: string) =>
  (await stack.query<{ name: string }>(`SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String}`, { t: view })).map((c) => c.name);

describe('changing the plan while Balise runs', () => {
  it('POST /api/admin/plan/reload: a new property is validated, appears in ev_mission_posted, and a new KPI on it is served', async () => {
    expect(await columns('ev_mission_posted')).not.toContain('seniority');
    await addProperty('seniority', '    type: string\n    enum: [junior, senior]\n    description: Seniority wanted.\n', '2.1.0');
    const metrics = path.join(planDir, 'kpis/metrics.yaml');
    await fs.appendFile(
      metrics,
      '\n  - id: senior_missions_posted\n    title: Senior missions posted\n    type: count\n    event: mission_posted\n    where: { seniority: senior }\n    grain: week\n',
    );

    const reload = await admin('/api/admin/plan/reload', 'POST');
    expect(reload.status).toBe(200);
    const body = (await reload.json()) as { planVersion: string; views: string[]; kpis: number };
    expect(body.planVersion).toBe('2.1.0');
    expect(body.views).toContain('ev_mission_posted');
    expect(await columns('ev_mission_posted')).toContain('seniority');

    const sent = await post(stack, '/v1/track', {
      userId: 'cmp_r1',
      event: 'mission_posted',
      messageId: 'reload-1',
      properties: { mission_id: 'msn_r1', company_id: 'cmp_r1', category: 'bi', remote: 'remote', seniority: 'senior' },
    });
    expect(sent.status).toBe(200);
    const bad = await post(stack, '/v1/track', {
      userId: 'cmp_r1',
      event: 'mission_posted',
      messageId: 'reload-2',
      properties: { mission_id: 'msn_r2', company_id: 'cmp_r1', category: 'bi', remote: 'remote', seniority: 'intern' },
    });
    expect(bad.body).toMatchObject({ quarantined: 1 });
    await stack.waitForDrained();
    expect(await stack.query('SELECT seniority, plan_version FROM ev_mission_posted WHERE message_id = {id:String}', { id: 'reload-1' })).toEqual([{ seniority: 'senior', plan_version: '2.1.0' }]);

    const kpis = (await (await admin('/api/kpis')).json()) as Array<{ id: string; value: number }>;
    expect(kpis.find((k) => k.id === 'senior_missions_posted')).toMatchObject({ value: 1 });
    expect(body.kpis).toBe(kpis.length + ((await (await admin('/api/funnels')).json()) as unknown[]).length);
  });

  it('a KPI panel asked after a reload uses the new definitions, even while one under the old ones is still being computed', async () => {
    // Viewers asking for the same panel share its computation (GET /api/kpis): never across a reload.
    const reads = stack.warehouse.reads;
    const query = reads.query.bind(reads);
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held = 0;
    const spy = vi.spyOn(reads, 'query').mockImplementation((async (params: Parameters<typeof query>[0]) => {
      if (held++ === 0) await gate;
      return query(params);
    }) as typeof reads.query);
    try {
      const before = admin('/api/kpis');
      await vi.waitFor(() => expect(held).toBeGreaterThan(0));
      await fs.appendFile(path.join(planDir, 'kpis/metrics.yaml'), '\n  - id: missions_posted_after_reload\n    title: Missions posted\n    type: count\n    event: mission_posted\n    grain: week\n');
      expect((await admin('/api/admin/plan/reload', 'POST')).status).toBe(200);
      const after = admin('/api/kpis');
      // The old panel is still held: the new one must not wait for it (a panel joined to the old
      // computation would get its answer, without the new metric, once this lets it go).
      setTimeout(release, 3000).unref();
      const ids = async (res: Promise<Response>) => ((await (await res).json()) as { id: string }[]).map((k) => k.id);
      const afterIds = await ids(after);
      expect(afterIds).toContain('missions_posted_after_reload');
      release();
      const beforeIds = await ids(before);
      expect(beforeIds.length).toBeGreaterThan(0);
      expect(beforeIds).not.toContain('missions_posted_after_reload');
    } finally {
      release();
      spy.mockRestore();
    }
  });

  it('`balise plan views --apply` goes through the running server; `balise migrate` says in one line that it owns the engine', async () => {
    await addProperty('urgent', '    type: boolean\n    description: Must start this week.\n', '2.2.0');
    const env = { BALISE_DATA_DIR: stack.dataDir, BALISE_PLAN_DIR: planDir, BALISE_ADMIN_TOKEN: stack.adminToken };
    const views = await runCli(['plan', 'views', '--apply'], env);
    expect(views.output).toMatch(/^the running Balise \(http:\/\/127\.0\.0\.1:\d+\) reloaded plan 2\.2\.0 and created or replaced \d+ view\(s\): .*ev_mission_posted/);
    // It says what the other API processes on its Redis did (decision 0047): here there are none.
    expect(views.output.split('\n')[1]).toBe('no other API process listens on this Redis');
    expect(views.code).toBe(0);
    expect(await columns('ev_mission_posted')).toContain('urgent');

    const migrate = await runCli(['migrate'], env);
    expect(migrate.code).not.toBe(0);
    expect(migrate.output.trim().split('\n')).toEqual([expect.stringMatching(/^balise: the embedded ClickHouse engine in .* is held by Balise process \d+ \(http:.*\).*\[engine_locked\]$/)]);
    expect(migrate.output).not.toMatch(/Cannot lock/);
  });

  it('says, at reload and from `plan views --apply`, when plan.yaml keeps a published version number with other content', async () => {
    const files = ['plan.yaml', 'events/mission_posted.yaml'].map((f) => path.join(planDir, f));
    const before = await Promise.all(files.map((f) => fs.readFile(f, 'utf8')));
    try {
      // 2.0.0 is published (build/plan-2.0.0.json); the edit keeps its number.
      await addProperty('budget_note', '    type: string\n    description: A note on the budget.\n', '2.0.0');
      const reload = await admin('/api/admin/plan/reload', 'POST');
      expect(reload.status).toBe(200);
      expect(((await reload.json()) as { unpublishedEdits: string | null }).unpublishedEdits).toMatch(
        /^plan\.yaml says version 2\.0\.0, which is published \(build\/plan-2\.0\.0\.json\) with other content: events that declare 2\.0\.0 are judged by the edited files/,
      );
      const env = { BALISE_DATA_DIR: stack.dataDir, BALISE_PLAN_DIR: planDir, BALISE_ADMIN_TOKEN: stack.adminToken };
      const views = await runCli(['plan', 'views', '--apply'], env);
      expect(views.code).toBe(0);
      expect(views.output).toContain('warning: plan.yaml says version 2.0.0, which is published');
    } finally {
      await Promise.all(files.map((f, i) => fs.writeFile(f, before[i]!)));
    }
    // A version of its own (or the published content) says nothing.
    await addProperty('budget_note', '    type: string\n    description: A note on the budget.\n', '2.3.0');
    const bumped = await admin('/api/admin/plan/reload', 'POST');
    expect(((await bumped.json()) as { unpublishedEdits: string | null }).unpublishedEdits).toBeNull();
  });
});
