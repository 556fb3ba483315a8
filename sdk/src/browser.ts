/**
 * Browser platform: localStorage-backed queue, anonymousId in a cookie or localStorage,
 * automatic page context, a 30-minute session, and delivery on pagehide with sendBeacon.
 */
import { createCore } from './core.ts';
import type { Balise, CoreOptions, KeyValue, PlanShape, UntypedPlan } from './types.ts';

export type { Balise, PlanShape, UntypedPlan } from './types.ts';

export interface BrowserOptions extends CoreOptions {
  /** Where the anonymousId lives; the queue always uses localStorage unless 'memory'. */
  persistence?: 'localStorage' | 'cookie' | 'memory';
}

/** Keys are prefixed so that several SDK copies do not collide with the host's own keys. */
export const storageKV = (s: Storage, prefix = 'balise_'): KeyValue => ({
  get: (k) => s.getItem(prefix + k),
  set: (k, v) => s.setItem(prefix + k, v),
  del: (k) => s.removeItem(prefix + k),
});

/** Cookie mode: the anonymousId lives in a first-party cookie, everything else in `inner`. */
const cookieKV = (inner: KeyValue | null): KeyValue => {
  const c = (v: string, age: number) => (document.cookie = `balise_aid=${v};path=/;max-age=${age};SameSite=Lax`);
  return {
    get: (k) => (k == 'aid' ? (document.cookie.match(/(?:^|; )balise_aid=([^;]*)/) || [])[1] || null : inner && inner.get(k)),
    set: (k, v) => (k == 'aid' ? void c(v, 31536000) : inner && inner.set(k, v)),
    del: (k) => (k == 'aid' ? void c('', 0) : inner && inner.del(k)),
  };
};

const UTM = ['source', 'medium', 'term', 'content', 'campaign'];

export function createBalise<P extends PlanShape = UntypedPlan>(o: BrowserOptions): Balise<P> {
  const w = typeof window != 'undefined'; // imported during server rendering: stay inert
  let ls: Storage | null = null;
  try {
    ls = localStorage; // the getter throws in sandboxed frames
  } catch {
    /* no storage: memory only */
  }
  const lkv = ls && storageKV(ls);
  const mode = o.persistence;
  const host = o.host || (w ? location.origin : '');
  const core = createCore<P>(o, {
    // A string body goes out as text/plain: a CORS "simple request", no preflight.
    _transport: o.transport || ((r) => fetch(r.url, { method: 'POST', body: r.body })),
    _clock: o.clock || { now: Date.now, setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as number) },
    _kv: mode == 'memory' ? null : mode == 'cookie' && w ? cookieKV(lkv) : lkv,
    _flushAt: o.flushAt || 20,
    _flushInterval: o.flushInterval || 5000,
    _maxQueueSize: o.maxQueueSize || 1000,
    _host: host,
    _ctx:
      w &&
      ((put, get, now) => {
        // Session: the stored "id.lastSeen" is renewed after 30 minutes of inactivity.
        const [id, seen] = (get('s') || '').split('.').map(Number);
        const sid = id && seen && now - seen < 1800000 ? id : now;
        put('s', sid + '.' + now);
        const u = new URLSearchParams(location.search);
        const cp: Record<string, string> = {};
        for (const k of UTM) if (u.has('utm_' + k)) cp[k == 'campaign' ? 'name' : k] = u.get('utm_' + k) as string;
        const s = screen;
        return {
          page: { path: location.pathname, referrer: document.referrer, search: location.search, title: document.title, url: location.href },
          locale: navigator.language,
          timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
          screen: { width: s.width, height: s.height, density: devicePixelRatio },
          userAgent: navigator.userAgent,
          sessionId: sid,
          campaign: Object.keys(cp).length ? cp : undefined,
        };
      }),
  });
  if (w) {
    // Beacons cannot carry headers: the write key travels in the body (see core's body()).
    // Offline, a beacon would be lost: keep the events stored for the next page instead.
    const out = () => core._unload((b) => navigator.onLine && navigator.sendBeacon(host + '/v1/batch', b), 64000);
    addEventListener('pagehide', out);
    document.addEventListener('visibilitychange', () => document.visibilityState == 'hidden' && out());
    addEventListener('online', () => void core.flush());
  }
  return core;
}
