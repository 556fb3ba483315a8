/**
 * Node platform: bounded in-memory queue (drop-oldest, counted in stats() and reported through
 * onDrop), HTTP(S) through the global fetch with Basic auth, and a flush on shutdown.
 */
import { backoff, createCore } from './core.ts';
import type { Balise, CoreOptions, PlanShape, Stats, Transport, UntypedPlan } from './types.ts';
import { withViolations, type ViolationCounts, type ViolationReport } from './violations.ts';

export type * from './types.ts';
export type { ServerViolation, ViolationReport } from './violations.ts';
export { VERSION, backoff, LIMITS } from './core.ts';
export { describeViolation } from './violations.ts';

export interface NodeOptions extends CoreOptions {
  /** Flush what is queued when the event loop empties (default true). */
  flushOnExit?: boolean;
  /** Called for each event the server warned about or quarantined, with its violations. */
  onViolation?: (report: ViolationReport) => void;
  /**
   * Log each warned or quarantined event with its violations (console.warn). Default: on when
   * NODE_ENV is "development".
   */
  development?: boolean;
}

/** Node's stats add what the server said of the events it acknowledged. */
export type NodeStats = Stats & Partial<ViolationCounts>;

export interface NodeBalise<P extends PlanShape = UntypedPlan> extends Balise<P> {
  /**
   * Flush (waiting out retries up to `timeoutMs`, default 10 s), then stop. Never rejects.
   * What could not be sent by then is given up loudly: handed to `onDrop` with reason
   * `undelivered` (or, without `onDrop`, named in a console warning) and counted in the resolved
   * stats' `dropped`. The process stays alive while close() waits, so `await sdk.close()` at the
   * top level of a module never ends in Node's exit code 13 (unsettled top-level await).
   */
  close(timeoutMs?: number): Promise<NodeStats>;
  /** With onViolation or development mode, also how many sent events were warned or quarantined. */
  stats(): NodeStats;
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
  // Read the body, so that the connection returns to the pool (and verdicts can be reported).
  const payload = await res.text().catch(() => '');
  return { status: res.status, headers: res.headers, payload };
};

export function createBalise<P extends PlanShape = UntypedPlan>(o: NodeOptions): NodeBalise<P> {
  const clock = o.clock || {
    now: Date.now,
    // Unref'd timers: a pending flush must not keep a finished process alive (beforeExit flushes).
    setTimeout: (f: () => void, ms: number) => setTimeout(f, ms).unref(),
    clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
  };
  // Without onDrop, events given up are still named on the console: never lost silently.
  const onDrop: CoreOptions['onDrop'] =
    o.onDrop ||
    ((events, reason) =>
      reason === 'undelivered' &&
      console.warn(`[balise] ${events.length} event(s) could not be delivered to ${o.host || 'http://localhost:3000'}; messageIds: ${events.map((e) => e.messageId).join(', ')}`));
  const development = o.development ?? process.env.NODE_ENV === 'development';
  const verdicts = o.onViolation || development ? withViolations(o.transport || fetchTransport, { onViolation: o.onViolation, log: development }) : undefined;
  const core = createCore<P>(
    { ...o, onDrop },
    {
      _transport: verdicts || o.transport || fetchTransport,
      _clock: clock,
      _flushAt: o.flushAt || 100,
      _flushInterval: o.flushInterval || 10_000,
      _maxQueueSize: o.maxQueueSize || 10_000,
      _host: o.host || 'http://localhost:3000',
    },
  );
  /**
   * Send until empty or `ms` have passed, sleeping with backoff between failed attempts. `hold`
   * sleeps on a ref'd timer: the awaiting caller (close) keeps the process alive until it is done.
   */
  const drain = async (ms: number, hold = false) => {
    const end = clock.now() + ms;
    const sleep = (wait: number) => new Promise<void>((r) => (hold && !o.clock ? setTimeout(r, wait) : clock.setTimeout(r, wait)));
    for (let i = 0; core.stats().queued && clock.now() < end; i++) {
      await core.flush();
      const wait = Math.min(end - clock.now(), backoff(i, o.random || Math.random, o.retryBaseMs || 1000, o.retryMaxMs || 60_000));
      if (core.stats().queued && wait > 0) await sleep(wait);
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
  // The process is ending with events still queued (the ingest unreachable): give them up loudly.
  const onEnd = () => {
    if (core.stats().queued) core._end('undelivered');
  };
  if (o.flushOnExit !== false) process.on('beforeExit', onExit).on('exit', onEnd);
  const stats = (): NodeStats => (verdicts ? { ...core.stats(), ...verdicts.counts } : core.stats());
  return {
    ...core,
    stats,
    close: async (timeoutMs = 10_000) => {
      process.off('beforeExit', onExit).off('exit', onEnd);
      try {
        await drain(timeoutMs, true);
      } catch {
        /* never rejects */
      }
      // What is still queued could not be sent in time; with nothing left, nobody is told anything.
      if (core.stats().queued) core._end('undelivered');
      // Nothing more is accepted.
      core.setConsent('denied');
      return stats();
    },
  };
}
