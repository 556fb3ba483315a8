import { describe, expect, it, vi } from 'vitest';
import { backoff, createCore, type CoreDeps } from '../src/core.ts';
import { storageKV } from '../src/browser.ts';
import { createBalise, type NodeBalise } from '../src/node.ts';
import type { CoreOptions, DropReason, SdkError, Transport, WireEvent } from '../src/types.ts';
import { manualClock, MemoryStorage, scriptedTransport, settle, status, forUser } from './helpers.ts';

const node = (o: Partial<Parameters<typeof createBalise>[0]> & { transport: Transport }, clock = manualClock()) => ({
  clock,
  sdk: forUser(createBalise({ writeKey: 'wk_test', host: 'http://ingest.test/', flushOnExit: false, clock, onError: () => {}, ...o })),
});

/** The browser's core with an injected Storage, as a page reload would recreate it. */
const stored = (storage: Storage, transport: Transport, o: Partial<CoreOptions> = {}, clock = manualClock()) => {
  const deps: CoreDeps = {
    _transport: transport,
    _clock: clock,
    _kv: storageKV(storage),
    _flushAt: 20,
    _flushInterval: 5000,
    _maxQueueSize: 100,
    _host: 'http://ingest.test',
  };
  return { clock, sdk: createCore({ writeKey: 'wk_b', onError: () => {}, ...o }, deps) };
};

describe('wire format', () => {
  it('POSTs {batch, sentAt} to /v1/batch with messageId, timestamp, library and plan version', async () => {
    const t = scriptedTransport();
    const { sdk } = node({ transport: t.transport, planVersion: '1.4.0' });
    sdk.track('mission_created', { budget: 300 }, { userId: 'u1' });
    sdk.identify('u2', { plan: 'pro' });
    await sdk.flush();
    expect(t.sent).toHaveLength(1);
    const req = t.sent[0]!;
    expect(req.url).toBe('http://ingest.test/v1/batch');
    expect(req.body.sentAt).toBe(new Date(Date.UTC(2025, 0, 1)).toISOString());
    const [a, b] = req.body.batch;
    expect(a).toMatchObject({ type: 'track', event: 'mission_created', properties: { budget: 300 }, userId: 'u1', timestamp: req.body.sentAt });
    expect(a!.context).toEqual({ library: { name: 'balise-sdk', version: '0.1.0' }, plan: { version: '1.4.0' } });
    expect(a!.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(b).toMatchObject({ type: 'identify', userId: 'u2', traits: { plan: 'pro' } });
    expect(a!.messageId).not.toBe(b!.messageId);
    // A server's events carry the ids their call gave, and no process-wide anonymousId.
    expect([a!.anonymousId, b!.anonymousId]).toEqual(['', '']);
  });

  it('sends Basic auth with the write key from the Node fetch transport', async () => {
    const seen: { auth: string | null; body: string }[] = [];
    const real = globalThis.fetch;
    globalThis.fetch = (async (_u: string, init: RequestInit) => {
      seen.push({ auth: new Headers(init.headers).get('authorization'), body: String(init.body) });
      return new Response('{}', { status: 200 });
    }) as typeof fetch;
    try {
      const sdk = forUser(createBalise({ writeKey: 'wk_live', host: 'http://x.test', flushOnExit: false }));
      sdk.track('a');
      await sdk.close();
    } finally {
      globalThis.fetch = real;
    }
    expect(seen[0]!.auth).toBe('Basic ' + Buffer.from('wk_live:').toString('base64'));
    expect(JSON.parse(seen[0]!.body).batch[0].event).toBe('a');
  });
});

describe('batching', () => {
  it('sends as soon as flushAt events are queued', async () => {
    const t = scriptedTransport();
    const { sdk, clock } = node({ transport: t.transport, flushAt: 3, flushInterval: 60_000 });
    sdk.track('a');
    sdk.track('b');
    await clock.advance(0);
    expect(t.sent).toHaveLength(0);
    sdk.track('c');
    await clock.advance(0);
    expect(t.sent.map((s) => s.body.batch.map((e) => e.event))).toEqual([['a', 'b', 'c']]);
  });

  it('sends what is queued every flushInterval ms', async () => {
    const t = scriptedTransport();
    const { sdk, clock } = node({ transport: t.transport, flushAt: 100, flushInterval: 1000 });
    sdk.track('a');
    await clock.advance(999);
    expect(t.sent).toHaveLength(0);
    await clock.advance(1);
    expect(t.events().map((e) => e.event)).toEqual(['a']);
  });

  it.each([
    { name: 'bytes', limits: { batchBytes: 2000 }, events: 12, pad: 300 },
    { name: 'event count', limits: { batchEvents: 5 }, events: 12, pad: 10 },
  ])('splits batches under the $name limit', async ({ limits, events, pad }) => {
    const t = scriptedTransport();
    const { sdk } = node({ transport: t.transport, limits, flushAt: 1000 });
    for (let i = 0; i < events; i++) sdk.track('e', { i, pad: 'x'.repeat(pad) });
    await sdk.flush();
    expect(t.sent.length).toBeGreaterThan(1);
    for (const s of t.sent) {
      expect(s.bytes).toBeLessThanOrEqual(limits.batchBytes ?? 500_000);
      expect(s.body.batch.length).toBeLessThanOrEqual(limits.batchEvents ?? 2500);
    }
    expect(t.events().map((e) => e.properties?.i)).toEqual([...Array(events).keys()]);
  });

  it('counts multi-byte characters as UTF-8 bytes when splitting', async () => {
    const t = scriptedTransport();
    const { sdk } = node({ transport: t.transport, limits: { batchBytes: 3000 }, flushAt: 1000 });
    for (let i = 0; i < 10; i++) sdk.track('e', { text: '€'.repeat(200) }); // 600 bytes each
    await sdk.flush();
    for (const s of t.sent) expect(s.bytes).toBeLessThanOrEqual(3000);
    expect(t.events()).toHaveLength(10);
  });

  it('drops an event over the per-event limit and reports it, without sinking the others', async () => {
    const t = scriptedTransport();
    const drops: [number, DropReason][] = [];
    const { sdk } = node({ transport: t.transport, onDrop: (e, r) => drops.push([e.length, r]) });
    sdk.track('ok');
    sdk.track('huge', { blob: 'x'.repeat(40_000) });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    sdk.track('loop', { circular });
    sdk.track('ok2');
    await sdk.flush();
    expect(t.events().map((e) => e.event)).toEqual(['ok', 'ok2']);
    expect(drops).toEqual([
      [1, 'too_large'],
      [1, 'unserializable'],
    ]);
    expect(sdk.stats()).toMatchObject({ dropped: 2, sent: 2, queued: 0 });
  });
});

describe('retry', () => {
  it.each([0, 1, 2, 5, 10, 20])('full-jitter backoff for attempt %i stays within [0, min(cap, base·2^n)]', (n) => {
    const ceiling = Math.min(30_000, 500 * 2 ** n);
    expect(backoff(n, () => 0, 500, 30_000)).toBe(0);
    expect(backoff(n, () => 0.999999, 500, 30_000)).toBeCloseTo(ceiling * 0.999999);
    expect(backoff(n, () => 0.5, 500, 30_000)).toBe(ceiling / 2);
  });

  it('retries network errors and 5xx with growing delays; events stay queued meanwhile', async () => {
    const t = scriptedTransport((n) => (n === 0 ? new Error('ECONNREFUSED') : n < 3 ? status(503) : status(200)));
    const { sdk, clock } = node({ transport: t.transport, random: () => 1, retryBaseMs: 1000, retryMaxMs: 60_000 });
    sdk.track('a');
    await sdk.flush();
    expect(t.attempts()).toBe(1);
    expect(sdk.stats()).toMatchObject({ queued: 1, retries: 1, sent: 0 });
    expect(clock.pending()).toEqual([1000]);
    await clock.advance(1000);
    expect(t.attempts()).toBe(2);
    expect(clock.pending()).toEqual([2000]);
    await clock.advance(1999);
    expect(t.attempts()).toBe(2);
    await clock.advance(1);
    expect(t.attempts()).toBe(3);
    await clock.advance(4000);
    expect(t.attempts()).toBe(4);
    expect(t.events().map((e) => e.event)).toEqual(['a']);
    expect(sdk.stats()).toMatchObject({ queued: 0, sent: 1, retries: 3 });
  });

  it('honours Retry-After seconds on 429 instead of its own backoff', async () => {
    const t = scriptedTransport((n) => (n === 0 ? status(429, '7') : status(200)));
    const { sdk, clock } = node({ transport: t.transport, random: () => 0 });
    sdk.track('a');
    await sdk.flush();
    await clock.advance(6999);
    expect(t.attempts()).toBe(1);
    await clock.advance(1);
    expect(t.attempts()).toBe(2);
    expect(t.events()).toHaveLength(1);
  });

  it.each([400, 401, 413, 422])('does not retry HTTP %i: drops the batch, counts it and reports it', async (code) => {
    const t = scriptedTransport((n) => (n === 0 ? status(code) : status(200)));
    const errors: SdkError[] = [];
    const { sdk, clock } = node({ transport: t.transport, onError: (e) => errors.push(e) });
    sdk.track('bad');
    await sdk.flush();
    await clock.advance(120_000);
    expect(t.attempts()).toBe(1);
    expect(sdk.stats()).toMatchObject({ queued: 0, rejected: 1, retries: 0 });
    expect(errors.map((e) => [e.code, e.status])).toEqual([['rejected', code]]);
    sdk.track('next');
    await sdk.flush();
    expect(t.events().map((e) => e.event)).toEqual(['next']);
  });

  it('sends a batch again after a 408 in the browser core too (a slow upload cut short by the ingest), instead of dropping it', async () => {
    const t = scriptedTransport((n) => status(n === 0 ? 408 : 200));
    const { sdk, clock } = stored(new MemoryStorage(), t.transport, { random: () => 0 });
    sdk.track('slow');
    await sdk.flush();
    await clock.advance(1000);
    expect([t.attempts(), t.events().map((e) => e.event)]).toEqual([2, ['slow']]);
    expect(sdk.stats()).toMatchObject({ queued: 0, sent: 1, rejected: 0, retries: 1 });
  });

  it('keeps newer events behind a failing batch in order', async () => {
    const t = scriptedTransport((n) => (n === 0 ? status(500) : status(200)));
    const { sdk, clock } = node({ transport: t.transport, random: () => 0.1, flushAt: 2 });
    sdk.track('a');
    sdk.track('b');
    await clock.advance(0);
    sdk.track('c');
    await clock.advance(60_000);
    expect(t.events().map((e) => e.event)).toEqual(['a', 'b', 'c']);
  });
});

describe('Node queue bound', () => {
  it('drops the oldest events beyond maxQueueSize, counts them and calls onDrop', async () => {
    const t = scriptedTransport(() => new Error('offline'));
    const dropped: string[] = [];
    const { sdk } = node({ transport: t.transport, maxQueueSize: 3, flushAt: 1000, onDrop: (evs, why) => dropped.push(...evs.map((e) => `${e.event}:${why}`)) });
    for (const e of ['a', 'b', 'c', 'd', 'e']) sdk.track(e);
    expect(sdk.stats()).toMatchObject({ queued: 3, dropped: 2 });
    expect(dropped).toEqual(['a:queue_full', 'b:queue_full']);
  });

  it('close() delivers what is queued, waiting out a retry', async () => {
    const t = scriptedTransport((n) => (n === 0 ? status(503) : status(200)));
    const clock = {
      now: Date.now,
      setTimeout: (f: () => void, ms: number) => setTimeout(f, ms),
      clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
    };
    const sdk = forUser(createBalise({ writeKey: 'k', transport: t.transport, clock, retryBaseMs: 20, retryMaxMs: 50, flushOnExit: false, onError: () => {} }));
    sdk.track('a', {}, { userId: 'u' });
    await sdk.close(5000);
    expect(t.events().map((e) => e.event)).toEqual(['a']);
    sdk.track('after-close');
    expect(sdk.stats().queued).toBe(0);
  });
});

describe('browser persistence (injected Storage)', () => {
  it('a queue written before a reload is sent by the next page', async () => {
    const storage = new MemoryStorage();
    const down = scriptedTransport(() => new Error('offline'));
    const first = stored(storage, down.transport);
    first.sdk.track('before_reload', { n: 1 });
    first.sdk.identify('user-9');
    await first.sdk.flush();
    expect(down.sent).toHaveLength(0);

    const up = scriptedTransport();
    const second = stored(storage, up.transport);
    await second.clock.advance(0); // no explicit flush: loading a stored queue schedules one
    expect(up.events().map((e) => [e.type, e.event ?? e.userId])).toEqual([
      ['track', 'before_reload'],
      ['identify', 'user-9'],
    ]);
    second.sdk.track('after');
    await second.sdk.flush();
    const after = up.events().at(-1)!;
    expect(after.userId).toBe('user-9');
    expect(after.anonymousId).toBe(up.events()[0]!.anonymousId);
    expect(JSON.parse(storage.getItem('balise_q') ?? '[]')).toEqual([]);
  });

  it('handles QuotaExceededError: keeps working and persists the newest events that fit, without reporting', async () => {
    const storage = new MemoryStorage(3000);
    const errors: string[] = [];
    const t = scriptedTransport(() => new Error('offline'));
    const { sdk } = stored(storage, t.transport, { onError: (e) => errors.push(e.code), flushAt: 1000 } as Partial<CoreOptions>);
    for (let i = 0; i < 30; i++) expect(() => sdk.track('e', { i, pad: 'x'.repeat(100) })).not.toThrow();
    expect(sdk.stats().queued).toBe(30);
    const kept = JSON.parse(storage.getItem('balise_q') ?? '[]') as WireEvent[];
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(30);
    expect(kept.at(-1)!.properties!.i).toBe(29);
    // Keeping the newest half is the remedy, not an error: a full storage must not report per event.
    expect(errors).toEqual([]);
  });

  it("reports 'storage' to onError, and keeps sending, when not even one event fits in storage", async () => {
    const storage = new MemoryStorage(150);
    const errors: string[] = [];
    const t = scriptedTransport();
    const { sdk } = stored(storage, t.transport, { onError: (e) => errors.push(e.code), flushAt: 1000 } as Partial<CoreOptions>);
    expect(() => sdk.track('e', { pad: 'x'.repeat(400) })).not.toThrow();
    expect(errors).toEqual(['storage']);
    expect(storage.getItem('balise_q')).toBeNull();
    await sdk.flush();
    expect(t.events().map((e) => e.properties?.pad)).toEqual(['x'.repeat(400)]);
  });
});

describe('consent and opt-out', () => {
  it("with consent 'pending' nothing is stored or sent until granted", async () => {
    const storage = new MemoryStorage();
    const t = scriptedTransport();
    const { sdk, clock } = stored(storage, t.transport, { consent: 'pending', flushAt: 1 });
    sdk.identify('u1');
    sdk.track('a');
    await clock.advance(60_000);
    expect(t.attempts()).toBe(0);
    expect(storage.length).toBe(0);
    sdk.setConsent('granted');
    await clock.advance(0);
    expect(t.events().map((e) => e.type)).toEqual(['identify', 'track']);
    expect(storage.getItem('balise_aid')).toBe(t.events()[0]!.anonymousId);
    expect(storage.getItem('balise_uid')).toBe('u1');
  });

  it("setConsent('denied') opts out: the queue and stored ids are forgotten and later events ignored", async () => {
    const storage = new MemoryStorage();
    const t = scriptedTransport(() => new Error('offline'));
    const { sdk, clock } = stored(storage, t.transport);
    sdk.identify('u1');
    sdk.track('a');
    expect(storage.getItem('balise_q')).not.toBeNull();
    sdk.setConsent('denied');
    sdk.track('b');
    await clock.advance(120_000);
    expect(storage.length).toBe(0);
    expect(sdk.stats().queued).toBe(0);
    const attempts = t.attempts();
    await sdk.flush();
    expect(t.attempts()).toBe(attempts);
  });

  it('reset() starts a new anonymous identity', async () => {
    // A browser's: on a server nothing carries over between calls to reset.
    const t = scriptedTransport();
    const { sdk } = stored(new MemoryStorage(), t.transport);
    sdk.identify('u1');
    sdk.reset();
    sdk.track('x');
    await sdk.flush();
    const [a, b] = t.events();
    expect(b!.userId).toBeUndefined();
    expect(b!.anonymousId).not.toBe(a!.anonymousId);
  });
});

describe('never throws into the host', () => {
  const bad: [string, (s: NodeBalise) => void][] = [
    ['track without a name', (s) => (s.track as (...a: unknown[]) => void)()],
    ['track with a number name', (s) => (s.track as (...a: unknown[]) => void)(42)],
    ['track with string properties', (s) => (s.track as (...a: unknown[]) => void)('e', 'oops')],
    ['track with an invalid timestamp', (s) => s.track('e', {}, { timestamp: 'not a date' })],
    ['identify with a number', (s) => (s.identify as (...a: unknown[]) => void)(7)],
    ['group without id', (s) => (s.group as (...a: unknown[]) => void)()],
    ['alias without id', (s) => (s.alias as (...a: unknown[]) => void)(null)],
    ['setConsent with garbage', (s) => (s.setConsent as (...a: unknown[]) => void)('maybe')],
  ];
  it.each(bad)('%s → onError(invalid_argument), no exception, nothing queued', (_, call) => {
    const errors: SdkError[] = [];
    const { sdk } = node({ transport: scriptedTransport().transport, onError: (e) => errors.push(e) });
    expect(() => call(sdk)).not.toThrow();
    expect(errors.map((e) => e.code)).toEqual(['invalid_argument']);
    expect(sdk.stats().queued).toBe(0);
  });

  it('warns on the console when no onError is given', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const sdk = forUser(createBalise({ writeKey: 'k', transport: scriptedTransport().transport, flushOnExit: false }));
    (sdk.track as (...a: unknown[]) => void)('');
    expect(warn).toHaveBeenCalledWith('[balise]', 'invalid event name');
    warn.mockRestore();
  });

  it('survives throwing callbacks and a throwing transport', async () => {
    const boom = () => {
      throw new Error('host bug');
    };
    const sdk = forUser(
      createBalise({
        writeKey: 'k',
        flushOnExit: false,
        maxQueueSize: 1,
        transport: () => {
          throw new Error('sync throw');
        },
        onError: boom,
        onDrop: boom,
        devValidator: boom,
        clock: manualClock(),
      }),
    );
    expect(() => {
      sdk.track('a');
      sdk.track('b');
      (sdk.track as (...a: unknown[]) => void)();
    }).not.toThrow();
    await expect(sdk.flush()).resolves.toBeUndefined();
    await settle();
    expect(sdk.stats()).toMatchObject({ queued: 1, dropped: 1, retries: 1 });
  });
});

describe('on a server, each call is about the person it names', () => {
  const client = (o: Partial<Parameters<typeof createBalise>[0]> = {}) => {
    const t = scriptedTransport();
    const errors: SdkError[] = [];
    const sdk = createBalise({ writeKey: 'k', transport: t.transport, flushOnExit: false, onError: (e) => errors.push(e), ...o });
    return { t, errors, sdk };
  };

  it('keeps no identity between calls: no shared anonymousId, no userId an earlier identify left', async () => {
    const { t, sdk } = client();
    sdk.identify('alice', { role: 'freelancer' });
    sdk.track('visit', {}, { anonymousId: 'visitor-9' });
    sdk.track('visit', {}, { userId: 'bob' });
    sdk.alias('carol', 'visitor-9');
    sdk.track('visit', {}, { anonymousId: 'visitor-10' });
    await sdk.close();
    expect(t.events().map((e) => [e.type, e.userId, e.anonymousId])).toEqual([
      ['identify', 'alice', ''],
      ['track', '', 'visitor-9'],
      ['track', 'bob', ''],
      ['alias', 'carol', ''],
      ['track', '', 'visitor-10'],
    ]);
  });

  it('refuses and reports a call that names nobody, an alias without its previousId, and a call after close()', async () => {
    const { t, errors, sdk } = client();
    sdk.track('visit');
    sdk.page('Home');
    sdk.identify(null, { plan: 'pro' });
    sdk.alias('carol');
    await sdk.close();
    sdk.track('late', {}, { userId: 'u1' });
    expect(t.attempts()).toBe(0);
    expect(errors.map((e) => [e.code, e.message.split(':')[0]])).toEqual([
      ['invalid_argument', 'track'],
      ['invalid_argument', 'page'],
      ['invalid_argument', 'identify'],
      ['invalid_argument', 'alias'],
      ['closed', 'track'],
    ]);
  });

  it('close() keeps to its deadline when the ingest takes a request and never answers', async () => {
    const dropped: string[] = [];
    const sdk = createBalise({ writeKey: 'k', flushOnExit: false, transport: () => new Promise(() => {}), onDrop: (events) => dropped.push(...events.map((e) => e.messageId)) });
    sdk.track('e', {}, { userId: 'u1', messageId: 'hung-1' });
    const started = Date.now();
    const stats = await sdk.close(300);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect([dropped, stats.dropped]).toEqual([['hung-1'], 1]);
  });

  it('sends a batch again after a 408 (the server stopped waiting for a slow upload), instead of dropping it', async () => {
    const t = scriptedTransport((n) => status(n === 0 ? 408 : 200));
    const sdk = createBalise({ writeKey: 'k', transport: t.transport, flushOnExit: false, retryBaseMs: 5, retryMaxMs: 10 });
    sdk.track('e', {}, { userId: 'u1' });
    const stats = await sdk.close(2_000);
    expect([t.attempts(), stats.sent, stats.rejected]).toEqual([2, 1, 0]);
  });

  it("close() waits as long as the ingest's Retry-After says between attempts", async () => {
    const t = scriptedTransport(() => status(503, '1'));
    const sdk = createBalise({ writeKey: 'k', transport: t.transport, flushOnExit: false, retryBaseMs: 10, retryMaxMs: 20, onDrop: () => {} });
    sdk.track('e', {}, { userId: 'u1' });
    await sdk.close(1_500);
    // At 0 ms and after the second it asked for; its own 10–20 ms backoff would have made dozens.
    expect(t.attempts()).toBe(2);
  });

  it('adds one pair of exit listeners to the process, however many clients it creates', () => {
    const before = process.listenerCount('exit');
    const clients = Array.from({ length: 12 }, () => createBalise({ writeKey: 'k', transport: scriptedTransport().transport }));
    expect(process.listenerCount('exit') - before).toBeLessThanOrEqual(1);
    for (const c of clients) void c.close(0);
  });
});
