/**
 * Fan-out of live events to the viewers of this process (decision 0025). Built so that ingest
 * never waits for a viewer:
 * - nobody watching → `budget()` is 0 and the ingest builds nothing (one comparison per request);
 * - a rate cap (token bucket, per process) bounds the work under a flood: events beyond it are
 *   counted as sampled out, not built;
 * - each viewer has a bounded queue, drained off the request path; a slow or hung viewer loses
 *   the overflow (counted, told to it) and never holds memory or the publisher.
 */
import { matches, type LiveEvent, type LiveFilter } from './model.ts';

export interface LiveHubOptions {
  /** Events per second this process builds for viewers, at most (default 200). */
  maxPerSecond?: number;
  /** Events waiting for one viewer, at most (default 1000). */
  queueSize?: number;
  now?: () => number;
}

/** What a viewer receives: events, and how many it missed since the last delivery. */
export interface LiveDelivery {
  events: LiveEvent[];
  /** Dropped because this viewer's queue was full (it reads too slowly). */
  dropped: number;
  /** Not built because the process was over its rate cap (shared by all viewers). */
  sampledOut: number;
}

/** Writes a delivery; returns false when the viewer cannot take more now (then calls `resume` later). */
export type LiveWriter = (delivery: LiveDelivery) => boolean;

interface Subscriber {
  filter: LiveFilter;
  write: LiveWriter;
  end: () => void;
  queue: LiveEvent[];
  dropped: number;
  sampledOut: number;
  /** False while the viewer's socket is full: deliveries wait in `queue`. */
  writable: boolean;
  scheduled: boolean;
}

export interface LiveSubscription {
  /** The viewer's socket drained: deliver what waited. */
  resume(): void;
  close(): void;
}

export class LiveHub {
  private readonly subscribers = new Set<Subscriber>();
  private readonly maxPerSecond: number;
  private readonly queueSize: number;
  private readonly now: () => number;
  private tokens: number;
  private refilledAt: number;
  private sampledOutSinceLast = 0;

  constructor(options: LiveHubOptions = {}) {
    this.maxPerSecond = options.maxPerSecond ?? 200;
    this.queueSize = options.queueSize ?? 1000;
    this.now = options.now ?? Date.now;
    this.tokens = this.maxPerSecond;
    this.refilledAt = this.now();
  }

  get viewers(): number {
    return this.subscribers.size;
  }

  /** Events one viewer may have waiting, at most. */
  get queueCapacity(): number {
    return this.queueSize;
  }

  /** Per viewer: events waiting, missed since its last delivery, and whether its socket takes more. */
  stats(): { queued: number; dropped: number; writable: boolean }[] {
    return [...this.subscribers].map((s) => ({ queued: s.queue.length, dropped: s.dropped, writable: s.writable }));
  }

  /**
   * How many events of a request of `count` to build for viewers now (0 when nobody watches).
   * Takes them from the rate cap; the rest of the request is counted as sampled out.
   */
  take(count: number): number {
    if (this.subscribers.size === 0 || count === 0) return 0;
    const now = this.now();
    this.tokens = Math.min(this.maxPerSecond, this.tokens + ((now - this.refilledAt) * this.maxPerSecond) / 1000);
    this.refilledAt = now;
    const granted = Math.min(count, Math.floor(this.tokens));
    this.tokens -= granted;
    this.sampledOutSinceLast += count - granted;
    return granted;
  }

  /** Queues the events for every viewer whose filter they match; delivery happens on a later tick. */
  publish(events: readonly LiveEvent[]): void {
    const sampledOut = this.sampledOutSinceLast;
    this.sampledOutSinceLast = 0;
    for (const sub of this.subscribers) {
      sub.sampledOut += sampledOut;
      for (const e of events) {
        if (!matches(sub.filter, e)) continue;
        if (sub.queue.length >= this.queueSize) sub.dropped++;
        else sub.queue.push(e);
      }
      this.schedule(sub);
    }
  }

  /** `end` is called when the hub closes (shutdown), not when the viewer closes its subscription. */
  subscribe(filter: LiveFilter, write: LiveWriter, end: () => void = () => undefined): LiveSubscription {
    const sub: Subscriber = { filter, write, end, queue: [], dropped: 0, sampledOut: 0, writable: true, scheduled: false };
    this.subscribers.add(sub);
    return {
      resume: () => {
        sub.writable = true;
        this.schedule(sub);
      },
      close: () => {
        this.subscribers.delete(sub);
        sub.queue.length = 0;
      },
    };
  }

  /** Ends every viewer's stream (shutdown: the server cannot close while they are open). */
  closeAll(): void {
    const all = [...this.subscribers];
    this.subscribers.clear();
    for (const sub of all) sub.end();
  }

  private schedule(sub: Subscriber): void {
    if (sub.scheduled || !sub.writable || (sub.queue.length === 0 && sub.dropped === 0 && sub.sampledOut === 0)) return;
    sub.scheduled = true;
    // Off the request path: the ingest answers before any viewer's socket is written.
    setImmediate(() => {
      sub.scheduled = false;
      if (!this.subscribers.has(sub) || !sub.writable) return;
      const delivery: LiveDelivery = { events: sub.queue, dropped: sub.dropped, sampledOut: sub.sampledOut };
      sub.queue = [];
      sub.dropped = 0;
      sub.sampledOut = 0;
      sub.writable = sub.write(delivery);
    });
  }
}
