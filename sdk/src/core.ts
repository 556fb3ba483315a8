/**
 * The platform-neutral SDK core: event building, a bounded queue, size-aware batching, retry
 * with full-jitter backoff, consent gating and optional persistence through a KeyValue store.
 *
 * Written as one closure with short local names on purpose: the browser bundle must stay under
 * 3 KB min+gzip, and a minifier can shorten locals but not class members.
 */
import type { Balise, CallOptions, Clock, Consent, CoreOptions, DropReason, EventType, KeyValue, Limits, PlanShape, SdkError, Stats, Transport, UntypedPlan, WireEvent } from './types.ts';

export const VERSION = '0.1.0';

/** The ingest's limits, with a margin under 500 KB / 32 KB. */
export const LIMITS: Limits = { batchBytes: 500_000, eventBytes: 32_000, batchEvents: 2500 };

/** Full jitter: uniform in [0, min(cap, base·2^attempt)]. */
export const backoff = (attempt: number, random: () => number, base: number, cap: number): number => random() * Math.min(cap, base * 2 ** attempt);

const cr = globalThis.crypto;
/** crypto.randomUUID only exists in secure contexts: fall back to a v4-shaped random id. */
export const uuid = (): string => (cr && cr.randomUUID ? cr.randomUUID() : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) => (+c ^ ((Math.random() * 16) >> (+c / 4))).toString(16)));

/** UTF-8 byte length; only non-ASCII text pays for encoding. */
const size = (s: string): number => (/[^\x00-\x7f]/.test(s) ? new Blob([s]).size : s.length);

export const err = (code: SdkError['code'], message: string, status?: number): SdkError => Object.assign(new Error(message), { code, status });

export interface CoreDeps {
  _transport: Transport;
  _clock: Clock;
  /** Persistent store; absent on Node (memory only). */
  _kv?: KeyValue | null;
  /** Automatic context for each event (browser: page, screen, session...). */
  _ctx?: false | ((put: (k: string, v: string) => void, get: (k: string) => string | null, now: number) => Record<string, unknown>);
  _flushAt: number;
  _flushInterval: number;
  _maxQueueSize: number;
  _host: string;
}

export interface Core<P extends PlanShape> extends Balise<P> {
  /** Hand everything queued to a synchronous sender in chunks of at most `max` bytes (unload). */
  _unload(send: (body: string) => boolean, max: number): void;
  /** Give up on everything still queued: counted in stats().dropped and reported to onDrop. */
  _end(why: DropReason): void;
}

const Q = 'q',
  AID = 'aid',
  UID = 'uid';

export function createCore<P extends PlanShape = UntypedPlan>(o: CoreOptions, d: CoreDeps): Core<P> {
  const clk = d._clock;
  const rnd = o.random || Math.random;
  const lim = { ...LIMITS, ...o.limits };
  const url = d._host.replace(/\/+$/, '') + '/v1/batch';
  const wk = o.writeKey;
  const kv = d._kv;
  const base: Record<string, unknown> = { library: { name: 'balise-sdk', version: VERSION }, ...o.context };
  if (o.planVersion) base.plan = { version: o.planVersion };
  const st = { sent: 0, dropped: 0, rejected: 0, retries: 0 };
  let consent: Consent = o.consent || 'granted';
  let q: WireEvent[] = [];
  /** The batch in flight; it is persisted with the queue until acknowledged. */
  let fl: WireEvent[] | null = null;
  // Handed to a beacon, which never says whether the server took them: kept in storage for the
  // next page to send again (the server folds the copy by messageId), never lost to a 5xx.
  let bk: WireEvent[] = [];
  let busy: Promise<boolean> | null = null;
  let timer: unknown = null;
  let due = 0;
  let until = 0;
  let attempt = 0;

  /** Host callbacks and storage may throw (quota, privacy mode): none of it reaches the host. */
  const calm = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  const report = (e: SdkError, quiet?: boolean) => calm(() => (o.onError ? o.onError(e) : quiet || console.warn('[balise]', e.message)));
  const can = () => consent === 'granted';
  const get = (k: string): string | null => (kv && calm(() => kv.get(k))) || null;
  const put = (k: string, v: string) => kv && can() && calm(() => kv.set(k, v));
  const del = (k: string) => kv && calm(() => kv.del(k));
  const drop = (evs: WireEvent[], why: DropReason) => {
    st.dropped += evs.length;
    calm(() => o.onDrop?.(evs, why));
  };
  /** Persist the queue; on a quota error keep the newest half until it fits. */
  const save = () => {
    if (!kv || !can()) return;
    let a = bk.concat(fl || [], q);
    for (;;)
      try {
        return a.length ? kv.set(Q, JSON.stringify(a)) : kv.del(Q);
      } catch {
        // Reported to onError only: a full storage would otherwise warn on every event.
        if (a.length < 2) return report(err('storage', 'storage full'), true);
        a = a.slice(a.length >> 1);
      }
  };
  const load = () => {
    const a = calm(() => JSON.parse(get(Q) || '[]') as unknown); // corrupt storage: start empty
    if (Array.isArray(a)) q = (a as WireEvent[]).concat(q);
  };

  let anon = get(AID) || uuid();
  let uid = get(UID) || undefined;
  const keep = () => {
    put(AID, anon);
    if (uid) put(UID, uid);
  };
  keep();

  const tail = '","writeKey":' + JSON.stringify(wk) + '}';
  const body = (p: string[]) => '{"batch":[' + p.join(',') + '],"sentAt":"' + new Date(clk.now()).toISOString() + tail;

  /** Serialise queue-head events into at most `max` bytes of body; drops what can never fit. */
  const pack = (max: number): string[] => {
    const p: string[] = [];
    let b = 120 + wk.length;
    while (p.length < q.length && p.length < lim.batchEvents) {
      const i = p.length;
      const ev = q[i] as WireEvent;
      const s = calm(() => JSON.stringify(ev)); // circular or BigInt: dropped below
      const l = s ? size(s) : 1 / 0;
      if (l > lim.eventBytes) {
        drop(q.splice(i, 1), s ? 'too_large' : 'unserializable');
        continue;
      }
      if ((b += l + 1) > max) break;
      p.push(s as string);
    }
    return p;
  };

  const sched = (ms: number) => {
    const now = clk.now();
    const at = Math.max(now + ms, until);
    if (timer != null) {
      if (due <= at) return;
      clk.clearTimeout(timer);
    }
    due = at;
    timer = clk.setTimeout(() => {
      timer = null;
      void step().then((more) => {
        if (more && q.length) sched(q.length >= d._flushAt ? 0 : d._flushInterval);
      });
    }, at - now);
  };

  /** One request; true when the queue moved on (sent or rejected), false when idle or retrying. */
  const send = async (): Promise<boolean> => {
    if (!can() || !q.length) return false;
    const p = pack(lim.batchBytes);
    if (!p.length) return (save(), q.length > 0);
    const cur = (fl = q.splice(0, p.length));
    let r: Awaited<ReturnType<Transport>> | undefined;
    try {
      r = await d._transport({ url, body: body(p), writeKey: wk });
    } catch {
      r = undefined;
    }
    if (fl !== cur) return false; // taken over by unload delivery or consent withdrawal
    fl = null;
    const s = r ? r.status : 0;
    if (s >= 200 && s < 300) {
      attempt = until = 0;
      st.sent += cur.length;
    } else if (s >= 400 && s < 500 && s != 429 && s != 408) {
      // 408: the server stopped waiting for a slow upload (a phone's): not a refusal, sent again below.
      st.rejected += cur.length;
      report(err('rejected', 'batch rejected: HTTP ' + s, s));
    } else {
      q = cur.concat(q);
      st.retries++;
      // Retry-After in delta-seconds (what the ingest sends); NaN when absent or an HTTP date.
      const ra = +(r?.headers?.get('retry-after') || NaN) * 1000;
      until = clk.now() + (ra >= 0 ? ra : backoff(attempt++, rnd, o.retryBaseMs || 1000, o.retryMaxMs || 60_000));
      sched(0);
      return false;
    }
    save();
    return true;
  };
  const step = (): Promise<boolean> =>
    busy ||
    (busy = send()
      .catch(() => false)
      .then((x) => ((busy = null), x)));

  const add = (type: EventType, f: Partial<WireEvent>, c?: CallOptions) => {
    if (consent === 'denied') return;
    const now = clk.now();
    const auto = d._ctx ? { ...base, ...d._ctx(put, get, now) } : base;
    const ev = {
      type,
      ...f,
      userId: c?.userId ?? uid,
      anonymousId: c?.anonymousId ?? anon,
      messageId: c?.messageId || uuid(),
      timestamp: new Date(c?.timestamp ?? now).toISOString(),
      context: c?.context ? { ...auto, ...c.context } : auto,
    } as WireEvent;
    if (o.devValidator) calm(() => (o.devValidator as (e: WireEvent) => void)(ev));
    q.push(ev);
    if (q.length > d._maxQueueSize) drop(q.splice(0, q.length - d._maxQueueSize), 'queue_full');
    if (!can()) return; // pending consent: memory only
    save();
    sched(q.length >= d._flushAt ? 0 : d._flushInterval);
  };
  const bad = (what: string): never => {
    throw new TypeError('invalid ' + what);
  };
  /** A shallow copy, so that later changes by the host do not alter a queued event. */
  const obj = (name: string, v: unknown) => (v != null && (typeof v !== 'object' || Array.isArray(v)) ? bad(name) : { ...(v as Record<string, unknown>) });
  const str = (name: string, v: unknown) => (typeof v !== 'string' || !v ? bad(name) : v);

  // Every public method is wrapped: a bad argument becomes a report, never an exception.
  const safe =
    <A extends unknown[]>(f: (...a: A) => void) =>
    (...a: A): void => {
      try {
        f(...a);
      } catch (e) {
        report(err('invalid_argument', (e as Error).message));
      }
    };

  const view = (t: 'page' | 'screen') =>
    safe((n?: string | null, p?: Record<string, unknown>, c?: CallOptions) => add(t, { name: n == null ? undefined : str('name', n), properties: obj('properties', p) }, c));

  const flush = async (): Promise<void> => {
    until = 0;
    while (await step()); // step never rejects
  };

  const api: Core<P> = {
    track: safe((e: unknown, p?: unknown, c?: CallOptions) => add('track', { event: str('event name', e), properties: obj('properties', p) }, c)) as Core<P>['track'],
    identify: safe((u?: string | null, t?: unknown, c?: CallOptions) => {
      if (u != null) str('userId', u);
      if (u) put(UID, (uid = u));
      add('identify', { traits: obj('traits', t) }, c);
    }),
    page: view('page') as Core<P>['page'],
    screen: view('screen') as Core<P>['screen'],
    group: safe((g: string, t?: Record<string, unknown>, c?: CallOptions) => add('group', { groupId: str('groupId', g), traits: obj('traits', t) }, c)),
    alias: safe((u: string, prev?: string, c?: CallOptions) => {
      const previousId = prev || uid || anon;
      put(UID, (uid = str('userId', u)));
      add('alias', { previousId }, c);
    }),
    reset: safe(() => {
      anon = uuid();
      uid = undefined;
      [UID, 's'].map(del); // and the session: the next visitor on this browser starts their own
      keep();
    }),
    flush,
    setConsent: safe((c: Consent) => {
      if (c !== 'granted' && c !== 'pending' && c !== 'denied') bad('consent');
      const was = consent;
      consent = c;
      if (c === 'denied') {
        // Opt-out: forget queued events and everything stored.
        q = bk = [];
        fl = null;
        [Q, AID, UID, 's'].map(del);
      } else if (c === 'granted' && was !== 'granted') {
        keep();
        load();
        save();
        if (q.length) sched(0);
      }
    }),
    stats: (): Stats => ({ queued: q.length + (fl ? fl.length : 0), ...st }),
    _end: (why) => {
      drop(fl ? fl.concat(q) : q, why);
      q = [];
      fl = null;
      save();
    },
    _unload: (f, max) => {
      if (!can()) return;
      try {
        if (fl) ((q = fl.concat(q)), (fl = null));
        while (q.length) {
          const p = pack(max);
          if (!p.length || !f(body(p))) break;
          st.sent += p.length;
          bk = bk.concat(q.splice(0, p.length));
        }
      } catch {
        /* sendBeacon throws on a bad URL: keep the events for the next page */
      }
      save();
    },
  };
  // What a previous page left in storage goes out right away.
  if (can()) (load(), q.length && sched(0));
  return api;
}
