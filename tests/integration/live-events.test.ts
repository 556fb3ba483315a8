/**
 * The trust loop, live (issue 16): a plan of its own with undeclared-property policies, a real
 * Balise, and what a developer sees as events arrive: the ingest verdicts, data health, `balise
 * tail` (a real CLI process) with filters, the live page in chromium, and a hung viewer that
 * must not hold ingest back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBalise } from '../../sdk/src/node.ts';
import { withViolations, type ViolationReport } from '../../sdk/src/violations.ts';
import type { LiveEvent } from '../../src/live/model.ts';
import { build } from 'esbuild';
import { startSite } from '../../sdk/tests/browser-scenarios.ts';
import { post, REPO_ROOT, startStack, tempDir, type Stack } from '../helpers/stack.ts';
import { dashboardSessionCookie } from '../helpers/dashboard-login.ts';
import { launchChromium } from '../helpers/browser.ts';
import { waitFor } from '../helpers/wait.ts';

const PLAN = {
  'plan.yaml': `name: shop
version: 1.0.0
description: Fixture plan for live events and property policies.
defaults:
  mode: enforce
  unplanned: warn
  undeclared: warn
`,
  'events/order_placed.yaml': `name: order_placed
kind: track
description: An order was placed.
owner: team-shop
status: active
properties:
  total: { type: number, description: Amount. }
required: [total]
`,
  'events/card_saved.yaml': `name: card_saved
kind: track
description: A payment card was saved.
owner: team-pay
status: active
undeclared: quarantine
properties:
  brand: { type: string, description: Card brand. }
`,
  'events/page_viewed.yaml': `name: page_viewed
kind: track
description: A page was viewed.
owner: team-web
status: active
undeclared: strip
properties:
  path: { type: string, description: URL path. }
`,
};

function writePlan(files: Record<string, string>): string {
  const dir = tempDir('balise-live-plan-');
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

let stack: Stack;
let n = 0;
const id = (prefix: string) => `${prefix}-${++n}-${Date.now()}`;
const track = (event: string, properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'track', event, userId: 'u1', messageId: id(event), properties, ...extra });

beforeAll(async () => {
  // A small per-viewer queue, so the hung-viewer test overflows it with a few requests.
  stack = await startStack({ planDir: writePlan(PLAN), live: { queueSize: 50, maxPerSecond: 100_000 } });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function api<T>(route: string): Promise<T> {
  const response = await fetch(`${stack.baseUrl}${route}`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

describe('property policy at ingest', () => {
  it('warns, strips or quarantines undeclared properties and warns on unplanned events, per the plan, with the reasons in the response', async () => {
    const warned = track('order_placed', { total: 12, foo: 'x' });
    const quarantined = track('card_saved', { brand: 'visa', pan: '4111' });
    const stripped = track('page_viewed', { path: '/a', secret: 's' });
    const unplanned = track('refund_issued', { total: 3 });
    const clean = track('order_placed', { total: 1 });
    const res = await post(stack, '/v1/batch', { batch: [warned, quarantined, stripped, unplanned, clean] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 4, quarantined: 1 });
    const results = res.body.results as { status: string; planStatus?: string; code?: string; violations?: { path: string; rule: string; message: string }[] }[];
    expect(results.map((r) => [r.status, r.planStatus ?? r.code])).toEqual([
      ['accepted', 'warned'],
      ['quarantined', 'plan_violation'],
      ['accepted', 'warned'],
      ['accepted', 'warned'],
      ['accepted', 'valid'],
    ]);
    expect(results[0]!.violations).toEqual([
      { path: '/properties/foo', rule: 'undeclared_property', message: 'property "foo" is not declared for "order_placed" in tracking plan 1.0.0 (policy warn: stored, flagged)' },
    ]);
    expect(results[1]!.violations!.map((v) => v.path)).toEqual(['/properties/pan']);
    expect(results[3]!.violations!.map((v) => v.rule)).toEqual(['unplanned_event']);

    await stack.waitForDrained();
    const rows = await stack.query<{ message_id: string; plan_status: string; properties: string }>(
      'SELECT message_id, plan_status, properties FROM events FINAL WHERE message_id IN {ids:Array(String)} ORDER BY message_id',
      { ids: [warned.messageId, stripped.messageId, unplanned.messageId] },
    );
    const byId = new Map(rows.map((r) => [r.message_id, r]));
    expect(JSON.parse(byId.get(stripped.messageId)!.properties)).toEqual({ path: '/a' });
    expect(JSON.parse(byId.get(warned.messageId)!.properties)).toEqual({ total: 12, foo: 'x' });
    expect(byId.get(unplanned.messageId)!.plan_status).toBe('warned');
    const [q] = await stack.query<{ reasons: string[] }>('SELECT reasons FROM quarantine WHERE message_id = {id:String}', { id: quarantined.messageId });
    expect(q?.reasons).toEqual(['undeclared_property']);

    const health = await api<{ warnedByRule: { event: string; rule: string; count: number; example: string }[] }>('/api/health/plan');
    const warnedRules = health.warnedByRule.map((r) => [r.event, r.rule]);
    expect(warnedRules).toContainEqual(['order_placed', 'undeclared_property']);
    expect(warnedRules).toContainEqual(['page_viewed', 'undeclared_property']);
    expect(warnedRules).toContainEqual(['refund_issued', 'unplanned_event']);
    expect(health.warnedByRule.find((r) => r.event === 'page_viewed')!.example).toContain('property "secret" is not declared');
  });
});

describe('the SDK tells developers', () => {
  it('Node: onViolation gets each warned or quarantined event with its violations; development mode logs them; stats count them', async () => {
    const reports: ViolationReport[] = [];
    const logged: string[] = [];
    const warn = vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void logged.push(args.join(' ')));
    try {
      const sdk = createBalise({ writeKey: stack.writeKey, host: stack.baseUrl, flushOnExit: false, development: true, onViolation: (r) => reports.push(r) });
      sdk.track('order_placed', { total: 10 }, { userId: 'dev-1' });
      sdk.track('order_placed', { total: 11, colour: 'red' }, { userId: 'dev-1', messageId: 'sdk-warned-1' });
      sdk.track('card_saved', { brand: 'visa', pan: '4111' }, { userId: 'dev-1', messageId: 'sdk-quarantined-1' });
      const stats = await sdk.close();
      expect(stats).toMatchObject({ sent: 3, warned: 1, quarantined: 1, dropped: 0 });
    } finally {
      warn.mockRestore();
    }
    expect(reports.map((r) => [r.event.messageId, r.status, r.code, r.violations.map((v) => v.rule)])).toEqual([
      ['sdk-warned-1', 'warned', undefined, ['undeclared_property']],
      ['sdk-quarantined-1', 'quarantined', 'plan_violation', ['undeclared_property']],
    ]);
    expect(reports[1]!.event.properties).toEqual({ brand: 'visa', pan: '4111' });
    expect(logged).toEqual([
      '[balise] track "order_placed" stored with warnings (messageId sdk-warned-1):\n  - property "colour" is not declared for "order_placed" in tracking plan 1.0.0 (policy warn: stored, flagged) [undeclared_property at /properties/colour]',
      '[balise] track "card_saved" quarantined by the server (messageId sdk-quarantined-1):\n  - property "pan" is not declared for "card_saved" in tracking plan 1.0.0 (policy quarantine: the event is quarantined) [undeclared_property at /properties/pan]',
    ]);
  });

  it('Node: silent without onViolation and outside development mode', async () => {
    const warn = vi.spyOn(console, 'warn');
    try {
      const sdk = createBalise({ writeKey: stack.writeKey, host: stack.baseUrl, flushOnExit: false, development: false });
      sdk.track('card_saved', { brand: 'visa', pan: '1' }, { userId: 'dev-2' });
      const stats = await sdk.close();
      expect(stats).toMatchObject({ sent: 1 });
      expect(stats).not.toHaveProperty('quarantined');
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('the opt-in browser entry: withViolations over plain fetch (write key in the body, as the browser SDK sends it)', async () => {
    const reports: ViolationReport[] = [];
    const transport = withViolations(undefined, { onViolation: (r) => reports.push(r) });
    const body = JSON.stringify({ writeKey: stack.writeKey, batch: [track('order_placed', { total: 1 }), { ...track('order_placed', { total: 'x' }), messageId: 'fetch-bad-1' }] });
    const res = await transport({ url: `${stack.baseUrl}/v1/batch`, body, writeKey: stack.writeKey });
    expect(res.status).toBe(200);
    expect(reports.map((r) => [r.event.messageId, r.status, r.violations.map((v) => v.rule)])).toEqual([['fetch-bad-1', 'quarantined', ['type']]]);
    expect(transport.counts).toEqual({ warned: 0, quarantined: 1 });
  });
});

/** `balise tail` as a user runs it: a real CLI process against the running server. */
function startTail(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/balise.js'), 'tail', '--json', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, BALISE_URL: stack.baseUrl, BALISE_ADMIN_TOKEN: stack.adminToken, BALISE_DATA_DIR: stack.dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, output: () => output, exited };
}

const liveLines = (output: string): LiveEvent[] =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{"receivedAt"'))
    .map((l) => JSON.parse(l) as LiveEvent);

describe('balise tail', () => {
  it('streams only what its filters match (event + verdict; person + source), with the violations in words', async () => {
    const viewersBefore = stack.balise.live.viewers;
    const byEvent = startTail(['--event', 'order_placed', '--verdict', 'warned', '--limit', '1']);
    const byPerson = startTail(['--person', 'anon-7', '--source', 'balise-sdk-test', '--limit', '2']);
    try {
      await waitFor('both tails to connect', () => stack.balise.live.viewers >= viewersBefore + 2, { timeoutMs: 60_000, intervalMs: 20 });
      const library = { library: { name: 'balise-sdk-test', version: '1' } };
      const noise = [
        track('order_placed', { total: 1 }), // valid, not warned
        track('page_viewed', { path: '/x', extra: 1 }), // warned, other event
        track('order_placed', { total: 2 }, { userId: '', anonymousId: 'anon-7' }), // the person, without the library
      ];
      expect((await post(stack, '/v1/batch', { batch: noise })).status).toBe(200);
      const wanted = track('order_placed', { total: 3, coupon: 'X' });
      const mine1 = track('card_saved', { brand: 'visa', cvv: '1' }, { userId: '', anonymousId: 'anon-7', context: library });
      const mine2 = track('order_placed', { total: 4 }, { userId: 'u9', anonymousId: 'anon-7', context: library });
      expect((await post(stack, '/v1/batch', { batch: [wanted, mine1, mine2] })).status).toBe(200);
      expect(await byEvent.exited).toBe(0);
      expect(await byPerson.exited).toBe(0);

      const [shown] = liveLines(byEvent.output());
      expect(liveLines(byEvent.output())).toHaveLength(1);
      expect(shown).toMatchObject({ messageId: wanted.messageId, event: 'order_placed', verdict: 'warned', source: 'test', userId: 'u1' });
      expect(shown!.violations).toEqual([
        { path: '/properties/coupon', rule: 'undeclared_property', message: 'property "coupon" is not declared for "order_placed" in tracking plan 1.0.0 (policy warn: stored, flagged)' },
      ]);

      const mine = liveLines(byPerson.output());
      expect(mine.map((e) => [e.messageId, e.verdict, e.library])).toEqual([
        [mine1.messageId, 'quarantined', 'balise-sdk-test'],
        [mine2.messageId, 'valid', 'balise-sdk-test'],
      ]);
      expect(mine[0]!.violations[0]!.message).toContain('property "cvv" is not declared for "card_saved"');
    } finally {
      byEvent.child.kill();
      byPerson.child.kill();
    }
  }, 120_000);

  it('refuses an unknown verdict filter with a stable code', async () => {
    const response = await fetch(`${stack.baseUrl}/api/live?verdict=maybe`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'invalid_live_filter' });
    expect((await fetch(`${stack.baseUrl}/api/live`)).status).toBe(401);
    // The write key writes; it does not watch.
    expect((await fetch(`${stack.baseUrl}/api/live`, { headers: { authorization: `Bearer ${stack.writeKey}` } })).status).toBe(401);
  });
});

describe('a hung viewer', () => {
  it('does not block or slow ingest: its queue stays bounded, the overflow is dropped and reported to it when it reads again', async () => {
    // A viewer that connects and then never reads a byte: its socket fills, the server stops writing to it.
    const url = new URL(stack.baseUrl);
    const socket = net.connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const viewersBefore = stack.balise.live.viewers;
    socket.write(`GET /api/live HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${stack.adminToken}\r\n\r\n`);
    await waitFor('the hung viewer to subscribe', () => stack.balise.live.viewers > viewersBefore, { timeoutMs: 15_000, intervalMs: 20 });
    socket.pause();

    // Big events so that a few deliveries fill the socket buffers; then far more than the queue holds.
    const padding = 'x'.repeat(2000);
    const requests = 40;
    const perRequest = 100;
    let answered = 0;
    for (let r = 0; r < requests; r++) {
      const batch = Array.from({ length: perRequest }, () => track('order_placed', { total: 1, note: padding }));
      const res = await post(stack, '/v1/batch', { batch });
      expect(res.status).toBe(200);
      answered++;
    }
    expect(answered).toBe(requests);
    const stats = stack.balise.live.stats();
    const hung = stats.find((s) => !s.writable);
    // The viewer stopped being written to (its socket is full), holds at most its queue, and dropped the rest.
    expect(hung, JSON.stringify(stats)).toBeDefined();
    expect(hung!.queued).toBeLessThanOrEqual(stack.balise.live.queueCapacity);
    expect(hung!.dropped).toBeGreaterThan(0);

    // When it reads again, it is told how many it missed.
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.resume();
    await waitFor('the dropped count to reach the viewer', () => /"dropped":[1-9]/.test(text), { timeoutMs: 30_000, intervalMs: 20 });
    socket.destroy();
    await waitFor('the viewer to be removed', () => stack.balise.live.viewers === viewersBefore, { timeoutMs: 15_000, intervalMs: 20 });
  }, 180_000);
});

describe('live events page in chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows an event within a second of sending it, with its verdict and violations in words', async () => {
    const context = await browser.newContext();
    await context.addCookies([await dashboardSessionCookie(stack.baseUrl, stack.adminToken)]);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
    // The first load may build the bundle.
    await page.goto(`${stack.baseUrl}/live`, { timeout: 60_000 });
    await page.waitForSelector('body[data-live="ready"]', { timeout: 30_000 });

    // A first event warms the path (JIT, the page's first render) so the timed one measures delivery.
    const warm = track('order_placed', { total: 4 });
    expect((await post(stack, '/v1/track', warm)).status).toBe(200);
    await page.waitForSelector(`tr[data-message-id="${warm.messageId}"]`, { timeout: 10_000 });

    const event = track('order_placed', { total: 5, promo: 'spring' });
    const sent = Date.now();
    expect((await post(stack, '/v1/track', event)).status).toBe(200);
    const row = await page.waitForSelector(`tr[data-message-id="${event.messageId}"]`, { timeout: Math.max(1, 1000 - (Date.now() - sent)) });
    const text = await row.innerText();
    expect(text).toContain('warned');
    expect(text).toContain('property "promo" is not declared for "order_placed"');
    expect(await row.getAttribute('data-verdict')).toBe('warned');
    // The viewer's clock in the cell, said in the header; the instant in UTC on hover.
    expect(await page.locator('#live-events thead th').first().textContent()).toBe('Received (your time)');
    expect(await (await row.$('td'))!.getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it.each([390, 1440])('at %i px keeps each filter label beside its control and the header laid out as the other pages', async (width) => {
    const context = await browser.newContext({ viewport: { width, height: 844 } });
    await context.addCookies([await dashboardSessionCookie(stack.baseUrl, stack.adminToken)]);
    const page = await context.newPage();
    await page.goto(`${stack.baseUrl}/live`, { timeout: 60_000 });
    await page.waitForSelector('body[data-live="ready"]', { timeout: 30_000 });
    // Each label's middle is within its control's height: on the same line, not at the end of the line above.
    const apart = await page.$$eval('#live-filter label', (labels) =>
      labels
        .map((label) => {
          const control = document.getElementById(label.getAttribute('for') ?? '')!.getBoundingClientRect();
          const box = label.getBoundingClientRect();
          const middle = box.top + box.height / 2;
          return middle >= control.top && middle <= control.bottom && box.right <= control.left + 1 ? '' : label.textContent;
        })
        .filter(Boolean),
    );
    expect(apart).toEqual([]);
    // Sign out sits in the header's first row, beside the pages, as on the dashboard's pages.
    const signOut = await page.locator('form[action="/logout"] button').boundingBox();
    const nav = await page.locator('nav.pages').boundingBox();
    expect(signOut!.y).toBeLessThan(nav!.y + nav!.height);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await context.close();
  });

  it('the browser SDK with @balise/sdk/violations logs a quarantined event in the console and calls onViolation', async () => {
    // The real browser SDK and the opt-in entry, bundled as an app would, on a site of its own origin.
    const bundle = await build({
      stdin: {
        contents: "import { createBalise } from './browser.ts'; import { withViolations } from './violations.ts'; Object.assign(window, { createBalise, withViolations });",
        resolveDir: path.join(REPO_ROOT, 'sdk/src'),
        loader: 'ts',
      },
      bundle: true,
      format: 'iife',
      target: 'es2020',
      write: false,
    });
    const site = await startSite(bundle.outputFiles[0]!.text);
    const page = await browser.newPage();
    try {
      const consoleLines: string[] = [];
      page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
      await page.goto(site.url);
      const reports = await page.evaluate(
        async ({ host, writeKey }) => {
          const w = window as unknown as {
            createBalise(o: Record<string, unknown>): { track(e: string, p: Record<string, unknown>, c?: Record<string, unknown>): void; flush(): Promise<void> };
            withViolations(base: undefined, o: Record<string, unknown>): unknown;
          };
          const seen: unknown[] = [];
          const sdk = w.createBalise({ writeKey, host, transport: w.withViolations(undefined, { log: true, onViolation: (r: unknown) => seen.push(r) }) });
          sdk.track('order_placed', { total: 3 }, { messageId: 'browser-ok-1' });
          sdk.track('card_saved', { brand: 'visa', pan: '4111' }, { messageId: 'browser-bad-1' });
          await sdk.flush();
          return seen as { status: string; event: { messageId: string }; violations: { rule: string }[] }[];
        },
        { host: stack.baseUrl, writeKey: stack.writeKey },
      );
      expect(reports.map((r) => [r.event.messageId, r.status, r.violations.map((v) => v.rule)])).toEqual([['browser-bad-1', 'quarantined', ['undeclared_property']]]);
      expect(consoleLines).toContainEqual(
        expect.stringMatching(/^warning: \[balise\] track "card_saved" quarantined by the server \(messageId browser-bad-1\):\n {2}- property "pan" is not declared for "card_saved"/),
      );
    } finally {
      await page.close();
      await site.close();
    }
  }, 120_000);
});
