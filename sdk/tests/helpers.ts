/** Test doubles for the SDK's injected interfaces: a manual clock, a scripted transport, a Storage. */
import { setImmediate as tick } from 'node:timers/promises';
import type { Clock, Transport, TransportResponse, WireEvent } from '../src/types.ts';

export const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await tick();
};

export interface ManualClock extends Clock {
  advance(ms: number): Promise<void>;
  /** Delays (ms from now) of the timers still pending. */
  pending(): number[];
}

export function manualClock(start = Date.UTC(2025, 0, 1)): ManualClock {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      timers.set(++seq, { at: now + Math.max(0, ms), fn });
      return seq;
    },
    clearTimeout: (h) => void timers.delete(h as number),
    pending: () => [...timers.values()].map((t) => t.at - now),
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        await settle();
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const e of timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
      }
      now = end;
      await settle();
    },
  };
}

export interface Sent {
  url: string;
  body: { batch: WireEvent[]; sentAt: string; writeKey: string };
  bytes: number;
}

/** Records every request; `reply` decides the response (default 200), or throws for a network error. */
export function scriptedTransport(reply: (n: number) => TransportResponse | Error = () => ({ status: 200 })) {
  const sent: Sent[] = [];
  let n = 0;
  const transport: Transport = async (r) => {
    const res = reply(n++);
    if (res instanceof Error) throw res;
    if (res.status >= 200 && res.status < 300) sent.push({ url: r.url, body: JSON.parse(r.body) as Sent['body'], bytes: Buffer.byteLength(r.body) });
    return res;
  };
  return { transport, sent, attempts: () => n, events: () => sent.flatMap((s) => s.body.batch) };
}

export const status = (s: number, retryAfter?: string): TransportResponse => ({
  status: s,
  headers: { get: (h: string) => (h.toLowerCase() === 'retry-after' && retryAfter !== undefined ? retryAfter : null) },
});

/** A minimal in-memory DOM Storage; `quota` (bytes of keys + values) makes setItem throw like a browser. */
export class MemoryStorage implements Storage {
  private readonly m = new Map<string, string>();
  constructor(private readonly quota = Infinity) {}
  get length(): number {
    return this.m.size;
  }
  clear(): void {
    this.m.clear();
  }
  getItem(k: string): string | null {
    return this.m.get(k) ?? null;
  }
  key(i: number): string | null {
    return [...this.m.keys()][i] ?? null;
  }
  removeItem(k: string): void {
    this.m.delete(k);
  }
  setItem(k: string, v: string): void {
    let used = k.length + v.length;
    for (const [key, val] of this.m) if (key !== k) used += key.length + val.length;
    if (used > this.quota) throw new DOMException('quota exceeded', 'QuotaExceededError');
    this.m.set(k, String(v));
  }
  [name: string]: unknown;
}

/**
 * A Node client acting for one user, for the tests of queueing and delivery: on a server every
 * call names whom it is about (node.ts), so each track, page, screen and group gets this userId
 * unless it names someone itself.
 */
export function forUser<T extends object>(sdk: T, userId = 'u1'): T {
  return new Proxy(sdk, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function' || !['track', 'page', 'screen', 'group'].includes(String(key))) return value;
      return (...args: unknown[]) => {
        args[2] = { userId, ...(args[2] as object | undefined) };
        return (value as (...a: unknown[]) => unknown)(...args);
      };
    },
  });
}
