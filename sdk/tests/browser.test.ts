/**
 * The built browser bundle in headless Chromium (Debian's), against an in-test recording server
 * that speaks POST /v1/batch. The same scenarios can run against a real Balise (browser-scenarios.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectArrivedOnce, scenarioCloseDelivers, scenarioOfflineThenOnline, startHarness, waitFor, type Harness } from './browser-scenarios.ts';

const WRITE_KEY = 'wk_browser_test';

interface Recorder {
  baseUrl: string;
  arrivals: Map<string, number>;
  bodies: { writeKey: string | undefined; contentType: string | undefined; batch: Record<string, unknown>[] }[];
  /** Answer the next n batch requests with this status. */
  failNext(n: number, status: number, retryAfter?: string): void;
  /** Batch requests answered with a failure so far. */
  failed(): number;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (s += c));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });

async function startRecorder(): Promise<Recorder> {
  const arrivals = new Map<string, number>();
  const bodies: Recorder['bodies'] = [];
  let fail = { n: 0, status: 503, retryAfter: undefined as string | undefined };
  let failed = 0;
  const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'authorization, content-type', 'access-control-expose-headers': 'retry-after' };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end();
    if (req.method !== 'POST' || req.url !== '/v1/batch') return void res.writeHead(404, cors).end();
    const text = await readBody(req);
    if (fail.n > 0) {
      fail.n--;
      failed++;
      return void res.writeHead(fail.status, { ...cors, ...(fail.retryAfter ? { 'retry-after': fail.retryAfter } : {}) }).end('{"code":"unavailable"}');
    }
    const body = JSON.parse(text) as { batch: Record<string, unknown>[]; writeKey?: string; sentAt: string };
    if (body.writeKey !== WRITE_KEY) return void res.writeHead(401, cors).end('{"code":"unauthorized"}');
    bodies.push({ writeKey: body.writeKey, contentType: req.headers['content-type'], batch: body.batch });
    for (const e of body.batch) arrivals.set(String(e.messageId), (arrivals.get(String(e.messageId)) ?? 0) + 1);
    res.writeHead(200, { ...cors, 'content-type': 'application/json' }).end(JSON.stringify({ results: body.batch.map(() => ({ status: 'valid' })) }));
  };
  // A handler that throws (a body that is not JSON) answers 500 instead of an unhandled rejection.
  const server: Server = createServer((req, res) => void handle(req, res).catch(() => res.writeHead(500, cors).end()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    arrivals,
    bodies,
    failNext: (n, status, retryAfter) => (fail = { n, status, retryAfter }),
    failed: () => failed,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let h: Harness;
let rec: Recorder;
const countArrived = async () => new Map(rec.arrivals);

beforeAll(async () => {
  [h, rec] = await Promise.all([startHarness(), startRecorder()]);
});
afterAll(async () => {
  await h?.close();
  await rec?.close();
});

/** Events tracked with no flush due for a minute: they wait in the queue (and storage). Their ids. */
function trackQueued(page: Page, prefix: string, n: number): Promise<string[]> {
  return page.evaluate(
    ([host, writeKey, name, count]) => {
      const w = window as unknown as { Balise: { createBalise(o: object): { track(e: string): void } } };
      const got: string[] = [];
      const b = w.Balise.createBalise({ host, writeKey, flushAt: 1000, flushInterval: 60_000, devValidator: (e: { messageId: string }) => got.push(e.messageId) });
      for (let i = 0; i < count; i++) b.track(name + i);
      return got;
    },
    [rec.baseUrl, WRITE_KEY, prefix, n] as const,
  );
}

/** The site's next page starts the SDK, which sends what storage holds: each id arrives once. */
async function nextPageSends(context: BrowserContext, ids: string[]): Promise<void> {
  const next = await context.newPage();
  await next.goto(h.siteUrl);
  await next.evaluate(
    ([host, writeKey]) => {
      (window as unknown as { Balise: { createBalise(o: object): unknown } }).Balise.createBalise({ host, writeKey, flushInterval: 100 });
    },
    [rec.baseUrl, WRITE_KEY] as const,
  );
  await expectArrivedOnce(ids, countArrived);
  await context.close();
}

describe('browser bundle in Chromium', () => {
  it('events tracked, then the page closed: they arrive by beacon, once, with automatic context', async () => {
    const ids = await scenarioCloseDelivers(h, rec.baseUrl, WRITE_KEY, countArrived);
    const events = rec.bodies.flatMap((b) => b.batch).filter((e) => ids.includes(String(e.messageId)));
    expect(events).toHaveLength(12);
    // A beacon cannot set headers: the key is in the body and the type is text/plain (no preflight).
    expect(rec.bodies.every((b) => b.contentType?.startsWith('text/plain'))).toBe(true);
    const ctx = events[0]!.context as Record<string, Record<string, unknown>>;
    expect(ctx.library).toEqual({ name: 'balise-sdk', version: '0.1.0' });
    expect(ctx.page!.url).toContain('utm_source=newsletter');
    expect(ctx.campaign).toEqual({ source: 'newsletter', name: 'spring' });
    expect(ctx.screen).toHaveProperty('width');
    expect(typeof ctx.locale).toBe('string');
    expect(typeof ctx.timezone).toBe('string');
    expect(typeof ctx.userAgent).toBe('string');
    expect(typeof ctx.sessionId).toBe('number');
    expect(new Set(events.map((e) => e.anonymousId)).size).toBe(1);
  });

  it('offline, then back online: the events arrive exactly once', async () => {
    await scenarioOfflineThenOnline(h, rec.baseUrl, WRITE_KEY, countArrived);
  });

  // 408: the ingest stopped waiting for a slow upload (BALISE_BODY_TIMEOUT_MS), as on a phone's network.
  it.each([
    [503, '1'],
    [408, undefined],
  ])('server answering %i (Retry-After: %s), then recovering: the events arrive exactly once', async (status, retryAfter) => {
    const context = await h.browser.newContext();
    const page = await context.newPage();
    await page.goto(h.siteUrl);
    rec.failNext(3, status, retryAfter);
    const ids = await page.evaluate(
      ([host, writeKey]) => {
        const w = window as unknown as { Balise: { createBalise(o: object): { track(e: string): void } } };
        const got: string[] = [];
        const b = w.Balise.createBalise({ host, writeKey, flushAt: 3, retryBaseMs: 100, retryMaxMs: 300, devValidator: (e: { messageId: string }) => got.push(e.messageId) });
        for (let i = 0; i < 6; i++) b.track('retry_' + i);
        return got;
      },
      [rec.baseUrl, WRITE_KEY] as const,
    );
    await expectArrivedOnce(ids, countArrived);
    await context.close();
  });

  it('events beaconed at page close while the server answers 503 are sent again by the next page, and arrive once', async () => {
    const context = await h.browser.newContext();
    const page = await context.newPage();
    await page.goto(h.siteUrl);
    const ids = await trackQueued(page, 'beaconed_', 3);
    // The beacon is refused (a deploy, an overload): the page cannot know, and it is gone.
    const before = rec.failed();
    rec.failNext(1, 503);
    await page.close({ runBeforeUnload: true });
    await waitFor('the beacon refused', async () => (rec.failed() > before ? true : undefined));
    expect(ids.some((id) => rec.arrivals.has(id))).toBe(false);
    await nextPageSends(context, ids);
  });

  it('a queue left in localStorage by a page that died offline is sent by the next page', async () => {
    const context = await h.browser.newContext();
    const page = await context.newPage();
    await page.goto(h.siteUrl);
    await context.setOffline(true);
    const ids = await trackQueued(page, 'stored_', 4);
    // The page dies (its renderer crashes): no unload handler runs, so only storage is left. A
    // closed page would not do: Chromium lifts a page's offline emulation while closing it.
    const crashed = new Promise((resolve) => page.once('crash', resolve));
    const cdp = await context.newCDPSession(page);
    void cdp.send('Page.crash').catch(() => undefined);
    await crashed;
    await page.close();
    await context.setOffline(false);
    const stored = await waitFor('queue in storage', async () => {
      const p = await context.newPage();
      await p.goto(h.siteUrl);
      const q = await p.evaluate(() => localStorage.getItem('balise_q'));
      await p.close();
      return q ?? undefined;
    });
    expect((JSON.parse(stored) as unknown[]).length).toBe(4);
    expect(ids.some((id) => rec.arrivals.has(id))).toBe(false);
    await nextPageSends(context, ids);
  });

  it("with consent 'pending' nothing is stored or sent until granted", async () => {
    const context = await h.browser.newContext();
    const page = await context.newPage();
    await page.goto(h.siteUrl);
    const ids = await page.evaluate(
      ([host, writeKey]) => {
        const w = window as unknown as { Balise: { createBalise(o: object): { track(e: string): void } }; b: unknown };
        const got: string[] = [];
        const b = w.Balise.createBalise({ host, writeKey, consent: 'pending', flushAt: 1, devValidator: (e: { messageId: string }) => got.push(e.messageId) });
        w.b = b;
        b.track('before_consent');
        return got;
      },
      [rec.baseUrl, WRITE_KEY] as const,
    );
    await new Promise((r) => setTimeout(r, 700));
    expect(await page.evaluate(() => [localStorage.length, document.cookie])).toEqual([0, '']);
    expect(rec.arrivals.has(ids[0]!)).toBe(false);
    await page.evaluate(() => (window as unknown as { b: { setConsent(c: string): void } }).b.setConsent('granted'));
    await expectArrivedOnce(ids, countArrived, 300);
    await context.close();
  });

  // Found 2026-12-05: after reset() (a logout) the next person's events carried the last one's sessionId.
  it('reset() starts a new session with the new anonymousId', async () => {
    const context = await h.browser.newContext();
    const page = await context.newPage();
    await page.goto(h.siteUrl);
    const sessions = await page.evaluate(async () => {
      type Sdk = { identify(u: string): void; track(e: string): void; reset(): void; flush(): Promise<void> };
      const sent: { batch: { event?: string; anonymousId: string; context: { sessionId: number } }[] }[] = [];
      const w = window as unknown as { Balise: { createBalise(o: object): Sdk } };
      const b = w.Balise.createBalise({ writeKey: 'k', host: 'http://collect.test', transport: async (r: { body: string }) => (sent.push(JSON.parse(r.body)), { status: 200 }) });
      b.identify('fr_before');
      b.track('before_logout');
      // The session id is the time it started: let the clock move.
      await new Promise((r) => setTimeout(r, 5));
      b.reset();
      b.track('after_logout');
      await b.flush();
      return sent
        .flatMap((s) => s.batch)
        .filter((e) => e.event)
        .map((e) => [e.event, e.anonymousId, e.context.sessionId] as const);
    });
    expect(sessions.map(([event]) => event)).toEqual(['before_logout', 'after_logout']);
    const [[, anonBefore, before], [, anonAfter, after]] = sessions as [readonly [string, string, number], readonly [string, string, number]];
    expect(anonAfter).not.toBe(anonBefore);
    expect(after).not.toBe(before);
    await context.close();
  });
});
