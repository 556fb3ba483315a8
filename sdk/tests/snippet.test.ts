/**
 * The README's one-line <script> snippet, copied from README.md, in a page on another origin in
 * Chromium, against a real Balise (redis-server, embedded ClickHouse, API + worker): the server
 * serves the SDK (versioned, immutable, CORS) and the page's events are stored.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSizes } from '../build.mjs';
import { sdkAssetPath } from '../../src/ingest/sdk-asset.ts';
import { startStack, type Stack } from '../../tests/helpers/stack.ts';
import { CHROMIUM_ARGS, waitFor } from './browser-scenarios.ts';

const README = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
/** The snippet exactly as the README gives it (its host and key are placeholders). */
const SNIPPET = README.split('\n').find((line) => line.startsWith('<script') && line.includes('/sdk/v'))!;
/** The README's stub line, which queues calls made before the deferred script runs. */
const STUB = README.split('\n').find((line) => line.startsWith('<script>window.balise='))!;

let stack: Stack;
let browser: Browser;
let site: Server;
let siteUrl: string;
beforeAll(async () => {
  stack = await startStack();
  const html = `<!doctype html><html><head><title>Pricing</title>${SNIPPET.replace('http://127.0.0.1:3000', stack.baseUrl).replace('YOUR_WRITE_KEY', stack.writeKey)}</head><body><h1>pricing</h1></body></html>`;
  // The customer's site: its own origin (localhost, not the API's 127.0.0.1).
  site = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end(html));
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  siteUrl = `http://localhost:${(site.address() as AddressInfo).port}/pricing`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (site ? site.close(r) : r(undefined)));
  await stack?.stop();
});

/** The README's snippet tag for the test stack, with `attributes` before its write key. */
const snippetTag = (attributes = '') => SNIPPET.replace('http://127.0.0.1:3000', stack.baseUrl).replace('YOUR_WRITE_KEY', stack.writeKey).replace(' data-write-key=', `${attributes} data-write-key=`);

/** A customer's page at `path` on an origin of its own, visited in a fresh browser context; both closed after. */
async function onSite(path: string, html: string, visit: (page: Page, url: string) => Promise<void>): Promise<void> {
  const server = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end(html));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const context = await browser.newContext();
  try {
    await visit(await context.newPage(), `http://localhost:${(server.address() as AddressInfo).port}${path}`);
  } finally {
    await context.close();
    await new Promise((r) => server.close(r));
  }
}

describe('bundle sizes', () => {
  it('the browser core stays within 3,072 B min+gzip; the snippet bundle adds only its auto-start', async () => {
    const { core, snippet } = await browserSizes();
    console.log(`browser core ${core} B, snippet bundle ${snippet} B (min+gzip)`);
    expect(core).toBeLessThanOrEqual(3072);
    expect(snippet - core).toBeLessThan(200);
  });
});

describe('the README snippet', () => {
  it('names the versioned path the server serves, with a long immutable cache and CORS', async () => {
    expect(SNIPPET).toContain(`src="http://127.0.0.1:3000${sdkAssetPath()}"`);
    const res = await fetch(stack.baseUrl + sdkAssetPath(), { headers: { origin: 'http://localhost:1234' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.text()).toContain('createBalise');
    expect((await fetch(`${stack.baseUrl}/sdk/v0.0.0-nope/balise.min.js`)).status).toBe(404);
    // A tag pasted for another release still loads the SDK after an upgrade, briefly cached.
    const older = await fetch(`${stack.baseUrl}/sdk/v0.0.9/balise.min.js`);
    expect([older.status, older.headers.get('cache-control')]).toEqual([200, 'public, max-age=300']);
    expect(await older.text()).toContain('createBalise');
    // Compressed for the browsers that take it (every one), as sent without a CDN in front.
    expect([res.headers.get('content-encoding'), res.headers.get('vary')]).toEqual(['gzip', 'Accept-Encoding']);
    const plain = await fetch(stack.baseUrl + sdkAssetPath(), { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(Number(res.headers.get('content-length'))).toBeLessThan(Number(plain.headers.get('content-length')) * 0.6);
  });

  it('with the stub line, calls made before the deferred script ran (inline, at parse time) are made once it runs', async () => {
    expect(STUB).toBeDefined();
    const html = `<!doctype html><html><head><title>Early</title>${STUB}${snippetTag()}</head><body><script>balise.identify('early_user');balise.track('early_click', { at: 'parse' }, { messageId: 'snippet-early-1' });</script></body></html>`;
    await onSite('/early', html, async (page, url) => {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url);
      await page.waitForFunction(() => 'flush' in ((window as unknown as { balise: object }).balise ?? {}));
      await page.evaluate(() => (window as unknown as { balise: { flush(): Promise<void> } }).balise.flush());
      const rows = await waitFor('the early call in ClickHouse', async () => {
        const found = await stack.query<{ user_id: string }>('SELECT user_id FROM events WHERE message_id = {m:String}', { m: 'snippet-early-1' });
        return found.length ? found : undefined;
      });
      expect(rows).toEqual([{ user_id: 'early_user' }]);
      expect(errors).toEqual([]);
    });
  });

  // Found 2026-12-05: data-consent was ignored, the stub had no setConsent, and an identifier and the
  // page view were in localStorage before any banner could answer.
  it('with data-consent="pending", nothing is stored or sent until the page grants it; then the page view goes, with an identify queued before it', async () => {
    const html = `<!doctype html><html><head><title>Consent</title>${STUB}${snippetTag(' data-consent="pending"')}</head><body><script>balise.identify('consent_user');</script></body></html>`;
    await onSite('/consent', html, async (page, url) => {
      await page.goto(url);
      await page.waitForFunction(() => 'flush' in ((window as unknown as { balise: object }).balise ?? {}));
      await page.evaluate(() => (window as unknown as { balise: { flush(): Promise<void> } }).balise.flush());
      expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('balise')))).toEqual([]);
      expect(await page.evaluate(() => document.cookie)).toBe('');
      const pageViews = () => stack.query<{ user_id: string }>("SELECT user_id FROM events WHERE type = 'page' AND JSONExtractString(context, 'page', 'url') = {url:String}", { url });
      expect(await pageViews()).toEqual([]);
      await page.evaluate(() => {
        const b = (window as unknown as { balise: { setConsent(c: string): void; flush(): Promise<void> } }).balise;
        b.setConsent('granted');
        return b.flush();
      });
      expect(await waitFor('the page view once granted', async () => ((await pageViews()).length ? pageViews() : undefined))).toEqual([{ user_id: 'consent_user' }]);
    });
  });

  it('with data-consent="denied", what an earlier visit stored (ids, queue) is forgotten, and nothing is sent', async () => {
    const html = `<!doctype html><html><head><title>Denied</title>${STUB}${snippetTag(' data-consent="denied"')}</head><body></body></html>`;
    await onSite('/denied', html, async (page, url) => {
      // An earlier visit, before the visitor refused: its ids and an unsent event.
      await page.goto(`${url}?first`);
      await page.evaluate(() => {
        localStorage.setItem('balise_aid', 'old-anon');
        localStorage.setItem('balise_uid', 'old-user');
        localStorage.setItem('balise_q', JSON.stringify([{ type: 'track', event: 'old', messageId: 'denied-old', anonymousId: 'old-anon' }]));
      });
      await page.goto(url);
      await page.waitForFunction(() => 'flush' in ((window as unknown as { balise: object }).balise ?? {}));
      expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('balise')))).toEqual([]);
      await page.evaluate(() => (window as unknown as { balise: { flush(): Promise<void> } }).balise.flush());
      expect(await stack.query("SELECT message_id FROM events WHERE message_id = 'denied-old' OR JSONExtractString(context, 'page', 'url') LIKE {u:String}", { u: `${url}%` })).toEqual([]);
    });
  });

  it('in a page in Chromium: the page view and a track call are stored in ClickHouse', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(siteUrl);
    await page.waitForFunction(() => 'balise' in window);
    await page.evaluate(() => (window as unknown as { balise: { track(e: string, p: object, o: object): void } }).balise.track('snippet_clicked', { plan: 'pro' }, { messageId: 'snippet-click-1' }));
    // Leaving the page sends what is queued by beacon.
    await page.goto('about:blank');
    const rows = await waitFor(
      'the snippet events in ClickHouse',
      async () => {
        const found = await stack.query<{ type: string; event: string; url: string; title: string; library: string }>(
          "SELECT type, event, JSONExtractString(context, 'page', 'url') AS url, JSONExtractString(context, 'page', 'title') AS title, library_name AS library FROM events WHERE JSONExtractString(context, 'page', 'url') = {url:String} ORDER BY type",
          { url: siteUrl },
        );
        return found.length >= 2 ? found : undefined;
      },
      30_000,
    );
    expect(rows).toEqual([
      { type: 'page', event: '', url: siteUrl, title: 'Pricing', library: 'balise-sdk' },
      { type: 'track', event: 'snippet_clicked', url: siteUrl, title: 'Pricing', library: 'balise-sdk' },
    ]);
    expect(await stack.query('SELECT message_id FROM events WHERE event = {e:String}', { e: 'snippet_clicked' })).toEqual([{ message_id: 'snippet-click-1' }]);
    await context.close();
  });
});
