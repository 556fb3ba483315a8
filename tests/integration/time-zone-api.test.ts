/**
 * The project time zone end to end (decision 0038): a plan whose plan.yaml says
 * `timezone: Europe/Paris`, answered through the HTTP API, the `balise` CLI (with --tz to
 * override it) and the dashboard in Chromium at 390 and 1280 px, against events whose Paris
 * days, weeks and cohorts were worked out by hand (see tests/integration/time-zone.test.ts for
 * the same instants on the engine alone). Screenshots: test-results/dashboard-time-zone-<width>.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrendResult } from '../../src/analytics/explore.ts';
import type { KpiResult, RetentionResult } from '../../src/analytics/results.ts';
import { dashboardSessionCookie } from '../helpers/dashboard-login.ts';
import { insertWorld } from '../helpers/known-world.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { runCli } from '../helpers/process.ts';
import { REPO_ROOT, startStack, tempDir, type Stack } from '../helpers/stack.ts';
import { launchChromium } from '../helpers/browser.ts';

const PARIS = 'Europe/Paris';
const at = (iso: string) => Date.parse(iso);

/** Proposals received; their Paris weeks: 3 Mar (2), 10 Mar (1), 24 Mar (1), 31 Mar (2). In UTC: 3 Mar (2), 24 Mar (2), 31 Mar (1), and the first falls before 3 Mar. */
const RECEIVED = ['2025-03-02T23:30:00Z', '2025-03-03T23:30:00Z', '2025-03-09T23:30:00Z', '2025-03-30T21:30:00Z', '2025-03-30T22:30:00Z', '2025-03-31T22:30:00Z'];

let stack: Stack;
let planDir: string;

beforeAll(async () => {
  planDir = path.join(tempDir('balise-tz-plan-'), 'plan');
  fs.cpSync(FIXTURE_PLAN, planDir, { recursive: true });
  const planFile = path.join(planDir, 'plan.yaml');
  fs.writeFileSync(planFile, fs.readFileSync(planFile, 'utf8').replace(/^sources:/m, `timezone: ${PARIS}\nsources:`));
  fs.writeFileSync(
    path.join(planDir, 'kpis', 'zone.yaml'),
    [
      'metrics:',
      '  - { id: weekly_proposals_received, title: Proposals received, type: count, event: mission_proposal_received, grain: week }',
      'retention:',
      '  - { id: zone_retention, title: Sign-up to accepted proposal, entity: person, start: freelancer_signup_completed, return: mission_proposal_accepted, grain: week, periods: 3 }',
      '',
    ].join('\n'),
  );
  stack = await startStack({ planDir });
  await insertWorld(stack.warehouse, [
    ...RECEIVED.map((iso, i) => ({ id: `r${i}`, event: 'mission_proposal_received', user: `u${i}`, at: at(iso), props: { mission_id: `m${i}` } })),
    // p1 enters the Paris week of 24 Mar (UTC: 17 Mar), p2 too (UTC: 24 Mar); both accept on Paris Monday 31 Mar 00:30.
    { id: 's1', event: 'freelancer_signup_completed', user: 'p1', at: at('2025-03-23T23:30:00Z') },
    { id: 'a1', event: 'mission_proposal_accepted', user: 'p1', at: at('2025-03-30T22:30:00Z') },
    { id: 's2', event: 'freelancer_signup_completed', user: 'p2', at: at('2025-03-24T08:00:00Z') },
    { id: 'a2', event: 'mission_proposal_accepted', user: 'p2', at: at('2025-03-30T22:30:00Z') },
  ]);
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

const cli = (args: string[]) => runCli(args, { BALISE_URL: stack.baseUrl, BALISE_ADMIN_TOKEN: stack.adminToken, BALISE_PLAN_DIR: planDir, NO_COLOR: '1' });
const RANGE = 'from=2025-03-03&to=2025-04-06';
const seriesOf = (k: KpiResult | undefined) => Object.fromEntries((k?.series ?? []).filter((p) => p.value !== 0).map((p) => [p.bucket.slice(0, 10), p.value]));
const cohortsOf = (r: RetentionResult) => r.cohorts.map((c) => [c.cohort, c.entered, c.cells.map((x) => x.entities)]);

describe('the API follows plan.yaml timezone:', () => {
  it('cuts KPI weeks, the range and retention cohorts at Paris midnights; ?tz= overrides it', async () => {
    const kpis = await api<KpiResult[]>('GET', `/api/kpis?${RANGE}`);
    expect(kpis.status).toBe(200);
    const received = kpis.body.find((k) => k.id === 'weekly_proposals_received');
    expect(received?.range).toEqual({ from: '2025-03-02T23:00:00.000Z', to: '2025-04-06T22:00:00.000Z', isDefault: false, defaultDays: 90, timeZone: PARIS });
    expect([received?.value, seriesOf(received)]).toEqual([6, { '2025-03-03': 2, '2025-03-10': 1, '2025-03-24': 1, '2025-03-31': 2 }]);
    const utc = (await api<KpiResult[]>('GET', `/api/kpis?${RANGE}&tz=UTC`)).body.find((k) => k.id === 'weekly_proposals_received');
    expect([utc?.value, utc?.previous, seriesOf(utc)]).toEqual([5, 1, { '2025-03-03': 2, '2025-03-24': 2, '2025-03-31': 1 }]);

    const retention = await api<RetentionResult>('GET', `/api/retention/zone_retention?${RANGE}`);
    expect(cohortsOf(retention.body)).toEqual([['2025-03-24', 2, [0, 2, 0]]]);
    const retentionUtc = await api<RetentionResult>('GET', `/api/retention/zone_retention?${RANGE}&tz=UTC`);
    expect(cohortsOf(retentionUtc.body)).toEqual([
      ['2025-03-17', 1, [0, 1, 0]],
      ['2025-03-24', 1, [1, 0, 0]],
    ]);
  }, 60_000);

  it('explores a daily trend in Paris days', async () => {
    const definition = { id: 'explored', type: 'count', event: 'mission_proposal_received', grain: 'day' };
    const res = await api<{ result: TrendResult }>('POST', '/api/explore/trend', { definition, from: '2025-03-03', to: '2025-04-06' });
    expect(res.status).toBe(200);
    const days = Object.fromEntries(res.body.result.buckets.map((b, i) => [b, res.body.result.series[0]?.values[i]]).filter(([, v]) => v !== 0));
    expect(days).toEqual({ '2025-03-03': 1, '2025-03-04': 1, '2025-03-10': 1, '2025-03-30': 1, '2025-03-31': 1, '2025-04-01': 1 });
    expect(res.body.result.timeZone).toBe(PARIS);
  }, 60_000);

  it('refuses an unknown zone with invalid_time_zone, and answers the next request as before', async () => {
    const bad = await api<{ code: string; message: string }>('GET', `/api/kpis?${RANGE}&tz=Mars/Olympus_Mons`);
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ success: false, code: 'invalid_time_zone', message: expect.stringContaining('Mars/Olympus_Mons') });
    expect((await api('GET', `/api/kpis?${RANGE}`)).status).toBe(200);
  }, 60_000);
});

describe('the CLI says and uses the zone', () => {
  it('prints the Paris range and cohorts; --tz UTC gives the UTC answer', async () => {
    const text = await cli(['retention', 'zone_retention', '--from', '2025-03-03', '--to', '2025-04-06']);
    expect(text.code).toBe(0);
    expect(text.output).toContain('2025-03-03 → 2025-04-06 (Europe/Paris)');
    const json = await cli(['retention', 'zone_retention', '--from', '2025-03-03', '--to', '2025-04-06', '--json']);
    expect(cohortsOf(JSON.parse(json.output) as RetentionResult)).toEqual([['2025-03-24', 2, [0, 2, 0]]]);
    const utc = await cli(['retention', 'zone_retention', '--from', '2025-03-03', '--to', '2025-04-06', '--tz', 'UTC', '--json']);
    expect(cohortsOf(JSON.parse(utc.output) as RetentionResult).map(([cohort]) => cohort)).toEqual(['2025-03-17', '2025-03-24']);
    const kpis = await cli(['kpis', '--from', '2025-03-03', '--to', '2025-04-06', '--json']);
    expect(seriesOf((JSON.parse(kpis.output) as KpiResult[]).find((k) => k.id === 'weekly_proposals_received'))).toEqual({ '2025-03-03': 2, '2025-03-10': 1, '2025-03-24': 1, '2025-03-31': 2 });
    const bad = await cli(['kpis', '--tz', 'Europe/Pariss', '--json']);
    // An option's value refused: a usage error.
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.output)).toMatchObject({ error: { code: 'invalid_time_zone' } });
  }, 60_000);
});

describe.each([390, 1280])('the dashboard in Paris at %i px', (width) => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('says the range is in Europe/Paris and reads the Paris weeks off the Explore page', async () => {
    const context = await browser.newContext({ viewport: { width, height: 900 }, timezoneId: 'America/New_York' });
    await context.addCookies([await dashboardSessionCookie(stack.baseUrl, stack.adminToken)]);
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const q = JSON.stringify({ kind: 'trend', id: 'explored', title: '', type: 'count', event: 'mission_proposal_received', property: '', grain: 'week', breakdown: '', where: [] });
    await page.goto(`${stack.baseUrl}/explore?${RANGE}&q=${encodeURIComponent(q)}`, { timeout: 60_000 });
    await page.waitForSelector('[data-trend-totals] [data-field="total"]');
    // The browser runs in New York: the page still counts Paris days, and says so.
    expect(await page.textContent('#range-text')).toBe('3 Mar 2025 – 6 Apr 2025 (35 days, in Europe/Paris)');
    expect(await page.locator('[data-trend-totals] [data-field="total"]').allTextContents()).toEqual(['6']);
    const rows = await page.locator('table[data-trend] tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td, th')].map((c) => c.textContent?.trim())));
    expect(rows).toEqual([
      ['2025-03-03', '2'],
      ['2025-03-10', '1'],
      ['2025-03-17', '0'],
      ['2025-03-24', '1'],
      ['2025-03-31', '2'],
    ]);
    expect(await page.textContent('#explore-result h3')).toContain('(Europe/Paris)');
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    fs.mkdirSync(path.join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-results', `dashboard-time-zone-${width}.png`), fullPage: true });
    // The overview's presets follow Paris's today, and its range line names the zone.
    await page.goto(`${stack.baseUrl}/?range=7d`, { timeout: 60_000 });
    await page.waitForFunction(() => /^(Loaded|Could not)/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    expect(await page.textContent('#range-text')).toMatch(/^Last 7 days: .* \(7 days, in Europe\/Paris; the last day is not over yet\)$/);
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);
});
