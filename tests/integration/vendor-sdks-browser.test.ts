import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { startStack, type Stack } from '../helpers/stack.ts';
import { one, storedEvents, type StoredEvent } from '../helpers/vendor-rows.ts';
import { launchChromium } from '../helpers/browser.ts';

/**
 * The vendors' browser SDKs, unchanged (the npm packages bundled by esbuild), in Debian's
 * Chromium, on a site of their own origin, sending to a real Balise through a proxy that can
 * answer 503 like an overloaded Balise. Each delivery mode they ship, a navigation away right
 * after firing events, and a 503 then recovery: every call stored exactly once.
 */

/** A page of a customer's site: loads an SDK bundle and starts it the way its README says. */
type Mode = 'segment-standard' | 'segment-keepalive' | 'segment-batching' | 'segment-unload' | 'rudder-xhr' | 'rudder-beacon';

let stack: Stack;
let proxy: FaultProxy;
let site: { url: string; close(): Promise<void> };
let browser: Browser;

async function bundle(source: string): Promise<string> {
  const out = await build({
    stdin: { contents: source, resolveDir: process.cwd() },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    write: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'error',
  });
  return out.outputFiles[0]!.text;
}

function startScript(mode: Mode, api: string, writeKey: string): string {
  const key = JSON.stringify(writeKey);
  const host = JSON.stringify(api);
  if (mode.startsWith('segment')) {
    // Segment's documented proxy set-up: cdnURL for the settings, which point back at Balise.
    const strategies: Partial<Record<Mode, object>> = {
      'segment-keepalive': { strategy: 'standard', config: { keepalive: true } },
      'segment-batching': { strategy: 'batching', config: { size: 3, timeout: 300 } },
      'segment-unload': { strategy: 'batching', config: { size: 100, timeout: 60_000 } },
    };
    const strategy = strategies[mode];
    return `window.analytics = AnalyticsBrowser.load({ writeKey: ${key}, cdnURL: ${host} }, { integrations: { 'Segment.io': ${JSON.stringify(strategy ? { deliveryStrategy: strategy } : {})} } });`;
  }
  const beacon = mode === 'rudder-beacon' ? ', useBeacon: true, beaconQueueOptions: { flushQueueInterval: 60000 }' : '';
  return `window.rudderanalytics = new RudderAnalytics(); rudderanalytics.load(${key}, ${host}, { configUrl: ${host}, logLevel: 'ERROR'${beacon} });`;
}

async function startSite(api: string, writeKey: string): Promise<{ url: string; close(): Promise<void> }> {
  const [segment, rudder] = await Promise.all([
    bundle("import { AnalyticsBrowser } from '@segment/analytics-next'; window.AnalyticsBrowser = AnalyticsBrowser;"),
    bundle("import { RudderAnalytics } from '@rudderstack/analytics-js/bundled'; window.RudderAnalytics = RudderAnalytics;"),
  ]);
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://site');
    if (url.pathname === '/segment.js' || url.pathname === '/rudder.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(url.pathname === '/segment.js' ? segment : rudder);
      return;
    }
    const mode = url.searchParams.get('sdk') as Mode | null;
    const script = mode ? `<script src="/${mode.split('-')[0]}.js"></script><script>${startScript(mode, api, writeKey)}</script>` : '';
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>Missions</title>${script}<h1>${mode ?? 'elsewhere'}</h1>`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  // localhost vs 127.0.0.1: the site and Balise are different origins, so CORS is exercised.
  return { url: `http://localhost:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

beforeAll(async () => {
  stack = await startStack();
  proxy = await startFaultProxy(stack.baseUrl);
  [site, browser] = await Promise.all([startSite(proxy.url, stack.writeKey), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await proxy?.close();
  await stack?.stop();
});

/** A fresh browser profile on a page with the SDK loaded and ready. */
async function open(mode: Mode): Promise<{ context: BrowserContext; page: Page }> {
  proxy.failNext(0);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${site.url}/missions?sdk=${mode}`);
  await waitReady(page, mode);
  return { context, page };
}

const waitReady = (page: Page, mode: Mode) =>
  mode.startsWith('segment')
    ? page.evaluate(() => (window as unknown as { analytics: { ready(): Promise<unknown> } }).analytics.ready().then(() => undefined))
    : page.evaluate(() => new Promise<void>((r) => (window as unknown as { rudderanalytics: { ready(cb: () => void): void } }).rudderanalytics.ready(() => r())));

/** Runs `calls` in the page, then navigates away at once (the evaluation dies with the page). */
/**
 * Fires the calls and navigates away. `queuedMs`: wait that long first, so the calls are in the
 * SDK's batch (analytics-next takes each call through promises before queuing it; leaving in the
 * same tick raced those, and the batch flushed at pagehide then held the first call only).
 */
async function fireAndLeave(page: Page, calls: string, to: string, queuedMs = 0): Promise<void> {
  const leave = `location.href = ${JSON.stringify(to)}`;
  await page.evaluate(queuedMs ? `${calls}; setTimeout(() => { ${leave}; }, ${queuedMs});` : `${calls}; ${leave};`).catch(() => undefined);
}

const proposal = { mission_id: 'msn_7', category: 'data_engineering', match_score: 0.8 };
const traits = { role: 'freelancer', email: 'ada@example.com' };
// alias first: analytics-next stamps every later event, alias included, with the identified user's id.
const segmentCalls = (tag: string) => `
  analytics.alias('${tag}-u2', '${tag}-u');
  analytics.identify('${tag}-u', ${JSON.stringify(traits)});
  analytics.track('mission_proposal_received', ${JSON.stringify(proposal)});
  analytics.page('Docs', 'Pricing');
  analytics.group('cmp_acme', { name: 'Acme' });`;
const rudderCalls = (tag: string) => `
  rudderanalytics.identify('${tag}-u', ${JSON.stringify(traits)});
  rudderanalytics.track('mission_proposal_received', ${JSON.stringify(proposal)});
  rudderanalytics.page('Docs', 'Pricing');
  rudderanalytics.group('cmp_acme', { name: 'Acme' });
  rudderanalytics.alias('${tag}-u2', '${tag}-u');`;

/** Type, ids, timestamp, properties, traits and browser context of the five calls above. */
function expectFiveCalls(rows: StoredEvent[], tag: string, library: string, firedAt: [number, number]): void {
  const identify = one(rows, 'identify');
  expect([identify.user_id, identify.traits, identify.plan_status]).toEqual([`${tag}-u`, traits, 'valid']);
  const track = one(rows, 'track', 'mission_proposal_received');
  expect([track.user_id, track.properties, track.plan_status]).toEqual([`${tag}-u`, expect.objectContaining(proposal), 'valid']);
  expect(one(rows, 'page', 'Pricing').properties).toMatchObject({ name: 'Pricing', category: 'Docs' });
  expect(one(rows, 'group')).toMatchObject({ user_id: `${tag}-u`, group_id: 'cmp_acme', traits: { name: 'Acme' } });
  expect(one(rows, 'alias')).toMatchObject({ user_id: `${tag}-u2`, previous_id: `${tag}-u` });
  expectBrowserContext(rows, library, firedAt);
}

function expectBrowserContext(rows: StoredEvent[], library: string, [from, to]: [number, number]): void {
  const anonymousIds = new Set(rows.map((r) => r.anonymous_id));
  expect(anonymousIds.size).toBe(1);
  expect([...anonymousIds][0]).not.toBe('');
  for (const row of rows) {
    expect(row.library_name).toBe(library);
    expect(row.context.userAgent).toMatch(/Chrome\//);
    // The SDK cannot know it: the server fills it from the request, as Segment's and RudderStack's do.
    expect(row.context.ip).toBe('127.0.0.1');
    expect(String(row.context.page?.url)).toMatch(new RegExp(`^${site.url}/missions`));
    // The time of the call, not of its (possibly retried) delivery: clock-skew correction keeps it.
    expect(row.ts).toBeGreaterThanOrEqual(from - 1_000);
    expect(row.ts).toBeLessThanOrEqual(to + 1_000);
  }
}

const posts = (prefix: string) => proxy.seen.filter((r) => r.method === 'POST' && r.url.startsWith(prefix));

describe('@segment/analytics-next in Chromium', () => {
  it('standard delivery: one request per call on the short paths /v1/i|t|p|g|a', async () => {
    const { context, page } = await open('segment-standard');
    const from = Date.now();
    await page.evaluate(`(async () => { ${segmentCalls('segstd').replaceAll('analytics.', 'await analytics.')} })()`);
    expectFiveCalls(await storedEvents(stack, 'segstd', 5), 'segstd', 'analytics.js', [from, Date.now()]);
    for (const path of ['/v1/i', '/v1/t', '/v1/p', '/v1/g', '/v1/a']) expect(posts(path).some((r) => r.status === 200)).toBe(true);
    await context.close();
  });

  it('standard delivery: a 503 is retried with X-Retry-Count (allowed by the preflight) and stored once', async () => {
    const { context, page } = await open('segment-standard');
    const before = proxy.seen.length;
    proxy.failNext(1);
    const from = Date.now();
    await page.evaluate(`analytics.identify('segretry-u'); analytics.track('mission_proposal_received', ${JSON.stringify(proposal)})`);
    const rows = await storedEvents(stack, 'segretry', 2);
    expectBrowserContext(rows, 'analytics.js', [from, Date.now()]);
    const attempts = proxy.seen.slice(before).filter((r) => r.method === 'POST');
    expect(attempts.some((r) => r.status === 503)).toBe(true);
    expect(attempts.some((r) => r.status === 200 && Number(r.headers['x-retry-count']) >= 1)).toBe(true);
    await context.close();
  });

  it('batching delivery: /v1/b, a 503 then recovery, every call once', async () => {
    const { context, page } = await open('segment-batching');
    const before = proxy.seen.length;
    proxy.failNext(1);
    const from = Date.now();
    await page.evaluate(segmentCalls('segbatch'));
    expectFiveCalls(await storedEvents(stack, 'segbatch', 5), 'segbatch', 'analytics.js', [from, Date.now()]);
    const batches = proxy.seen.slice(before).filter((r) => r.method === 'POST');
    expect(batches.every((r) => r.url === '/v1/b')).toBe(true);
    expect(batches.some((r) => r.status === 503)).toBe(true);
    expect(batches.some((r) => r.status === 200 && Number(r.headers['x-retry-count']) >= 1)).toBe(true);
    await context.close();
  });

  it('batching delivery: events fired as the page navigates away leave in a keepalive request', async () => {
    const { context, page } = await open('segment-unload');
    const from = Date.now();
    // Queued in the batch (size 100, timeout 60 s): only leaving the page sends them, in a keepalive request.
    await fireAndLeave(page, segmentCalls('segunload'), `${site.url}/elsewhere`, 100);
    await page.waitForURL(`${site.url}/elsewhere`);
    expectFiveCalls(await storedEvents(stack, 'segunload', 5), 'segunload', 'analytics.js', [from, Date.now()]);
    await context.close();
  });

  // Without keepalive, a standard fetch still waiting for its preflight when the page goes is
  // cancelled by the browser and analytics-next does not persist it: Segment documents keepalive
  // for this case.
  // analytics-next issues each call's request a little after the call returns (its plugin chain
  // runs asynchronously): a call made in the same tick as the navigation never reaches the wire,
  // with Segment's own API too. What keepalive promises is that a request already on the wire
  // survives the page: leave as soon as the proxy has seen all five arrive, before their answers.
  it('standard delivery with keepalive: requests on the wire when the page navigates away arrive once', async () => {
    const { context, page } = await open('segment-keepalive');
    const from = Date.now();
    const before = proxy.seen.length;
    await page.evaluate(segmentCalls('segnav'));
    const deadline = Date.now() + 20_000;
    while (proxy.seen.slice(before).filter((r) => r.method === 'POST').length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await page.evaluate(`location.href = ${JSON.stringify(`${site.url}/elsewhere`)};`).catch(() => undefined);
    await page.waitForURL(`${site.url}/elsewhere`);
    expectFiveCalls(await storedEvents(stack, 'segnav', 5), 'segnav', 'analytics.js', [from, Date.now()]);
    await context.close();
  });
});

describe('@rudderstack/analytics-js v3 in Chromium', () => {
  it('XHR delivery: AnonymousId and SentAt headers pass the preflight; identify traits from context.traits', async () => {
    const { context, page } = await open('rudder-xhr');
    const before = proxy.seen.length;
    const from = Date.now();
    await page.evaluate(rudderCalls('rudxhr'));
    expectFiveCalls(await storedEvents(stack, 'rudxhr', 5), 'rudxhr', 'RudderLabs JavaScript SDK', [from, Date.now()]);
    const sent = proxy.seen.slice(before).filter((r) => r.method === 'POST');
    expect(sent.map((r) => r.url).sort()).toEqual(['/v1/alias', '/v1/group', '/v1/identify', '/v1/page', '/v1/track']);
    expect(sent.every((r) => r.status === 200 && r.headers.anonymousid && r.headers.sentat)).toBe(true);
    await context.close();
  });

  it('XHR delivery: a 503 is retried with its Rsa-* headers and stored once', async () => {
    const { context, page } = await open('rudder-xhr');
    const before = proxy.seen.length;
    proxy.failNext(1);
    const from = Date.now();
    await page.evaluate(`rudderanalytics.track('mission_proposal_received', ${JSON.stringify(proposal)}, { anonymousId: 'rudretry-a' })`);
    const rows = await storedEvents(stack, 'rudretry', 1);
    expect(rows[0]!.properties).toMatchObject(proposal);
    expectBrowserContext(rows, 'RudderLabs JavaScript SDK', [from, Date.now()]);
    const attempts = proxy.seen.slice(before).filter((r) => r.method === 'POST');
    expect(attempts.map((r) => r.status)).toEqual([503, 200]);
    expect(attempts[1]!.headers['rsa-retry-attempt']).toBe('1');
    await context.close();
  });

  it('XHR delivery: events fired as the page navigates away are sent from the stored queue by the next page, once', async () => {
    const { context, page } = await open('rudder-xhr');
    const from = Date.now();
    await fireAndLeave(page, rudderCalls('rudnav'), `${site.url}/missions?sdk=rudder-xhr`);
    // The next page's queue takes over the abandoned one once its ack is 10 s old (the SDK's timing).
    expectFiveCalls(await storedEvents(stack, 'rudnav', 5, 30_000), 'rudnav', 'RudderLabs JavaScript SDK', [from, Date.now()]);
    await context.close();
  });

  it('beacon delivery: events fired as the page navigates away arrive on /beacon/v1/batch?writeKey=', async () => {
    const { context, page } = await open('rudder-beacon');
    const before = proxy.seen.length;
    const from = Date.now();
    await fireAndLeave(page, rudderCalls('rudbeacon'), `${site.url}/elsewhere`);
    await page.waitForURL(`${site.url}/elsewhere`);
    expectFiveCalls(await storedEvents(stack, 'rudbeacon', 5), 'rudbeacon', 'RudderLabs JavaScript SDK', [from, Date.now()]);
    const beacons = proxy.seen.slice(before).filter((r) => r.method === 'POST');
    expect(beacons.length).toBeGreaterThan(0);
    expect(beacons.every((r) => r.url === `/beacon/v1/batch?writeKey=${stack.writeKey}` && r.status === 200)).toBe(true);
    await context.close();
  });
});
