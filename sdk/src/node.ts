/**
 * Node platform: bounded in-memory queue (drop-oldest, counted in stats() and reported through
 * onDrop), HTTP(S) through the global fetch with Basic auth, and a flush on shutdown.
 */
import { backoff, createCore, err } from './core.ts';
import type { Balise, CallOptions, CoreOptions, PlanShape, SdkError, Stats, Transport, UntypedPlan } from './types.ts';
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

/** A request the ingest accepted but never answers (a hung proxy, a frozen Redis behind it) is retried after this. */
const REQUEST_TIMEOUT_MS = 10_000;

export const fetchTransport: Transport = async (r) => {
  const res = await fetch(r.url, {
    method: 'POST',
    body: r.body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    headers: {
      'Content-Type': 'application/json',
      Authorization: 'Basic ' + Buffer.from(r.writeKey + ':').toString('base64'),
    },
  });
  // Read the body, so that the connection returns to the pool (and verdicts can be reported).
  const payload = await res.text().catch(() => '');
  return { status: res.status, headers: res.headers, payload };
};

/** The SDKs of this process that flush when it ends: one pair of process listeners for all of them. */
const open = new Set<{ onExit(): void; onEnd(): void }>();
let listening = false;
function flushAtExit(sdk: { onExit(): void; onEnd(): void }): void {
  open.add(sdk);
  if (listening) return;
  listening = true;
  process.on('beforeExit', () => open.forEach((s) => s.onExit())).on('exit', () => open.forEach((s) => s.onEnd()));
}

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
  const base = verdicts || o.transport || fetchTransport;
  // When the ingest last asked to wait (Retry-After on a 429 or 503): close() waits as long.
  let retryAt = 0;
  const transport: Transport = async (r) => {
    const res = await base(r);
    const seconds = Number(res.headers?.get('retry-after') ?? NaN);
    if (seconds >= 0) retryAt = clock.now() + seconds * 1000;
    return res;
  };
  const core = createCore<P>(
    { ...o, onDrop },
    {
      _transport: transport,
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
      // The wait the ingest asked for (Retry-After) comes first, whoever sent the request it answered.
      if (retryAt > clock.now()) {
        await sleep(Math.min(retryAt, end) - clock.now());
        continue;
      }
      // A request still unanswered at the deadline is given up with the rest (close() reports it).
      await Promise.race([core.flush(), sleep(end - clock.now())]);
      const wait = Math.min(end - clock.now(), backoff(i, o.random || Math.random, o.retryBaseMs || 1000, o.retryMaxMs || 60_000));
      if (core.stats().queued && wait > 0 && retryAt <= clock.now()) await sleep(wait);
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
  const exits = { onExit, onEnd };
  if (o.flushOnExit !== false) flushAtExit(exits);
  const stats = (): NodeStats => (verdicts ? { ...core.stats(), ...verdicts.counts } : core.stats());
  const report = (code: SdkError['code'], message: string) => {
    try {
      if (o.onError) o.onError(err(code, message));
      else console.warn('[balise]', message);
    } catch {
      /* the host's callback never reaches the host */
    }
  };
  let closed = false;
  /**
   * One process serves many people: every call says whom it is about (a userId or an anonymousId
   * in its options; identify's and alias's own userId), as with Segment's analytics-node. Nothing
   * carries over from one call to the next: no process-wide anonymousId, no userId an earlier
   * identify left. A call without either, or after close(), is refused and reported, never sent.
   */
  const forOnePerson =
    <A extends unknown[]>(call: string, send: (...a: A) => void, ownUserId?: (...a: A) => unknown) =>
    (...a: A): void => {
      if (closed) return report('closed', `${call}: this client is closed; the event was not sent`);
      const options = a[2] as CallOptions | undefined;
      const own = ownUserId?.(...a);
      const ids = { userId: options?.userId || (typeof own === 'string' ? own : ''), anonymousId: options?.anonymousId || '' };
      if (!ids.userId && !ids.anonymousId) return report('invalid_argument', `${call}: on a server, say whom the event is about: a userId or an anonymousId in its options`);
      a[2] = { ...options, ...ids };
      send(...a);
    };
  return {
    ...core,
    track: forOnePerson('track', core.track as (...a: unknown[]) => void) as NodeBalise<P>['track'],
    identify: forOnePerson('identify', core.identify, (userId) => userId),
    page: forOnePerson('page', core.page as (...a: unknown[]) => void) as NodeBalise<P>['page'],
    screen: forOnePerson('screen', core.screen as (...a: unknown[]) => void) as NodeBalise<P>['screen'],
    group: forOnePerson('group', core.group),
    alias: forOnePerson(
      'alias',
      (userId: string, previousId?: string, options?: CallOptions) =>
        // Without it the core would take a userId an earlier call left behind.
        previousId ? core.alias(userId, previousId, options) : report('invalid_argument', 'alias: on a server, give the previousId the userId replaces'),
      (userId) => userId,
    ),
    stats,
    close: async (timeoutMs = 10_000) => {
      open.delete(exits);
      closed = true;
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
