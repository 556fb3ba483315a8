/**
 * Load shedding for the ingest routes: a request is admitted (or refused with 429/503 and
 * Retry-After) before a byte of its body is read, on what actually saturates a Node process:
 *
 * - event-loop delay: when the loop is late, every request already admitted gets slower, and
 *   health, ready and metrics wait behind them; refusing costs microseconds, parsing does not;
 * - requests in flight, counted from admission to the end of the response (body read, parse,
 *   validate, wait on Redis), not only while waiting on Redis;
 * - bytes in flight: the declared size of every admitted body (the request limit when the size is
 *   unknown or compressed), so many large bodies at once cannot grow memory without bound;
 * - a body deadline: a sender slower than `bodyTimeoutMs` gets 408 and its socket is closed,
 *   releasing what it held;
 * - a wait deadline: a request that waited longer than `maxRequestWaitMs` for its turn (its body
 *   read late because the loop or the CPU was busy) is answered 503 without being processed, so
 *   it is answered well before a client's own timeout, which would make its resend a duplicate.
 *
 * The in-flight limit adapts (additive increase, multiplicative decrease): requests answered
 * slower than half the wait deadline lower it, fast ones raise it back towards the configured
 * maximum, so the queue inside the process stays as short as the machine's speed requires.
 *
 * A refusal keeps the connection when the body still to come is small (Node discards it): under
 * a flood, closing made every client reconnect at once, the listen queue overflowed and dropped
 * SYNs came back seconds later as client timeouts. A large or unknown-length body, or a sender
 * past its deadline, has its connection closed instead.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Gauge, type Registry } from 'prom-client';

export interface AdmissionLimits {
  maxRequestBytes: number;
  maxRequestsInFlight: number;
  maxBytesInFlight: number;
  maxEventLoopDelayMs: number;
  bodyTimeoutMs: number;
  /** An admitted request whose body is read later than this is answered 503 and not processed. */
  maxRequestWaitMs: number;
}

/** Its HTTP status comes from the one error list (src/errors.ts), like every other answer. */
export interface Refusal {
  code: 'overloaded' | 'too_many_requests' | 'too_many_bytes' | 'body_timeout';
  message: string;
}

export interface Admission {
  /** Whether the load refuses a request now (nothing counted): what the early refusal asks before routing. */
  check(req: Pick<IncomingMessage, 'headers'>): Refusal | undefined;
  /** Before the body is read, once `check` found no refusal: counts the request in flight until it is answered. */
  enter(req: IncomingMessage, res: ServerResponse): void;
  /** After the body is read: ends the body deadline. False when the request is answered already (refused here, or cut off): it goes no further. */
  bodyRead(req: IncomingMessage, res: ServerResponse): boolean;
  /** Current load, for metrics and tests. */
  load(): { requests: number; bytes: number; eventLoopDelayMs: number; limit: number };
  stop(): void;
}

/** How often the event loop is sampled; a late sample is the loop's delay. */
const SAMPLE_MS = 20;
/**
 * The signal is the median of the last samples: one long pause (a GC, an embedded chDB query)
 * is one late sample and sheds nothing; a loop that stays busy makes most samples late.
 */
const WINDOW = 5;
/** A refused request's body up to this size is read and discarded, keeping the connection. */
const DRAIN_BYTES = 64 * 1024;
/** The adaptive in-flight limit never goes below this. */
const MIN_LIMIT = 8;

const OVERLOADED: Refusal = { code: 'overloaded', message: 'the server is overloaded; retry later' };
const TOO_MANY_REQUESTS: Refusal = { code: 'too_many_requests', message: 'too many requests in flight; retry later' };
const TOO_MANY_BYTES: Refusal = { code: 'too_many_bytes', message: 'too many request bytes in flight; retry later' };

/** Whether a refused request's connection is closed rather than kept: a large or unknown body still to come, or a sender cut off. */
export function closesOnRefusal(req: Pick<IncomingMessage, 'headers'>, close = false): boolean {
  const declared = Number(req.headers['content-length']);
  return close || !(declared <= DRAIN_BYTES);
}

/** Samples event-loop delay with a timer. */
export function startLoopDelaySampler(): { delayMs(): number; stop(): void } {
  const samples: number[] = new Array<number>(WINDOW).fill(0);
  let next = 0;
  let median = 0;
  let expected = performance.now() + SAMPLE_MS;
  const timer = setInterval(() => {
    const now = performance.now();
    samples[next] = Math.max(0, now - expected);
    next = (next + 1) % WINDOW;
    median = [...samples].sort((a, b) => a - b)[WINDOW >> 1]!;
    expected = now + SAMPLE_MS;
  }, SAMPLE_MS);
  timer.unref();
  return { delayMs: () => median, stop: () => clearInterval(timer) };
}

/** The bytes an admitted body may occupy once read: declared length, or the limit when unknown or compressed. */
export function reservedBytes(req: Pick<IncomingMessage, 'headers'>, maxRequestBytes: number): number {
  const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  const declared = Number(req.headers['content-length']);
  if (encoding && encoding !== 'identity') return maxRequestBytes;
  if (!Number.isFinite(declared) || declared < 0) return maxRequestBytes;
  return Math.min(declared, maxRequestBytes);
}

export interface AdmissionOptions {
  limits: AdmissionLimits;
  registry: Registry;
  /** Called with every refusal (metrics, response). */
  refuse(res: ServerResponse, refusal: Refusal): void;
}

export function createAdmission(options: AdmissionOptions): Admission {
  const { limits } = options;
  const loop = startLoopDelaySampler();
  let requests = 0;
  let bytes = 0;
  /** The adaptive in-flight limit, between MIN_LIMIT and the configured maximum. */
  let limit = limits.maxRequestsInFlight;
  let lastDecrease = 0;
  const slowMs = limits.maxRequestWaitMs / 2;
  const adapt = (elapsedMs: number) => {
    const now = performance.now();
    if (elapsedMs > slowMs) {
      // At most once per slow period: one burst of slow answers is one signal, not fifty.
      if (now - lastDecrease > slowMs) {
        limit = Math.max(Math.min(MIN_LIMIT, limits.maxRequestsInFlight), Math.floor(limit * 0.75));
        lastDecrease = now;
      }
    } else if (limit < limits.maxRequestsInFlight) {
      limit = Math.min(limits.maxRequestsInFlight, limit + 1);
    }
  };
  const registers = [options.registry];
  new Gauge({
    name: 'balise_ingest_requests_in_flight',
    help: 'Ingest requests admitted and not yet answered',
    registers,
    collect() {
      this.set(requests);
    },
  });
  new Gauge({
    name: 'balise_ingest_bytes_in_flight',
    help: 'Body bytes reserved by admitted ingest requests',
    registers,
    collect() {
      this.set(bytes);
    },
  });
  new Gauge({
    name: 'balise_ingest_in_flight_limit',
    help: 'Adaptive limit of ingest requests in flight',
    registers,
    collect() {
      this.set(limit);
    },
  });
  new Gauge({
    name: 'balise_event_loop_delay_seconds',
    help: 'Smoothed event-loop delay the ingest sheds load on',
    registers,
    aggregator: 'max',
    collect() {
      this.set(Math.round(loop.delayMs() * 10) / 10_000);
    },
  });

  const deadlines = new WeakMap<IncomingMessage, NodeJS.Timeout>();
  const admitted = new WeakMap<IncomingMessage, number>();

  const shed = (res: ServerResponse, refusal: Refusal, close = false) => {
    if (closesOnRefusal(res.req, close)) res.setHeader('Connection', 'close');
    options.refuse(res, refusal);
  };

  const check = (req: Pick<IncomingMessage, 'headers'>): Refusal | undefined => {
    if (loop.delayMs() > limits.maxEventLoopDelayMs) return OVERLOADED;
    if (requests >= limit) return TOO_MANY_REQUESTS;
    // One request is always let through, whatever its size, so a lone large body never starves.
    if (requests > 0 && bytes + reservedBytes(req, limits.maxRequestBytes) > limits.maxBytesInFlight) return TOO_MANY_BYTES;
    return undefined;
  };

  return {
    check,
    enter(req, res) {
      const reserved = reservedBytes(req, limits.maxRequestBytes);
      requests++;
      bytes += reserved;
      const admittedAt = performance.now();
      admitted.set(req, admittedAt);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        requests--;
        bytes -= reserved;
        if (res.statusCode === 200) adapt(performance.now() - admittedAt);
        const timer = deadlines.get(req);
        if (timer) clearTimeout(timer);
      };
      // 'close' fires once the response is sent or the connection is gone, whichever comes first.
      res.once('close', release);
      const timer = setTimeout(() => {
        if (res.headersSent) return;
        shed(res, { code: 'body_timeout', message: `the request body was not received within ${limits.bodyTimeoutMs} ms` }, true);
        // The sender is still (slowly) sending: cut it off once the answer is out.
        res.once('finish', () => req.socket.destroy());
      }, limits.bodyTimeoutMs);
      deadlines.set(req, timer);
    },
    bodyRead(req, res) {
      const timer = deadlines.get(req);
      if (timer) clearTimeout(timer);
      if (res.headersSent) return false;
      const waited = performance.now() - (admitted.get(req) ?? performance.now());
      if (waited > limits.maxRequestWaitMs) {
        adapt(waited);
        shed(res, OVERLOADED);
        return false;
      }
      return true;
    },
    load: () => ({ requests, bytes, eventLoopDelayMs: loop.delayMs(), limit }),
    stop: () => loop.stop(),
  };
}

/**
 * Node's own limits for what arrives before admission: headers must come within
 * `headersTimeoutMs`, a whole request within the body deadline plus the headers', and both are
 * checked every second (Node's default is 30 s, which let slow senders hold memory for minutes).
 */
export function serverTimeouts(limits: { bodyTimeoutMs: number; headersTimeoutMs: number }): { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number } {
  return { headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs, connectionsCheckingInterval: 1000 };
}
