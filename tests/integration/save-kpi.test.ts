/**
 * "Save as code" written by the server (decision 0039): POST /api/admin/kpis writes an Explore
 * definition into the plan's kpis/ only where BALISE_KPIS_WRITABLE allows it, never over an
 * existing id or file, through the same parse and lint as `balise plan check` (which passes
 * afterwards), audited; and the Explore page's button uses it (Chromium at 390 and 1280 px).
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { KpiResult } from '../../src/analytics/results.ts';
import { planCheckAction } from '../../src/cli/plan.ts';
import { dashboardSessionCookie } from '../helpers/dashboard-login.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { freePort, startBaliseProcess, TEST_ADMIN_TOKEN, type BaliseProcess } from '../helpers/process.ts';
import { REPO_ROOT, startStack, tempDir, type Stack } from '../helpers/stack.ts';
import { ERROR_STATUS, type ErrorCode } from '../../src/errors.ts';
import { launchChromium } from '../helpers/browser.ts';

let stack: Stack;
let planDir: string;

beforeAll(async () => {
  planDir = path.join(tempDir('balise-save-kpi-'), 'plan');
  fs.cpSync(FIXTURE_PLAN, planDir, { recursive: true });
  stack = await startStack({ planDir, env: { BALISE_KPIS_WRITABLE: 'true' }, queueKeys: { name: 'save-kpi', prefix: '{savekpi}' } });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function save(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${stack.baseUrl}/api/admin/kpis`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const kpisFiles = () => fs.readdirSync(path.join(planDir, 'kpis')).sort();
const eventKpis = (event: string) => fs.readFileSync(path.join(planDir, 'events', `${event}.yaml`), 'utf8');

describe('POST /api/admin/kpis', () => {
  it('writes kpis/<id>.yaml and the events’ kpis: lists, after which plan check passes and the KPI is served', async () => {
    const res = await save({ kind: 'metric', definition: { id: 'saved_posts', title: 'Missions posted (saved)', type: 'count', event: 'mission_posted', grain: 'week' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: 'saved_posts', file: 'kpis/saved_posts.yaml', eventsUpdated: ['events/mission_posted.yaml'] });
    const text = fs.readFileSync(path.join(planDir, 'kpis', 'saved_posts.yaml'), 'utf8');
    expect(text).toBe(res.body.yaml);
    expect(text).toContain('metrics:\n  - id: saved_posts\n    title: Missions posted (saved)\n    type: count\n    event: mission_posted\n    grain: week\n');
    expect((parse(eventKpis('mission_posted')) as { kpis: string[] }).kpis).toEqual(['company_hiring', 'weekly_missions_posted', 'saved_posts']);
    const check = await planCheckAction(planDir);
    expect(check.messages.filter((m) => m.severity === 'error')).toEqual([]);
    const kpis = (await (await fetch(`${stack.baseUrl}/api/kpis`, { headers: { authorization: `Bearer ${stack.adminToken}` } })).json()) as KpiResult[];
    expect(kpis.map((k) => k.id)).toContain('saved_posts');
    // The audit log names who saved, with the answer's status.
    let actions: string[] = [];
    for (let i = 0; i < 50 && !actions.includes('POST /api/admin/kpis 201'); i++) {
      const audit = (await (await fetch(`${stack.baseUrl}/api/admin/audit`, { headers: { authorization: `Bearer ${stack.adminToken}` } })).json()) as { entries: { action: string; status: number }[] };
      actions = audit.entries.map((e) => `${e.action} ${e.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(actions).toContain('POST /api/admin/kpis 201');
  }, 60_000);

  it('refuses an id saved before, and keeps the file written first', async () => {
    // Its own id and event: the test stands alone, in any order.
    const first = await save({ kind: 'metric', definition: { id: 'saved_twice', type: 'count', event: 'mission_started', grain: 'week' } });
    expect(first.status).toBe(201);
    const before = kpisFiles();
    const started = eventKpis('mission_started');
    const again = await save({ kind: 'metric', definition: { id: 'saved_twice', type: 'count', event: 'mission_completed', grain: 'day' } });
    expect([again.status, again.body.code]).toEqual([409, 'kpi_exists']);
    expect(kpisFiles()).toEqual(before);
    expect(eventKpis('mission_started')).toBe(started);
    expect(fs.readFileSync(path.join(planDir, 'kpis', 'saved_twice.yaml'), 'utf8')).toContain('event: mission_started');
  }, 60_000);

  it.each([
    ['the id of a shipped definition', { kind: 'funnel', definition: { id: 'freelancer_activation', steps: ['freelancer_signup_completed', 'mission_completed'] } }, 'kpi_exists'],
    ['an event the plan lacks', { kind: 'metric', definition: { id: 'ghost', type: 'count', event: 'no_such_event', grain: 'day' } }, 'kpi_definition_invalid'],
    ['a kind that is not metric or funnel', { kind: 'retention', definition: { id: 'r' } }, 'explore_invalid'],
  ])(
    'refuses %s and writes nothing',
    async (_label, body, code) => {
      const before = kpisFiles();
      const posted = eventKpis('mission_completed');
      const res = await save(body);
      expect(res.status).toBe(ERROR_STATUS[code as ErrorCode]);
      expect(res.body.code).toBe(code);
      expect(kpisFiles()).toEqual(before);
      expect(eventKpis('mission_completed')).toBe(posted);
    },
    60_000,
  );
});

describe('without BALISE_KPIS_WRITABLE', () => {
  // Another process: one engine per process, and this one's belongs to the stack above.
  let readOnly: BaliseProcess;
  let readOnlyPlan: string;
  beforeAll(async () => {
    readOnlyPlan = path.join(tempDir('balise-save-kpi-off-'), 'plan');
    fs.cpSync(FIXTURE_PLAN, readOnlyPlan, { recursive: true });
    readOnly = await startBaliseProcess('up', tempDir(), await freePort(), { BALISE_PLAN_DIR: readOnlyPlan });
  }, 120_000);
  afterAll(async () => {
    readOnly?.child.kill('SIGTERM');
    await readOnly?.exited;
  });

  it('refuses with kpi_write_disabled, writes nothing, and the Explore page offers no save button', async () => {
    const before = fs.readdirSync(path.join(readOnlyPlan, 'kpis')).sort();
    const res = await fetch(`${readOnly.baseUrl}/api/admin/kpis`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'metric', definition: { id: 'nope', type: 'count', event: 'mission_posted', grain: 'week' } }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe('kpi_write_disabled');
    expect(fs.readdirSync(path.join(readOnlyPlan, 'kpis')).sort()).toEqual(before);
    const cookie = await dashboardSessionCookie(readOnly.baseUrl, TEST_ADMIN_TOKEN);
    const page = await fetch(`${readOnly.baseUrl}/explore`, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
    const html = await page.text();
    expect(html).toContain('data-page="explore"');
    expect(html).not.toContain('data-save-kpis');
  }, 60_000);
});

describe.each([390, 1280])('the Explore page saves at %i px', (width) => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('writes the definition on screen into kpis/ and says where', async () => {
    const id = `explored_${width}`;
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    await context.addCookies([await dashboardSessionCookie(stack.baseUrl, stack.adminToken)]);
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const q = JSON.stringify({ kind: 'trend', id, title: '', type: 'unique_persons', event: 'mission_completed', property: '', grain: 'month', breakdown: '', where: [] });
    await page.goto(`${stack.baseUrl}/explore?range=30d&q=${encodeURIComponent(q)}`, { timeout: 60_000 });
    await page.waitForSelector('[data-field="yaml"]');
    await page.click('[data-action="save-kpi"]');
    await page.waitForFunction(() => /Saved|Not saved/.test(document.querySelector('[data-field="save-result"]')?.textContent ?? ''));
    expect(await page.textContent('[data-field="save-result"]')).toBe(`Saved kpis/${id}.yaml; kpis: lists updated in events/mission_completed.yaml. Commit it for review.`);
    expect(fs.readFileSync(path.join(planDir, 'kpis', `${id}.yaml`), 'utf8')).toContain(`  - id: ${id}\n    type: unique_persons\n    event: mission_completed\n    grain: month\n`);
    // Saving the same id again (the page reloaded) is refused on screen, not written over.
    expect(await page.isDisabled('[data-action="save-kpi"]')).toBe(true);
    await page.reload();
    await page.waitForSelector('[data-action="save-kpi"]');
    await page.click('[data-action="save-kpi"]');
    await page.waitForFunction(() => /Not saved/.test(document.querySelector('[data-field="save-result"]')?.textContent ?? ''));
    expect(await page.textContent('[data-field="save-result"]')).toContain('(kpi_exists)');
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    fs.mkdirSync(path.join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-results', `dashboard-save-kpi-${width}.png`), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);
});
