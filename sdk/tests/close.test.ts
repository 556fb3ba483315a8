/**
 * close() with the ingest unreachable never loses an event silently: what could not be sent is
 * handed to onDrop (or named on the console) and counted in the resolved stats, and a module
 * awaiting close() at top level does not end in Node's exit code 13. Callers' messageIds are kept.
 */
import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createBalise } from '../src/node.ts';
import type { DropReason, WireEvent } from '../src/types.ts';
import { scriptedTransport, forUser } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'balise-sdk-close-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const nodeEntry = pathToFileURL(resolve(import.meta.dirname, '../src/node.ts')).href;

/** A local port nothing listens on: connections are refused, as with an ingest that is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Runs a module in a fresh Node (tsx loads the SDK's TypeScript), as an application would. */
function runModule(name: string, code: string) {
  const file = join(dir, name);
  writeFileSync(file, code);
  return spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 60_000, cwd: resolve(import.meta.dirname, '../..') });
}

describe('close() with the ingest unreachable', () => {
  it('hands every unsent event to onDrop as undelivered and resolves the stats', async () => {
    const dropped: [WireEvent[], DropReason][] = [];
    const t = scriptedTransport(() => new Error('ECONNREFUSED'));
    const sdk = forUser(createBalise({ writeKey: 'k', transport: t.transport, flushOnExit: false, retryBaseMs: 5, retryMaxMs: 20, onDrop: (events, reason) => dropped.push([events, reason]) }));
    for (let i = 0; i < 5; i++) sdk.track('e', { i }, { messageId: `close-${i}` });
    const stats = await sdk.close(200);
    expect(t.attempts()).toBeGreaterThan(1);
    expect(dropped.map(([events, reason]) => [events.map((e) => e.messageId), reason])).toEqual([[['close-0', 'close-1', 'close-2', 'close-3', 'close-4'], 'undelivered']]);
    expect(stats).toMatchObject({ queued: 0, sent: 0, dropped: 5 });
  });

  it('tells nobody anything when everything was delivered (no onDrop call, no warning)', async () => {
    const dropped: [WireEvent[], DropReason][] = [];
    const t = scriptedTransport();
    const sdk = forUser(createBalise({ writeKey: 'k', transport: t.transport, flushOnExit: false, onDrop: (events, reason) => dropped.push([events, reason]) }));
    for (let i = 0; i < 3; i++) sdk.track('e', { i }, { messageId: `ok-${i}` });
    const stats = await sdk.close(2000);
    expect(t.events().map((e) => e.messageId)).toEqual(['ok-0', 'ok-1', 'ok-2']);
    expect(dropped).toEqual([]);
    expect(stats).toMatchObject({ queued: 0, sent: 3, dropped: 0 });
  });

  it('a module awaiting close() at top level exits 0 (not 13) and reports what it could not send', async () => {
    const port = await closedPort();
    const run = runModule(
      'top-level.mjs',
      `import { createBalise } from ${JSON.stringify(nodeEntry)};
const sdk = createBalise({ writeKey: 'k', host: 'http://127.0.0.1:${port}', retryBaseMs: 50, retryMaxMs: 200,
  onDrop: (events, reason) => console.log('DROPPED', reason, events.map((e) => e.messageId).join(',')) });
sdk.track('job_done', {}, { userId: 'u1', messageId: 'job-1' });
sdk.track('job_done', {}, { userId: 'u1', messageId: 'job-2' });
const stats = await sdk.close(1500);
console.log('STATS', JSON.stringify(stats));
`,
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('DROPPED undelivered job-1,job-2');
    expect(run.stdout).toMatch(/STATS \{"queued":0,"sent":0,"dropped":2/);
  });

  it('without onDrop, and without close(), the events given up at exit are named on the console', async () => {
    const port = await closedPort();
    const run = runModule(
      'no-close.mjs',
      `import { createBalise } from ${JSON.stringify(nodeEntry)};
const sdk = createBalise({ writeKey: 'k', host: 'http://127.0.0.1:${port}', retryBaseMs: 50, retryMaxMs: 200 });
sdk.track('job_done', {}, { userId: 'u1', messageId: 'job-9' });
`,
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/1 event\(s\) could not be delivered to http:\/\/127\.0\.0\.1:\d+; messageIds: job-9/);
  });
});

describe('caller-supplied messageId', () => {
  it('is sent as given; without one a UUID is generated', async () => {
    const t = scriptedTransport();
    const sdk = forUser(createBalise({ writeKey: 'k', transport: t.transport, flushOnExit: false }));
    sdk.track('e', {}, { messageId: 'order-123-paid' });
    sdk.page('Home', {}, { messageId: 'pv-1' });
    sdk.track('e');
    await sdk.close();
    const ids = t.events().map((e) => e.messageId);
    expect(ids.slice(0, 2)).toEqual(['order-123-paid', 'pv-1']);
    expect(ids[2]).toMatch(/^[0-9a-f-]{36}$/);
  });
});
