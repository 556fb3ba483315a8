/**
 * Node platform: bounded in-memory queue (drop-oldest, counted in stats() and reported through
 * onDrop), HTTP(S) through the global fetch with Basic auth, and a flush on shutdown.
 */
import { backoff, createCore } from './core.ts';
import type { Balise, CoreOptions, PlanShape, Transport, UntypedPlan } from './types.ts';

export type * from './types.ts';
export { VERSION, backoff, LIMITS } from './core.ts';

export interface NodeOptions extends CoreOptions {
  /** Flush what is queued when the event loop empties (default true). */
  flushOnExit?: boolean;
}

export interface NodeBalise<P extends PlanShape = UntypedPlan> extends Balise<P> {
  /** Flush (waiting out retries up to `timeoutMs`, default 10 s), then stop. Never rejects. */
  close(timeoutMs?: number): Promise<void>;
}

export const fetchTransport: Transport = async (r) => {
  const res = await fetch(r.url, {
    method: 'POST',
    body: r.body,
    headers: {
      'Content-Type': 'application/json',
      Authorization: 'Basic ' + Buffer.from(r.writeKey + ':').toString('base64'),
    },
  });
  // Drain the body so that the connection returns to the pool.
  await res.arrayBuffer().catch(() => undefined);
  return res;
};

export function createBalise<P extends PlanShape = UntypedPlan>(o: NodeOptions): NodeBalise<P> {
  const clock = o.clock || {
    now: Date.now,
    // Unref'd timers: a pending flush must not keep a finished process alive (beforeExit flushes).
    setTimeout: (f: () => void, ms: number) => setTimeout(f, ms).unref(),
    clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
  };
  const core = createCore<P>(o, {
    _transport: o.transport || fetchTransport,
    _clock: clock,
    _flushAt: o.flushAt || 100,
    _flushInterval: o.flushInterval || 10_000,
    _maxQueueSize: o.maxQueueSize || 10_000,
    _host: o.host || 'http://localhost:3000',
  });
  /** Send until empty or `ms` have passed, sleeping with backoff between failed attempts. */
  const drain = async (ms: number) => {
    const end = clock.now() + ms;
    for (let i = 0; core.stats().queued && clock.now() < end; i++) {
      await core.flush();
      const wait = Math.min(end - clock.now(), backoff(i, o.random || Math.random, o.retryBaseMs || 1000, o.retryMaxMs || 60_000));
      if (core.stats().queued && wait > 0) await new Promise<void>((r) => clock.setTimeout(r, wait));
    }
  };
  let exiting = false;
  const onExit = () => {
    // beforeExit fires again after our async work: flush once per quiet period only.
    if (exiting || !core.stats().queued) return;
    exiting = true;
    void drain(10_000).then(() => {
      // Still queued means the ingest is unreachable: give up rather than loop forever.
      if (!core.stats().queued) exiting = false;
    });
  };
  if (o.flushOnExit !== false) process.on('beforeExit', onExit);
  return {
    ...core,
    close: async (timeoutMs = 10_000) => {
      process.off('beforeExit', onExit);
      try {
        await drain(timeoutMs);
      } catch {
        /* never rejects */
      }
      // Nothing more is accepted; stats().queued before close tells what could not be delivered.
      core.setConsent('denied');
    },
  };
}
