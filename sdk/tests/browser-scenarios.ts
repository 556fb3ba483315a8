/**
 * Browser scenarios for the SDK, written against any Balise endpoint: the in-test recording
 * server (browser.test.ts) or a real running stack. `countArrived` returns messageId → number of
 * times it was received (or stored).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export type CountArrived = () => Promise<Map<string, number>>;

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Builds the IIFE browser bundle in memory (the same entry as sdk/dist/balise.browser.min.js). */
export async function buildBrowserBundle(): Promise<string> {
  const out = await build({
    entryPoints: [resolve(import.meta.dirname, '../src/browser-global.ts')],
    bundle: true,
    minify: true,
    mangleProps: /^_/,
    format: 'iife',
    target: 'es2020',
    write: false,
  });
  return out.outputFiles[0]!.text;
}

/** A local site (its own origin, like a customer's app) serving a page that loads the bundle. */
export async function startSite(bundle: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/balise.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>shop</title><script src="/balise.js"></script><h1>test page</h1>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://localhost:${port}/`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export interface Harness {
  browser: Browser;
  siteUrl: string;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const site = await startSite(await buildBrowserBundle());
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  return {
    browser,
    siteUrl: site.url,
    close: async () => {
      await browser.close();
      await site.close();
    },
  };
}

interface PageOptions {
  flushAt?: number;
  flushInterval?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
}

/** A fresh context (empty storage), the page loaded, the SDK created; messageIds are recorded by the dev hook. */
async function openPage(h: Harness, baseUrl: string, writeKey: string, o: PageOptions): Promise<{ context: BrowserContext; page: Page }> {
  const context = await h.browser.newContext();
  const page = await context.newPage();
  await page.goto(h.siteUrl + '?utm_source=newsletter&utm_campaign=spring');
  await page.evaluate(
    ([host, writeKey, o]) => {
      const w = window as unknown as { __ids: string[]; Balise: { createBalise(o: object): unknown }; b: unknown };
      w.__ids = [];
      w.b = w.Balise.createBalise({ ...o, host, writeKey, devValidator: (e: { messageId: string }) => w.__ids.push(e.messageId) });
    },
    [baseUrl, writeKey, o] as const,
  );
  return { context, page };
}

const trackSome = (page: Page, n: number, prefix: string) =>
  page.evaluate(
    ([n, prefix]) => {
      const w = window as unknown as { __ids: string[]; b: { track(e: string, p: object): void } };
      for (let i = 0; i < n; i++) w.b.track(`${prefix}_${i}`, { i, note: 'é'.repeat(i) });
      return w.__ids.slice();
    },
    [n, prefix] as const,
  );

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until every id has arrived, then checks (after a grace period) that none arrived twice. */
export async function expectArrivedOnce(ids: string[], countArrived: CountArrived, graceMs = 1500): Promise<void> {
  await waitFor(`${ids.length} events to arrive`, async () => {
    const seen = await countArrived();
    return ids.every((id) => (seen.get(id) ?? 0) > 0) ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, graceMs));
  const seen = await countArrived();
  const wrong = ids.filter((id) => seen.get(id) !== 1).map((id) => `${id}×${seen.get(id) ?? 0}`);
  if (wrong.length) throw new Error(`events not delivered exactly once: ${wrong.join(', ')}`);
}

/** Events queued (no flush due for a minute), then the page is closed: pagehide hands them to sendBeacon. */
export async function scenarioCloseDelivers(h: Harness, baseUrl: string, writeKey: string, countArrived: CountArrived): Promise<string[]> {
  const { context, page } = await openPage(h, baseUrl, writeKey, { flushAt: 1000, flushInterval: 60_000 });
  const ids = await trackSome(page, 12, 'closed');
  const before = await countArrived();
  if (ids.some((id) => before.has(id))) throw new Error('events were sent before the page closed');
  await page.close({ runBeforeUnload: true });
  await expectArrivedOnce(ids, countArrived);
  await context.close();
  return ids;
}

/** The browser goes offline while events are tracked, then comes back: each event arrives once. */
export async function scenarioOfflineThenOnline(h: Harness, baseUrl: string, writeKey: string, countArrived: CountArrived): Promise<string[]> {
  const { context, page } = await openPage(h, baseUrl, writeKey, { flushAt: 2, flushInterval: 200, retryBaseMs: 100, retryMaxMs: 400 });
  await context.setOffline(true);
  const ids = await trackSome(page, 7, 'offline');
  await new Promise((r) => setTimeout(r, 1500)); // several failed attempts
  const during = await countArrived();
  if (ids.some((id) => during.has(id))) throw new Error('events arrived while offline');
  const queued = await page.evaluate(() => (window as unknown as { b: { stats(): { queued: number; retries: number } } }).b.stats());
  if (queued.queued !== ids.length || queued.retries < 1) throw new Error(`expected ${ids.length} queued events with retries, got ${JSON.stringify(queued)}`);
  await context.setOffline(false);
  await expectArrivedOnce(ids, countArrived);
  await context.close();
  return ids;
}

/** Runs every scenario against `baseUrl` (e.g. a running Balise) with its own Chromium. */
export async function runBrowserScenarios(baseUrl: string, writeKey: string, countArrived: CountArrived): Promise<void> {
  const h = await startHarness();
  try {
    await scenarioCloseDelivers(h, baseUrl, writeKey, countArrived);
    await scenarioOfflineThenOnline(h, baseUrl, writeKey, countArrived);
  } finally {
    await h.close();
  }
}
