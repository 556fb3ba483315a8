/**
 * The built-in dashboard in a real browser (Debian's chromium through playwright-core) against a
 * real Balise: login redirect and keyboard login, funnel numbers equal to the API, hostile event
 * names and property values rendered as inert text, no CSP violation, and a screenshot.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunnelResult, KpiResult, RetentionResult } from '../../src/analytics/results.ts';
import { loadKpiDefinitions } from '../../src/analytics/definitions.ts';
import { questionsFor } from '../../src/metabase/questions.ts';
import { formatCount, formatPercent } from '../../src/dashboard/web/format.ts';
import type { EventRow, QuarantineRow } from '../../src/types.ts';
import { insertJsonLines } from '../../src/warehouse/insert.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { REPO_ROOT, startStack, type Stack } from '../helpers/stack.ts';
import { dashboardSessionCookie } from '../helpers/dashboard-login.ts';
import { launchChromium } from '../helpers/browser.ts';
import { expectScrollingRegion } from '../helpers/wide-tables.ts';

const IMG = '<img src=x onerror="window.__xss=1">';
const SCRIPT = '<script>window.__xss=1</script>';
const DAY = 86_400_000;
const VIEWER_TOKEN = 'dash-viewer-token-0123456789abcdef';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let stack: Stack;
let baseUrl: string;
let browser: Browser;

let n = 0;
function event(name: string, user: string, at: number, properties: Record<string, unknown> = {}): EventRow {
  return {
    message_id: `dash-${++n}`,
    type: 'track',
    event: name,
    user_id: user,
    anonymous_id: '',
    group_id: '',
    previous_id: '',
    timestamp: at,
    sent_at: null,
    received_at: at,
    properties: JSON.stringify(properties),
    traits: '{}',
    context: '{}',
    source: 'test',
    library_name: 'test',
    library_version: '0',
    plan_version: '1.0.0',
    plan_status: name.startsWith('<') ? 'unplanned' : 'valid',
    violations: '',
  };
}

/** 12 freelancers sign up (3 with a hostile community), 8 get a proposal, 3 complete a mission. */
function demoRows(now: number): EventRow[] {
  const rows: EventRow[] = [];
  for (let i = 0; i < 12; i++) {
    const user = `f${i}`;
    const start = now - (20 - i) * DAY;
    const community = i < 3 ? SCRIPT : i % 2 ? 'tech' : 'data';
    rows.push(event('freelancer_signup_started', user, start - 3_600_000, { signup_method: 'email' }));
    rows.push(event('freelancer_signup_completed', user, start, { community, signup_method: 'email' }));
    if (i < 8) rows.push(event('mission_proposal_received', user, start + 2 * DAY, { mission_id: `m${i}` }));
    if (i < 3) rows.push(event('mission_completed', user, start + 9 * DAY, { mission_id: `m${i}` }));
    // Retention: six come back a week later, two within the last hour (a period under way).
    if (i < 6) rows.push(event('mission_proposal_accepted', user, start + 8 * DAY, { mission_id: `m${i}`, freelancer_id: user, hours_to_answer: 3 }));
    if (i < 2) rows.push(event('mission_proposal_accepted', user, now - 3_600_000, { mission_id: `n${i}`, freelancer_id: user, hours_to_answer: 3 }));
  }
  rows.push(event(IMG, 'f1', now - DAY, { note: SCRIPT }));
  return rows;
}

function quarantineRow(now: number): QuarantineRow {
  return {
    message_id: 'dash-q1',
    received_at: now - 2 * DAY,
    source: 'test',
    type: 'track',
    event: IMG,
    plan_version: '1.0.0',
    reasons: ['unplanned_event'],
    violations: JSON.stringify([{ path: '/event', rule: 'unplanned_event', message: SCRIPT }]),
    raw: '{}',
  };
}

beforeAll(async () => {
  stack = await startStack({ env: { BALISE_TOKENS: `pm:viewer:${sha256(VIEWER_TOKEN)}` } });
  const now = Date.now();
  await insertJsonLines(
    stack.warehouse,
    'events',
    demoRows(now).map((r) => JSON.stringify(r)),
  );
  await insertJsonLines(stack.warehouse, 'quarantine', [JSON.stringify(quarantineRow(now))]);

  // The dashboard is served by the real Balise (runtime mounts the admin and dashboard routers).
  baseUrl = stack.baseUrl;

  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function api<T>(route: string): Promise<T> {
  const response = await fetch(`${baseUrl}${route}`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

describe('Metabase questions on the real engine', () => {
  it('every generated question runs, and the funnel question gives the API funnel counts', async () => {
    const definitions = await loadKpiDefinitions(FIXTURE_PLAN);
    const results = new Map<string, Record<string, unknown>[]>();
    for (const question of questionsFor(definitions)) {
      const result = await stack.warehouse.client.query({ query: question.sql, format: 'JSONEachRow' });
      results.set(question.key, await result.json<Record<string, unknown>>());
    }
    // Looked up, not matched in passing: a renamed key fails here instead of skipping the check.
    const funnel = results.get('funnel:freelancer_activation');
    const signups = results.get('kpi:weekly_freelancer_signups');
    expect(funnel, [...results.keys()].join(', ')).toBeDefined();
    expect(signups, [...results.keys()].join(', ')).toBeDefined();
    expect(funnel!.map((r) => [r.step, Number(r.entities)])).toEqual([
      ['1. Signed up', 12],
      ['2. Received a proposal', 8],
      ['3. Completed a mission', 3],
    ]);
    expect(signups!.reduce((n, r) => n + Number(r.value), 0)).toBe(12);
    // Whole weeks, every one of them: the first starts on a Monday (not 12 weeks ago to the day),
    // and a week without a sign-up is a 0 rather than a gap the line is drawn across.
    const weeks = signups!.map((r) => String(r.period));
    expect(weeks).toHaveLength(13);
    expect(new Date(`${weeks[0]}T00:00:00Z`).getUTCDay()).toBe(1);
    for (let i = 1; i < weeks.length; i++) expect(Date.parse(weeks[i]!) - Date.parse(weeks[i - 1]!)).toBe(7 * DAY);
  });
});

/** A page in a browser context of its own, recording script errors and CSP violations. */
async function openPage(): Promise<{ page: Page; consoleErrors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(5_000);
  const consoleErrors: string[] = [];
  // HTTP errors are asserted where they matter (the wrong login is a 401); CSP violations and script errors must not happen.
  page.on('console', (m) => (m.type() === 'error' && !m.text().startsWith('Failed to load resource') ? consoleErrors.push(m.text()) : undefined));
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  return { page, consoleErrors };
}

const waitUntilLoaded = (page: Page) => page.waitForFunction(() => /^(Loaded|Could not)/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 30_000 });

/** The dashboard, signed in with the login cookie and fully loaded. */
async function openDashboard(): Promise<{ page: Page; consoleErrors: string[] }> {
  const opened = await openPage();
  await opened.page.context().addCookies([await dashboardSessionCookie(baseUrl, stack.adminToken)]);
  // The first load may build the bundle: bounded like the data load below, not by the 5 s default.
  await opened.page.goto(`${baseUrl}/`, { timeout: 30_000 });
  await waitUntilLoaded(opened.page);
  return opened;
}

describe('built-in dashboard in chromium: signing in', () => {
  it('redirects an unauthenticated visitor to the login form', async () => {
    const { page } = await openPage();
    const response = await page.goto(`${baseUrl}/`, { timeout: 30_000 });
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    const plain = await fetch(`${baseUrl}/`, { redirect: 'manual' });
    expect(plain.status).toBe(302);
    expect(plain.headers.get('location')).toBe('/login');
  });

  it('refuses a wrong token and accepts the right one, using only the keyboard', async () => {
    const { page, consoleErrors } = await openPage();
    await page.goto(`${baseUrl}/login`, { timeout: 30_000 });
    // `autofocus` is applied at the page's next rendering update, which a busy box may hold past
    // the load event (CI once found nothing focused yet): wait for it, a bounded while.
    await page.waitForFunction(() => document.activeElement?.id === 'token', undefined, { timeout: 5_000 });
    await page.keyboard.type('not-the-token-at-all');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#login-error');
    expect(await page.textContent('#login-error')).toContain('not valid');

    await page.focus('#token');
    await page.keyboard.type(stack.adminToken);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Sign in');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${baseUrl}/`);
    const cookie = (await page.context().cookies()).find((c) => c.name === 'balise_session');
    // Lax: a link from another site (Slack, webmail) opens signed in; state changes are POSTs.
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    await waitUntilLoaded(page);
    expect(await page.textContent('#status')).toMatch(/^Loaded /);
    expect(consoleErrors).toEqual([]);
  });

  it('a shared link survives the login: the user lands on the page the link was for', async () => {
    const { page, consoleErrors } = await openPage();
    const shared = `/explore?q=${encodeURIComponent('{"kind":"trend"}')}&from=2026-01-01&to=2026-01-31`;
    await page.goto(`${baseUrl}${shared}`, { timeout: 30_000 });
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.textContent('label[for="token"]')).toBe('Access token');
    expect(await page.textContent('.login-card')).toContain('viewer, analyst or admin');
    await page.fill('#token', stack.adminToken);
    await page.click('button[type="submit"]');
    await page.waitForURL((url) => url.pathname === '/explore');
    const landed = new URL(page.url());
    expect(landed.searchParams.get('from')).toBe('2026-01-01');
    expect(landed.searchParams.get('to')).toBe('2026-01-31');
    expect(consoleErrors).toEqual([]);
  });

  it('a next that leaves the site is ignored: the login goes to the overview', async () => {
    for (const next of ['//evil.example/', '/\\evil.example', 'https://evil.example/']) {
      const login = await fetch(`${baseUrl}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `token=${encodeURIComponent(stack.adminToken)}&next=${encodeURIComponent(next)}`,
      });
      expect(login.status).toBe(303);
      expect(login.headers.get('location')).toBe('/');
    }
    const page = await fetch(`${baseUrl}/login?next=${encodeURIComponent('"><script>x</script>')}`);
    expect(await page.text()).not.toContain('<script>x');
  });

  it('a viewer on Live events is told why it is refused, once, and is not offered the person pages', async () => {
    const { page, consoleErrors } = await openPage();
    await page.context().addCookies([await dashboardSessionCookie(baseUrl, VIEWER_TOKEN)]);
    await page.goto(`${baseUrl}/live`, { timeout: 30_000 });
    await page.waitForSelector('body[data-live="refused"]', { timeout: 10_000 });
    expect(await page.textContent('#live-status')).toContain('analysts and admins only');
    // Still refused a while later: no promise of a reconnection that never comes.
    await page.waitForTimeout(2_500);
    expect(await page.getAttribute('body', 'data-live')).toBe('refused');
    expect(await page.locator('nav.pages a').allTextContents()).toEqual(['Overview', 'Explore', 'Live events']);
    await page.goto(`${baseUrl}/`, { timeout: 30_000 });
    expect(await page.locator('nav.pages a').allTextContents()).toEqual(['Overview', 'Explore']);
    // The refused stream is the only error the console may show.
    expect(consoleErrors.filter((e) => !e.includes('/api/live'))).toEqual([]);
  });

  it('an admin is offered every page', async () => {
    const { page } = await openDashboard();
    expect(await page.locator('nav.pages a').allTextContents()).toEqual(['Overview', 'Explore', 'People', 'Live events']);
  });

  it('signs out', async () => {
    const { page } = await openDashboard();
    await page.click('text=Sign out');
    await page.waitForURL(`${baseUrl}/login`);
    const response = await page.request.get(`${baseUrl}/api/kpis`);
    expect(response.status()).toBe(401);
  });
});

describe('built-in dashboard in chromium: a funnel breakdown with many values', () => {
  it('shows the first 12, says how many more there are, and the CSV holds every value', async () => {
    const { page, consoleErrors } = await openPage();
    await page.context().addCookies([await dashboardSessionCookie(baseUrl, stack.adminToken)]);
    // The real answer, with 15 breakdown values instead of the world's 3.
    await page.route('**/api/funnels/freelancer_activation?*', async (route) => {
      const answer = await route.fetch();
      const result = (await answer.json()) as FunnelResult;
      const groups = Array.from({ length: 15 }, (_, i) => ({ value: `value-${i + 1}`, counts: result.steps.map(() => 1), conversion: 1 }));
      await route.fulfill({ response: answer, json: { ...result, breakdown: { ...result.breakdown!, groups } } });
    });
    await page.goto(`${baseUrl}/`, { timeout: 30_000 });
    await waitUntilLoaded(page);
    const card = page.locator('[data-funnel="freelancer_activation"]');
    const block = card.locator('.table-block').filter({ hasText: 'value-1' });
    expect(await block.locator('tbody tr:visible').count()).toBe(12);
    expect(await card.locator('[data-field="more-groups"]').innerText()).toContain('3 more values not shown');
    const [download] = await Promise.all([page.waitForEvent('download'), block.locator('[data-csv]').click()]);
    const raw = fs.readFileSync((await download.path())!, 'utf8');
    // A byte-order mark, for Excel to read the file as UTF-8.
    expect(raw.startsWith('\ufeff')).toBe(true);
    const csv = raw.trim().split('\r\n');
    expect(csv.slice(1).map((line) => line.split(',')[0])).toEqual(Array.from({ length: 15 }, (_, i) => `value-${i + 1}`));
    await card.getByRole('button', { name: 'Show all' }).click();
    expect(await block.locator('tbody tr:visible').count()).toBe(15);
    expect(consoleErrors).toEqual([]);
  });
});

describe('built-in dashboard in chromium: a funnel defined with a breakdown', () => {
  it('can be seen without it (None), and the choice stays in the address through a reload', async () => {
    const api = await fetch(`${baseUrl}/api/funnels/freelancer_activation?breakdown=`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    expect(((await api.json()) as FunnelResult).breakdown ?? null).toBeNull();
    const { page, consoleErrors } = await openPage();
    await page.context().addCookies([await dashboardSessionCookie(baseUrl, stack.adminToken)]);
    await page.goto(`${baseUrl}/`, { timeout: 30_000 });
    await waitUntilLoaded(page);
    const card = page.locator('[data-funnel="freelancer_activation"]');
    const select = card.locator('select#breakdown-freelancer_activation');
    expect(await select.inputValue()).toBe('community');
    const answered = page.waitForResponse((r) => r.url().includes('/api/funnels/freelancer_activation?') && new URL(r.url()).searchParams.get('breakdown') === '');
    await select.selectOption('');
    expect(((await (await answered).json()) as FunnelResult).breakdown ?? null).toBeNull();
    expect(new URL(page.url()).searchParams.get('bd.freelancer_activation')).toBe('');
    await page.reload();
    await waitUntilLoaded(page);
    expect(await select.inputValue()).toBe('');
    await select.selectOption('community');
    expect(new URL(page.url()).searchParams.has('bd.freelancer_activation')).toBe(false);
    expect(consoleErrors).toEqual([]);
  });
});

describe('built-in dashboard in chromium: a range that has not started', () => {
  it('says so, and shows no fall against the previous period', async () => {
    const { page, consoleErrors } = await openPage();
    await page.context().addCookies([await dashboardSessionCookie(baseUrl, stack.adminToken)]);
    const year = new Date().getUTCFullYear() + 1;
    await page.goto(`${baseUrl}/?from=${year}-01-01&to=${year}-01-31`, { timeout: 30_000 });
    await waitUntilLoaded(page);
    const said = await page.textContent('#range-text');
    expect(said).toContain('it has not started yet');
    expect(said).not.toContain('last day is not over');
    const changes = await page.locator('[data-kpi] [data-field="change"]').allTextContents();
    expect(changes.length).toBeGreaterThan(0);
    expect(changes.every((c) => c === 'not started yet')).toBe(true);
    expect(await page.locator('[data-kpi] .change.down').count()).toBe(0);
    // No value either: a 0 would read as a measured zero.
    expect(new Set(await page.locator('[data-kpi] .value').allTextContents())).toEqual(new Set(['–']));
    expect(consoleErrors).toEqual([]);
  });
});

describe('built-in dashboard in chromium: a range that runs past today', () => {
  // Found 2026-12-05: the CLI said "(so far)" and the tiles did not.
  it('says each change is so far, as the CLI does; a range ending today does not', async () => {
    const { page, consoleErrors } = await openPage();
    await page.context().addCookies([await dashboardSessionCookie(baseUrl, stack.adminToken)]);
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const changes = async (query: string) => {
      await page.goto(`${baseUrl}/?${query}`, { timeout: 30_000 });
      await waitUntilLoaded(page);
      return page.locator('[data-kpi] [data-field="change"]').allTextContents();
    };
    const past = await changes(`from=${day(-30)}&to=${day(10)}&tz=UTC`);
    expect(past.length).toBeGreaterThan(0);
    expect(past.filter((c) => !/so far$/.test(c) && !/^no comparison|^–/.test(c))).toEqual([]);
    expect(past.some((c) => /so far$/.test(c))).toBe(true);
    expect((await changes(`from=${day(-30)}&to=${day(0)}&tz=UTC`)).some((c) => /so far/.test(c))).toBe(false);
    expect(consoleErrors).toEqual([]);
  });
});

describe('built-in dashboard in chromium: counts in words', () => {
  it('a range with no events says so and how to get some, instead of an empty chart', async () => {
    const { page, consoleErrors } = await openPage();
    await page.context().addCookies([await dashboardSessionCookie(baseUrl, stack.adminToken)]);
    await page.goto(`${baseUrl}/?from=2020-01-01&to=2020-01-31`, { timeout: 30_000 });
    await waitUntilLoaded(page);
    const trends = page.locator('#trends-body');
    expect(await trends.innerText()).toContain('No track events from 2020-01-01 to 2020-01-31');
    expect(await trends.locator('code').textContent()).toBe('balise demo');
    expect(await trends.innerText()).not.toContain('busiest');
    expect(await trends.locator('canvas').count()).toBe(0);
    expect(consoleErrors).toEqual([]);
  });

  it('one event in a timeline is "1 event"', async () => {
    const { page, consoleErrors } = await openPage();
    await page.context().addCookies([await dashboardSessionCookie(baseUrl, stack.adminToken)]);
    // f0 completed a mission 11 days ago, and did nothing else that day.
    const day = new Date(Date.now() - 11 * DAY).toISOString().slice(0, 10);
    await page.goto(`${baseUrl}/people?id=f0&from=${day}&to=${day}`, { timeout: 30_000 });
    await waitUntilLoaded(page);
    expect(await page.locator('[data-field="timeline-summary"]').innerText()).toMatch(/^1 event in the range \(/);
    expect(consoleErrors).toEqual([]);
  });
});

describe('built-in dashboard in chromium at 390 px', () => {
  /** The overview, signed in as admin, loaded at 390 × 844. */
  const overviewAtPhoneWidth = async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    await context.addCookies([await dashboardSessionCookie(baseUrl, stack.adminToken)]);
    const page = await context.newPage();
    await page.goto(`${baseUrl}/`, { timeout: 30_000 });
    await waitUntilLoaded(page);
    return { context, page };
  };

  it('a retention table that scrolls sideways is a named, focusable region, its cohorts kept in view', async () => {
    const { context, page } = await overviewAtPhoneWidth();
    const table = page.locator('[data-retention-table="freelancer_proposal_retention"]');
    const wrap = await expectScrollingRegion(table);
    await wrap.evaluate((w) => (w.scrollLeft = w.scrollWidth));
    const left = await wrap.evaluate((w) => [...w.querySelectorAll('tbody tr > :first-child')].map((c) => Math.round(c.getBoundingClientRect().left - w.getBoundingClientRect().left)));
    expect(left.length).toBeGreaterThan(0);
    expect(new Set(left)).toEqual(new Set([0]));
    await context.close();
  });

  it('gives the event trends chart room for its plot beside a legend wrapped over several lines', async () => {
    const { context, page } = await overviewAtPhoneWidth();
    const box = page.locator('#trends-body .chart').first();
    expect(Math.round((await box.boundingBox())!.height)).toBe(420);
    await context.close();
  });
});

describe('built-in dashboard in chromium: what it shows', () => {
  // One signed-in page for these read-only checks, opened here so that any one of them runs alone.
  let page: Page;
  let consoleErrors: string[];
  beforeAll(async () => {
    ({ page, consoleErrors } = await openDashboard());
  });

  it('shows the same funnel numbers as GET /api/funnels/:id', async () => {
    const from = await page.inputValue('#from');
    const to = await page.inputValue('#to');
    const expected = await api<FunnelResult>(`/api/funnels/freelancer_activation?from=${from}&to=${to}`);
    expect(expected.steps.map((s) => s.count)).toEqual([12, 8, 3]);
    const table = page.locator('[data-funnel-steps="freelancer_activation"]');
    expect(await table.locator('[data-field="count"]').allTextContents()).toEqual(expected.steps.map((s) => formatCount(s.count)));
    expect(await table.locator('[data-field="dropoff"]').allTextContents()).toEqual(expected.steps.map((s, i) => (i === 0 ? '–' : formatCount(s.dropOff))));
    const summary = page.locator('[data-funnel-summary="freelancer_activation"]');
    expect(await summary.locator('[data-field="entered"]').textContent()).toBe(formatCount(expected.entered));
    expect(await summary.locator('[data-field="overall"]').textContent()).toBe(formatPercent(expected.conversion));
    // Every other funnel from the definitions has its card too.
    const defs = await api<{ id: string }[]>('/api/funnels');
    expect(await page.locator('[data-funnel]').evaluateAll((els) => els.map((e) => e.getAttribute('data-funnel')))).toEqual(defs.map((d) => d.id));
  });

  it('shows the retention table of GET /api/retention/:id, periods under way marked, none shown as 0%', async () => {
    const from = await page.inputValue('#from');
    const to = await page.inputValue('#to');
    const expected = await api<RetentionResult>(`/api/retention/freelancer_proposal_retention?from=${from}&to=${to}`);
    expect(expected.entered).toBe(12);
    const table = page.locator('[data-retention-table="freelancer_proposal_retention"]');
    const shown = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('[data-status]')].map((c) => [c.getAttribute('data-status'), c.textContent])));
    const wanted = expected.cohorts.map((c) => c.cells.map((x) => [x.status, x.status === 'future' || x.rate === null ? '' : `${formatPercent(x.rate)}${x.status === 'incomplete' ? '…' : ''}`]));
    expect(shown).toEqual(wanted);
    // Some cell is under way and some has not started: both exist, and neither reads 0%.
    expect(shown.flat().some(([status]) => status === 'incomplete')).toBe(true);
    expect(shown.flat().some(([status]) => status === 'future')).toBe(true);
    expect(
      shown
        .flat()
        .filter(([status]) => status !== 'complete')
        .every(([, text]) => text === '' || text!.endsWith('…')),
    ).toBe(true);
  });

  it('shows KPI tiles for every metric', async () => {
    const kpis = await api<KpiResult[]>('/api/kpis');
    expect(await page.locator('[data-kpi]').count()).toBe(kpis.length);
    expect(await page.locator('[data-kpi="weekly_freelancer_signups"] .value').textContent()).toBe('12');
  });

  it('renders hostile event names and property values as inert text', async () => {
    const text = await page.locator('main').innerText();
    expect(text).toContain(SCRIPT); // the community breakdown value
    expect(await page.locator('#trends-body').innerText()).toContain(IMG); // the event name
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.locator('main script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(consoleErrors).toEqual([]);
  });

  it('loads every section, data health included, with hostile names there as text too', async () => {
    expect(await page.textContent('#status')).toMatch(/^Loaded .* in \d+ ms\.$/);
    expect(await page.locator('[data-unplanned="events"]').innerText()).toContain(IMG);
    expect(await page.locator('[data-quarantine="examples"]').innerText()).toContain(IMG);
    expect(await page.locator('[data-quarantine="examples"]').innerText()).toContain(SCRIPT);
    // The violations read as on the Live page (rule, then message), not as escaped JSON.
    const details = page.locator('[data-quarantine="examples"] td[data-label="Details"]').first();
    expect(await details.locator('ul.violations li').allInnerTexts()).toEqual([`unplanned_event ${SCRIPT}`]);
    expect(await details.innerText()).not.toContain('"rule"');
    // Times from the server are UTC, and say so in a project with its own time zone.
    expect(await page.locator('[data-quarantine="examples"] thead th').allTextContents()).toContain('Received (UTC)');
    expect(await page.locator('[data-stat="dead-letter"] dd').textContent()).toBe('0');
    // The time since the newest event is named so, not "Lag": an idle source is not a backlog.
    expect(await page.locator('#pipeline-body dt').allTextContents()).not.toContain('Lag');
    expect(await page.locator('[data-stat="newest-event"] dd').first().textContent()).toMatch(/ ago$/);
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  });

  it('saves a screenshot', async () => {
    const dir = path.join(REPO_ROOT, 'test-results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'dashboard.png');
    await page.screenshot({ path: file, fullPage: true });
    expect(fs.statSync(file).size).toBeGreaterThan(10_000);
  });
});
