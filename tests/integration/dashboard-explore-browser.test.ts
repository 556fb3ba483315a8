/**
 * The dashboard in Chromium at a phone width (390 px) and a desktop width (1280 px): no sideways
 * overflow, the violation table's last column visible, anchors below the sticky header, the range
 * in the URL across a reload, sparklines and a ratio's change in points, CSV downloads, the Explore
 * page's numbers and its YAML passing plan check, and a drop-off opening a person's timeline.
 * Screenshots go to test-results/ (dashboard-<page>-<width>.png).
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KpiResult } from '../../src/analytics/results.ts';
import type { PlanCatalog } from '../../src/api/catalog.ts';
import type { EventRow, QuarantineRow } from '../../src/types.ts';
import { insertJsonLines } from '../../src/warehouse/insert.ts';
import { REPO_ROOT, startStack, type Stack } from '../helpers/stack.ts';
import { dashboardSessionCookie } from '../helpers/dashboard-login.ts';
import { worldRow } from '../helpers/known-world.ts';
import { planCheckWith } from '../helpers/plan-check.ts';
import { launchChromium } from '../helpers/browser.ts';
import { expectScrollingRegion } from '../helpers/wide-tables.ts';

const H = 3_600_000;
const D = 24 * H;
const LONG_EVENT = 'freelancer_signup_step_completed_with_a_very_long_unplanned_suffix_name';

let stack: Stack;
let browser: Browser;
const NOW = Date.now();
const T0 = NOW - 20 * D;

let n = 0;
const row = (type: EventRow['type'], event: string, ids: { user?: string; anon?: string }, at: number, props: Record<string, unknown> = {}): EventRow =>
  worldRow({ id: `eb-${++n}`, type, event, user: ids.user, anon: ids.anon, at, props });

/** Alice (two anonymous ids) converts; Bob stops after a proposal; Carol after starting sign-up. */
function world(): EventRow[] {
  const received = (ids: { user?: string; anon?: string }, at: number, mission: string) =>
    row('track', 'mission_proposal_received', ids, at, { mission_id: mission, category: 'bi', match_score: 0.5 });
  const accepted = (ids: { user?: string; anon?: string }, at: number, mission: string) =>
    row('track', 'mission_proposal_accepted', ids, at, { mission_id: mission, freelancer_id: 'fr_x', company_id: 'cmp_1' });
  return [
    row('track', 'freelancer_signup_started', { anon: 'anon_a1' }, T0),
    row('identify', '', { user: 'u_alice', anon: 'anon_a1' }, T0 + 60_000),
    received({ anon: 'anon_a2' }, T0 + D, 'msn_1'),
    row('identify', '', { user: 'u_alice', anon: 'anon_a2' }, T0 + D + 60_000),
    row('track', 'mission_completed', { user: 'u_alice' }, T0 + 3 * D, { mission_id: 'msn_1', freelancer_id: 'fr_a', company_id: 'cmp_1' }),
    row('track', 'freelancer_signup_started', { anon: 'anon_b1' }, T0 + H),
    row('identify', '', { user: 'u_bob', anon: 'anon_b1' }, T0 + 2 * H),
    received({ user: 'u_bob' }, T0 + 2 * D, 'msn_2'),
    received({ user: 'u_bob' }, T0 + 2 * D + H, 'msn_3'),
    received({ user: 'u_bob' }, T0 + 2 * D + 2 * H, 'msn_4'),
    accepted({ user: 'u_alice' }, T0 + 2 * D, 'msn_1'),
    row('track', 'freelancer_signup_started', { anon: 'anon_c1' }, T0 + 4 * H),
    // The previous 90 days: 2 proposals received, 1 accepted (50%); now 4 and 1 (25%): −25.0 pts.
    received({ user: 'u_old' }, NOW - 100 * D, 'msn_8'),
    received({ user: 'u_old' }, NOW - 100 * D + H, 'msn_9'),
    accepted({ user: 'u_old' }, NOW - 100 * D + 2 * H, 'msn_8'),
  ];
}

function quarantined(i: number, event: string, anon: string): QuarantineRow {
  return {
    message_id: `eb-q${i}`,
    received_at: T0 + D + i * H,
    source: 'test',
    type: 'track',
    event,
    plan_version: '2.0.0',
    reasons: ['unplanned_event_in_a_long_rule_name'],
    violations: JSON.stringify([{ path: '/event', rule: 'unplanned_event', message: 'not in the plan' }]),
    raw: JSON.stringify({ type: 'track', event, userId: '', anonymousId: anon, timestamp: T0 + D + i * H, properties: {} }),
  };
}

beforeAll(async () => {
  stack = await startStack();
  await insertJsonLines(
    stack.warehouse,
    'events',
    world().map((r) => JSON.stringify(r)),
  );
  await insertJsonLines(
    stack.warehouse,
    'quarantine',
    [quarantined(1, LONG_EVENT, 'anon_a2'), quarantined(2, `${LONG_EVENT}_two`, 'anon_zz')].map((r) => JSON.stringify(r)),
  );
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function open(width: number, route: string): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width, height: 900 }, acceptDownloads: true });
  await context.addCookies([await dashboardSessionCookie(stack.baseUrl, stack.adminToken)]);
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on('console', (m) => (m.type() === 'error' && !m.text().startsWith('Failed to load resource') ? errors.push(m.text()) : undefined));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${stack.baseUrl}${route}`, { timeout: 60_000 });
  await loaded(page);
  return { page, errors };
}

const loaded = (page: Page) => page.waitForFunction(() => /^(Loaded|Could not)/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 });

/** Explore's three-step funnel signup started → proposal received → mission completed, built in the form and loaded. */
async function exploreActivationFunnel(page: Page): Promise<void> {
  await page.selectOption('[data-control="kind"]', 'funnel');
  await page.locator('[data-control="step-event"]').nth(0).selectOption('freelancer_signup_started');
  await page.locator('[data-control="step-event"]').nth(1).selectOption('mission_proposal_received');
  await page.click('[data-add-step]');
  await page.locator('[data-control="step-event"]').nth(2).selectOption('mission_completed');
  await page.waitForFunction(() => document.querySelector('[data-field="yaml"]')?.textContent?.includes('mission_completed'));
  await loaded(page);
}

async function screenshot(page: Page, name: string): Promise<void> {
  const dir = path.join(REPO_ROOT, 'test-results');
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `dashboard-${name}.png`), fullPage: true });
}

async function api<T>(route: string): Promise<T> {
  const response = await fetch(`${stack.baseUrl}${route}`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

const overflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

describe.each([390, 1280])('dashboard at %i px', (width) => {
  it('overview: no sideways overflow, the range said on screen, a sparkline per tile, the ratio in points', async () => {
    const { page, errors } = await open(width, '/');
    expect(await page.textContent('#status')).toMatch(/^Loaded /);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    expect(await page.textContent('#range-text')).toMatch(/^Last 90 days: .* \(90 days, in UTC; the last day is not over yet\)$/);
    expect(new URL(page.url()).searchParams.get('range')).toBe('90d');
    // A sparkline on every tile whose KPI has a series (the API's answer for the same range).
    const kpis = await api<KpiResult[]>(`/api/kpis?from=${await page.inputValue('#from')}&to=${await page.inputValue('#to')}`);
    const withSeries = kpis.filter((k) => k.series.length > 0).map((k) => k.id);
    expect(withSeries.length).toBeGreaterThanOrEqual(4);
    expect(await page.locator('[data-kpi]:has([data-field="sparkline"] svg)').evaluateAll((els) => els.map((e) => e.getAttribute('data-kpi')))).toEqual(withSeries);
    const points = kpis.find((k) => k.id === 'proposals_received')!.series.length;
    expect(await page.locator('[data-kpi="proposals_received"] [data-field="sparkline"]').getAttribute('data-points')).toBe(String(points));
    expect(await page.locator('[data-kpi="proposal_acceptance_rate"] .value').textContent()).toBe('25.0%');
    expect(await page.locator('[data-kpi="proposal_acceptance_rate"] [data-field="change"]').textContent()).toBe('▼ −25.0 pts');
    expect(await page.locator('[data-kpi="proposals_received"] [data-field="change"]').textContent()).toBe('▲ +100.0%');
    // Long client-sent event names wrap: the violation table's rate is on screen, not scrolled away.
    const rate = page.locator('[data-violations="rates"] tbody tr td.num').last();
    const box = await rate.boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(width);
    expect(await page.locator('[data-violations="rates"]').evaluate((t) => t.parentElement!.scrollWidth <= t.parentElement!.clientWidth)).toBe(true);
    await screenshot(page, `overview-${width}`);
    expect(errors).toEqual([]);
  });

  it('explore and people pages fit the width too', async () => {
    for (const route of ['/explore', '/people?id=anon_a2']) {
      const { page, errors } = await open(width, route);
      expect(await page.textContent('#status'), route).toMatch(/^Loaded /);
      expect(await overflow(page), route).toBeLessThanOrEqual(0);
      await screenshot(page, `${route.slice(1, 7)}-${width}`);
      expect(errors).toEqual([]);
    }
  });
});

describe('dashboard at 1280 px: layout details', () => {
  it('fits every table in its block without sideways scrolling, cohort tables included, and breaks no tile value inside a word', async () => {
    const { page } = await open(1280, '/');
    const cohortTables = await page.locator('table', { hasText: 'cohort' }).count();
    expect(cohortTables).toBeGreaterThan(0);
    const overflowing = await page.$$eval('.table-wrap', (wraps) => wraps.filter((w) => w.scrollWidth > w.clientWidth + 1).map((w) => w.querySelector('caption')?.textContent ?? '?'));
    expect(overflowing).toEqual([]);
    // A tile's value is a few words; a setting's name goes in its note, where it may wrap.
    const retention = page.locator('[data-stat="retention"] dd').first();
    expect(await retention.textContent()).toBe('kept forever');
    expect(await page.locator('[data-stat="retention"] dd.note').textContent()).toBe('BALISE_RETENTION_DAYS unset');
  });

  it('shows the violation table with its RATE column inside the page', async () => {
    const { page } = await open(1280, '/');
    const table = page.locator('[data-violations="rates"]');
    expect(await table.locator('tbody tr').count()).toBe(2);
    const rate = table.locator('thead th', { hasText: 'Rate' });
    const box = await rate.boundingBox();
    expect(box).not.toBeNull();
    expect(box!.x + box!.width).toBeLessThanOrEqual(1280);
    // Not scrolled out of view either: the table fits its scroll container.
    expect(await table.evaluate((t) => t.parentElement!.scrollWidth <= t.parentElement!.clientWidth)).toBe(true);
    expect(await table.locator('tbody tr td.num').last().textContent()).toBe('100.0%');
    // Every funnel's step table fits too (its last column, the median time, is not scrolled away).
    const funnels = page.locator('[data-funnel-steps]');
    expect(await funnels.count()).toBe(4);
    expect(await funnels.evaluateAll((ts) => ts.filter((t) => t.parentElement!.scrollWidth > t.parentElement!.clientWidth).map((t) => t.getAttribute('data-funnel-steps')))).toEqual([]);
  });

  it('a section link puts its heading below the sticky header', async () => {
    const { page } = await open(1280, '/');
    await page.click('nav.sections a[href="#data-health"]');
    await page.waitForFunction(() => window.scrollY > 0);
    const header = await page.locator('#top').boundingBox();
    const heading = await page.locator('#health-h').boundingBox();
    expect(heading!.y).toBeGreaterThanOrEqual(header!.y + header!.height);
  });

  it('keeps the range in the URL: a preset survives a reload, and dates make it custom', async () => {
    const { page } = await open(1280, '/?range=7d');
    expect(await page.inputValue('#preset')).toBe('7d');
    await page.selectOption('#preset', '30d');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('range') === '30d');
    await loaded(page);
    await page.reload();
    await loaded(page);
    expect(await page.inputValue('#preset')).toBe('30d');
    expect(await page.textContent('#range-text')).toMatch(/^Last 30 days: /);
    const from = new Date(NOW - 40 * D).toISOString().slice(0, 10);
    await page.fill('#from', from);
    await page.click('#range button[type="submit"]');
    await page.waitForFunction((f) => new URL(location.href).searchParams.get('from') === f, from);
    expect(await page.inputValue('#preset')).toBe('custom');
  });

  it("offers each funnel's own breakdowns: None, its default, then its entry step's properties in the plan", async () => {
    const { page } = await open(1280, '/');
    const catalog = await api<PlanCatalog>('/api/plan/catalog');
    const funnels = await api<{ id: string; breakdown?: string; steps: { event: string }[] }[]>('/api/funnels');
    expect(funnels.length).toBeGreaterThan(1);
    for (const f of funnels) {
      const options = await page.locator(`#breakdown-${f.id} option`).evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
      // A breakdown takes the entry event's value (first touch): the API refuses anything else.
      const entry = catalog.events.find((e) => e.name === f.steps[0]!.event)?.properties.map((p) => p.name) ?? [];
      expect(entry.length, f.id).toBeGreaterThan(0);
      const expected = [...new Set(['', ...(f.breakdown ? [f.breakdown] : []), ...entry])];
      expect(options, f.id).toEqual(expected);
    }
  });

  it('downloads a table as CSV, with the numbers shown', async () => {
    const { page } = await open(1280, '/');
    const block = page.locator('.table-block', { has: page.locator('[data-funnel-steps="freelancer_activation"]') });
    const [download] = await Promise.all([page.waitForEvent('download'), block.locator('[data-csv]').click()]);
    expect(download.suggestedFilename()).toBe('freelancer-activation-entities-reaching-each-step.csv');
    const text = fs.readFileSync((await download.path())!, 'utf8');
    const lines = text.trim().split('\r\n');
    expect(lines[0]).toBe('Step,Reached,From previous,From start,Drop-off,Median time');
    // Signed up: nobody here completed sign-up (the funnel starts at signup_completed): 0 entered.
    expect(lines).toHaveLength(4);
    expect(lines[1]!.startsWith('1. Signed up,0,')).toBe(true);
    // Nobody entered: no rate (0 of 0), not 0.0 %.
    expect(lines[1]!.split(',')[3]).toBe('–');

    // A drop-off with people behind it has a "who?" button beside its number: the CSV keeps the number alone.
    const signup = page.locator('.table-block', { has: page.locator('[data-funnel-steps="freelancer_signup_funnel"]') });
    await expect.poll(() => signup.locator('[data-dropoffs]').count()).toBeGreaterThan(0);
    const [second] = await Promise.all([page.waitForEvent('download'), signup.locator('[data-csv]').click()]);
    const rows = fs
      .readFileSync((await second.path())!, 'utf8')
      .trim()
      .split('\r\n');
    const dropOff = rows[0]!.split(',').indexOf('Drop-off');
    expect(rows[2]!.split(',')[dropOff]).toBe('3');
    expect(rows.join('\n')).not.toContain('who?');
  });
});

describe.each([390, 1280])('explore at %i px', (width) => {
  it('builds a trend from the pickers, shows its numbers and YAML that passes plan check, in a shareable URL', async () => {
    const { page, errors } = await open(width, '/explore?range=30d');
    await page.selectOption('[data-control="event"]', 'mission_proposal_received');
    await page.selectOption('[data-control="type"]', 'unique_persons');
    await page.selectOption('[data-control="grain"]', 'month');
    await page.waitForFunction(() => document.querySelector('[data-field="yaml"]')?.textContent?.includes('unique_persons'));
    await loaded(page);
    // Alice (under anon_a2, stitched) and Bob: 2 persons; every picker option is a planned name.
    expect(await page.locator('[data-trend-totals] [data-field="total"]').allTextContents()).toEqual(['2']);
    const options = await page.locator('[data-control="event"] option').allTextContents();
    expect(options).toContain('mission_completed');
    expect(options).not.toContain(LONG_EVENT);
    const yaml = (await page.locator('[data-field="yaml"]').textContent())!;
    expect(yaml).toContain('type: unique_persons');
    const check = await planCheckWith(yaml);
    expect(check.messages.filter((m) => m.file.includes('explored'))).toEqual([]);
    expect(check.errors).toBe(0);
    // The URL holds the question: opened afresh, it shows the same answer.
    const again = await open(width, new URL(page.url()).pathname + new URL(page.url()).search);
    await again.page.waitForSelector('[data-trend-totals] [data-field="total"]');
    expect(await again.page.locator('[data-trend-totals] [data-field="total"]').allTextContents()).toEqual(['2']);
    expect(await again.page.inputValue('[data-control="type"]')).toBe('unique_persons');
    expect(errors).toEqual([]);
  });
});

describe('wide tables on a phone and on a desktop', () => {
  it('at 390 px a funnel table that scrolls sideways is a named, focusable region, its first column kept in view', async () => {
    const { page, errors } = await open(390, '/?range=30d');
    const table = page.locator('[data-funnel="freelancer_activation"] [data-funnel-steps]');
    const wrap = await expectScrollingRegion(table);
    // By keyboard: focused, the arrow keys scroll it; the step names stay at its left edge.
    await wrap.focus();
    for (let i = 0; i < 8; i++) await page.keyboard.press('ArrowRight');
    const handle = await wrap.elementHandle();
    await page.waitForFunction((w) => w.scrollLeft > 0, handle);
    // Arrow keys scroll smoothly: measure once the scrolling has stopped.
    await page.waitForFunction(
      (w) =>
        new Promise<boolean>((resolve) => {
          const at = w.scrollLeft;
          setTimeout(() => resolve(w.scrollLeft === at), 200);
        }),
      handle,
    );
    const left = await wrap.evaluate((w) => [...w.querySelectorAll('tbody tr > :first-child')].map((c) => Math.round(c.getBoundingClientRect().left - w.getBoundingClientRect().left)));
    expect(left).toEqual([0, 0, 0]);
    expect(errors).toEqual([]);
  });

  it('at 1440 px every table of an Explore funnel fits its box', async () => {
    const { page, errors } = await open(1440, '/explore?range=30d');
    await exploreActivationFunnel(page);
    const overflowing = await page
      .locator('[data-explore-funnel] .table-wrap')
      .evaluateAll((wraps) => wraps.filter((w) => w.scrollWidth > w.clientWidth + 1).map((w) => `${w.querySelector('caption')?.textContent}: ${w.scrollWidth} in ${w.clientWidth}`));
    expect(overflowing).toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe('explore at 1280 px: a funnel, its drop-offs, and a timeline', () => {
  it('lists who dropped off at a step and opens their stitched timeline', async () => {
    const { page, errors } = await open(1280, '/explore?range=30d');
    await exploreActivationFunnel(page);
    const steps = page.locator('[data-explore-funnel] [data-funnel-steps] [data-field="count"]');
    expect(await steps.allTextContents()).toEqual(['3', '2', '1']);
    const yaml = (await page.locator('[data-field="yaml"]').textContent())!;
    expect((await planCheckWith(yaml)).errors).toBe(0);

    await page.click('[data-dropoffs="3"]');
    const list = page.locator('[data-dropoff-list="3"] a');
    await list.first().waitFor();
    expect(await list.allTextContents()).toEqual(['u_bob']);
    await list.first().click();
    await page.waitForURL(/\/people\?id=u_bob/);
    await loaded(page);
    expect(await page.locator('[data-person]').getAttribute('data-person')).toBe('u_bob');
    expect(await page.locator('[data-field="ids"] li').allTextContents()).toEqual(['u_bob', 'anon_b1']);
    expect(await page.locator('[data-timeline] [data-field="event"]').allTextContents()).toEqual([
      'freelancer_signup_started',
      '(identify)',
      'mission_proposal_received',
      'mission_proposal_received',
      'mission_proposal_received',
    ]);
    expect(errors).toEqual([]);
  });

  it('shows a definition the server refuses where its result would be, and the status line does not say "Loaded"', async () => {
    const { page } = await open(1280, '/explore?range=30d');
    await page.selectOption('[data-control="kind"]', 'funnel');
    await loaded(page);
    await page.fill('[data-control="window"]', 'soon');
    await page.press('[data-control="window"]', 'Tab');
    await page.waitForSelector('[data-field="explore-error"]');
    expect(await page.textContent('[data-field="explore-error"]')).toMatch(/window must look like 30d.*got "soon" \(kpi_definition_invalid\)/);
    await page.waitForFunction(() => /^Could not load: explore/.test(document.getElementById('status')?.textContent ?? ''));
  });

  it('builds a funnel with an optional step, then one with an exclusion, and shows their rules (decision 0036)', async () => {
    const { page, errors } = await open(1280, '/explore?range=30d');
    await page.selectOption('[data-control="kind"]', 'funnel');
    await page.locator('[data-control="step-event"]').nth(0).selectOption('freelancer_signup_started');
    await page.locator('[data-control="step-event"]').nth(1).selectOption('mission_proposal_accepted');
    await page.click('[data-add-step]');
    await page.locator('[data-control="step-event"]').nth(2).selectOption('mission_proposal_received');
    // Only the middle step offers the box: the entry and the last step cannot be optional.
    expect(await page.locator('[data-control="step-optional"]').count()).toBe(1);
    await page.check('[data-control="step-optional"]');
    await page.waitForFunction(() => document.querySelector('[data-field="yaml"]')?.textContent?.includes('optional: true'));
    await loaded(page);
    // Alice accepted after her proposal was received (out of order: skipped), Bob never accepted;
    // both reached step 3, measured from step 1. Without the option it would read 3, 1, 0.
    const steps = page.locator('[data-explore-funnel] [data-funnel-steps]');
    expect(await steps.locator('[data-field="count"]').allTextContents()).toEqual(['3', '0', '2']);
    expect(await steps.locator('[data-field="optional"]').allTextContents()).toEqual(['(optional)']);
    expect(await steps.locator('[data-field="conversion"]').nth(2).textContent()).toMatch(/ of step 1$/);
    const details = page.locator('[data-explore-funnel] [data-funnel-details]');
    expect(await details.locator('[data-field="rules"] li').allTextContents()).toEqual(['step 3 measured from step 1 (optional steps between may be skipped)']);
    expect(await details.locator('[data-field="window"]').textContent()).toContain('Window: 30 d from entry');
    expect(await details.locator('[data-field="time-to-convert"]').textContent()).toMatch(/^Time to convert \(entry → last step, among converters\): median /);
    expect((await planCheckWith((await page.locator('[data-field="yaml"]').textContent())!)).errors).toBe(0);
    await screenshot(page, 'explore-optional-1280');

    // Sign-up → mission completed in any order, without an accepted proposal since the entry:
    // Alice accepted between the two, so nobody converts (without the exclusion: Alice).
    await page.locator('[data-control="step-event"]').nth(2).selectOption('mission_completed');
    await page.locator('[data-step="2"] button.link').click();
    await page.selectOption('[data-control="order"]', 'any');
    await page.locator('[data-control="step-exclude"]').nth(0).selectOption('mission_proposal_accepted');
    await page.waitForFunction(() => /order: any[\s\S]*exclude:/.test(document.querySelector('[data-field="yaml"]')?.textContent ?? ''));
    await loaded(page);
    expect(await steps.locator('[data-field="count"]').allTextContents()).toEqual(['3', '0']);
    expect(await details.locator('[data-field="rules"] li').allTextContents()).toEqual(['step 2 without mission_proposal_accepted between the entry and it']);
    expect(await details.locator('[data-field="time-to-convert"]').textContent()).toBe('Time to convert: nobody converted in this range.');
    expect((await planCheckWith((await page.locator('[data-field="yaml"]').textContent())!)).errors).toBe(0);
    expect(errors).toEqual([]);
  });

  it('keeps keyboard focus on the control that changed, through each re-render', async () => {
    const { page, errors } = await open(1280, '/explore?range=30d');
    const focused = () =>
      page.evaluate(() => {
        // Which control has focus, named as the test names it: "step-event#2" (the third of that name).
        const a = document.activeElement as HTMLElement | null;
        if (!a || a === document.body) return 'body';
        const selector = a.dataset.control ? `[data-control="${a.dataset.control}"]` : a.hasAttribute('data-add-step') ? '[data-add-step]' : undefined;
        if (!selector) return a.tagName;
        return `${a.dataset.control ?? 'add-step'}#${[...document.querySelectorAll(selector)].indexOf(a)}`;
      });
    // Typing a letter on a focused select picks the first option starting with it, as a keyboard user does.
    await page.focus('[data-control="grain"]');
    await page.keyboard.type('w');
    await page.waitForFunction(() => new URLSearchParams(window.location.search).get('q')?.includes('week'));
    expect(await page.inputValue('[data-control="grain"]')).toBe('week');
    expect(await focused()).toBe('grain#0');
    // Into a funnel by keyboard: focus stays on the question's kind, on + Step, then on the third step's event.
    await page.focus('[data-control="kind"]');
    await page.keyboard.type('f');
    await page.waitForSelector('[data-control="step-event"]');
    expect(await focused()).toBe('kind#0');
    await page.focus('[data-add-step]');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('[data-control="step-event"]').length === 3);
    expect(await focused()).toBe('add-step#0');
    const third = page.locator('[data-control="step-event"]').nth(2);
    const before = await third.inputValue();
    await third.focus();
    await page.keyboard.type('m');
    await page.waitForFunction((was) => (document.querySelectorAll('[data-control="step-event"]')[2] as HTMLSelectElement).value !== was, before);
    expect(await focused()).toBe('step-event#2');
    expect(errors).toEqual([]);
  });

  it('Back and Forward step through range, Explore and People changes, and the page shows each entry', async () => {
    const { page, errors } = await open(1280, '/?range=90d');
    const q = () => new URL(page.url()).searchParams;
    await page.selectOption('#preset', '7d');
    await page.waitForURL(/range=7d/);
    await loaded(page);
    await page.goBack();
    await page.waitForURL(/range=90d/);
    await page.waitForFunction(() => (document.getElementById('preset') as HTMLSelectElement).value === '90d');
    await loaded(page);
    expect(await page.textContent('#range-text')).toMatch(/^Last 90 days: /);
    await page.goForward();
    await page.waitForFunction(() => (document.getElementById('preset') as HTMLSelectElement).value === '7d');
    expect(q().get('range')).toBe('7d');

    await page.goto(`${stack.baseUrl}/explore?range=30d`);
    await loaded(page);
    const first = q().get('q');
    const grain = await page.inputValue('[data-control="grain"]');
    await page.selectOption('[data-control="grain"]', grain === 'month' ? 'day' : 'month');
    await page.waitForFunction((was) => new URLSearchParams(window.location.search).get('q') !== was, first);
    await page.goBack();
    await page.waitForFunction((was) => new URLSearchParams(window.location.search).get('q') === was, first);
    await page.waitForFunction((was) => (document.querySelector('[data-control="grain"]') as HTMLSelectElement).value === was, grain);

    await page.goto(`${stack.baseUrl}/people?range=30d`);
    await loaded(page);
    for (const id of ['u_bob', 'u_alice']) {
      await page.fill('#lookup-id', id);
      await page.press('#lookup-id', 'Enter');
      await page.waitForSelector(`[data-person="${id}"]`);
    }
    await page.goBack();
    await page.waitForSelector('[data-person="u_bob"]');
    expect(await page.inputValue('#lookup-id')).toBe('u_bob');
    expect(q().get('id')).toBe('u_bob');
    expect(errors).toEqual([]);
  });

  it('shows a person found by an anonymous id with their quarantined event', async () => {
    const { page } = await open(1280, '/people?id=anon_a2&range=30d');
    expect(await page.locator('[data-person]').getAttribute('data-person')).toBe('u_alice');
    expect(await page.locator('[data-field="events"]').textContent()).toBe('7');
    expect(await page.locator('[data-field="quarantined"]').textContent()).toBe('1');
    const quarantined = page.locator('[data-timeline] [data-field="verdict"]', { hasText: 'quarantined' });
    expect(await quarantined.count()).toBe(1);
    // The same class, so the same colour, as on the Live page: one colour per verdict.
    expect(await quarantined.getAttribute('class')).toBe('verdict quarantined');
  });
});
