/**
 * `balise up` with API children (decision 0040). The primary owns what belongs to one process
 * (the embedded engine, the worker, the local redis-server) and keeps its read API on loopback;
 * N children share the public port (handed down on many descriptors each, decision 0044) and do the ingest work (parse,
 * validate, encode, queue). Ingest JavaScript then runs on another core than the worker's, and
 * a request never waits behind a batch being loaded.
 *
 * The children are `serve` processes of the same data directory (split mode: they queue into
 * the primary's Redis and send /api reads to the engine's owner), plus two things over IPC:
 * - /metrics answers for every process: the primary gathers each child's registry and its own
 *   and sums them (prom-client's aggregation), so a scrape never sees one process at random;
 * - /ready includes the engine's checks, asked of the primary.
 * A plan reload reaches them through Redis, as it reaches any API process (decision 0047).
 * A child that dies is replaced; children stop with the primary, and exit when it disappears.
 */
import { fork as forkProcess, type ChildProcess } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import { BaliseError, RemoteError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import { listenOn, urlOf } from './listen.ts';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

type Request = { balise: 'metrics' | 'collect' | 'ready'; id: number };
type Reply = { balise: 'reply'; id: number; value: unknown };
/** 'listening': a child serves; 'connection': a socket the primary accepted, sent with the message. */
type Notice = { balise: 'stop' | 'listening' | 'connection' };
/** A child that could not start says why, so `up` fails with the child's own code in one line. */
type Failed = { balise: 'failed'; code: string; message: string };
type Message = Request | Reply | Notice | Failed;

const ASK_TIMEOUT_MS = 3000;
/** A child that dies sooner than this after its start waits longer before the next one (a crash loop). */
const STABLE_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * A child allocates a short-lived object graph per request (parsed body, rows, the job) and
 * little that lives on: a larger young generation lets most of it die before a scavenge has to
 * copy it. Measured on the ingest bench: the child's GC threads −2 to −3 µs CPU per event
 * (decision 0041). A size the operator set (NODE_OPTIONS, node flags) is kept.
 */
export function apiChildExecArgv(execArgv: readonly string[], nodeOptions = ''): string[] {
  const set = [...execArgv, ...nodeOptions.split(/\s+/)].some((flag) => /^--max-semi-space-size\b/.test(flag));
  return set ? [...execArgv] : [...execArgv, '--max-semi-space-size=32'];
}

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as { balise?: unknown }).balise === 'string';
}

/** Request/response over one IPC channel: each question gets an id, its reply settles it. */
function asker(send: (message: Message) => void) {
  let next = 0;
  const pending = new Map<number, (value: unknown) => void>();
  return {
    ask(kind: Request['balise']): Promise<unknown> {
      const id = ++next;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`no answer to "${kind}" within ${ASK_TIMEOUT_MS} ms`));
        }, ASK_TIMEOUT_MS);
        pending.set(id, (value) => {
          clearTimeout(timer);
          resolve(value);
        });
        send({ balise: kind, id });
      });
    },
    settle(reply: Reply): void {
      pending.get(reply.id)?.(reply.value);
      pending.delete(reply.id);
    },
  };
}

export interface ApiChildren {
  /** The public URL, once every child listens; rejects when one could not start. */
  listening: Promise<string>;
  /** Asks each child to stop (drain its requests), waits up to `ms`, then kills what is left. */
  stop(ms: number): Promise<void>;
  /** Kills every child at once (a second Ctrl-C). */
  kill(): void;
}

export interface PrimaryHooks {
  /** The public address the children serve. */
  listen: { host: string; port: number };
  registry: Registry;
  readiness(): Promise<Record<string, boolean>>;
  logger: Logger;
}

/** Descriptors of the public socket each child watches: up to this many connections accepted per turn of its loop. */
export const ACCEPT_DESCRIPTORS = 16;
/** Where a child finds its descriptors (after stdin, stdout, stderr and the IPC channel); one more follows them, to hand back. */
const FIRST_DESCRIPTOR = 4;
const HANDOVER_DESCRIPTOR = FIRST_DESCRIPTOR + ACCEPT_DESCRIPTORS;
const CHILD_ENV = 'BALISE_API_CHILD_FDS';

/** Node's native handle of a server or socket: its `fd` (on Unix) is what can be handed down. Node has no public accessor. */
type NativeHandle = { fd?: unknown; close(): void };
const nativeHandle = (owner: net.Server | net.Socket) => (owner as unknown as { _handle?: NativeHandle })._handle;
const isNativeHandle = (value: unknown): value is NativeHandle => typeof value === 'object' && value !== null && 'fd' in value;

function descriptorOf(handle: NativeHandle | undefined): number {
  if (typeof handle?.fd !== 'number' || handle.fd < 0) throw new BaliseError('api_process_failed', 'the listening socket has no descriptor to hand to API processes on this platform');
  return handle.fd;
}

/**
 * A process's own figures: prom-client's process_* and nodejs_* (memory, descriptors, event loop,
 * start time), and each process's adaptive ingest limit (the primary's, which serves no ingest, is
 * its configured maximum: summed, it was counted as capacity).
 */
const PROCESS_METRIC = /^(process_|nodejs_|balise_ingest_in_flight_limit$)/;

/**
 * One process's metrics, ready to be merged with the others': Balise's counters and histograms add
 * up across processes, but a process's own figures do not (two limits of 20,000 descriptors are
 * not one of 40,000), so each keeps its series apart under a `process` label.
 */
function perProcess(metrics: MetricsJson, process: string): MetricsJson {
  return metrics.map((m) => (PROCESS_METRIC.test(m.name) ? { ...m, aggregator: 'sum', values: m.values.map((v) => ({ ...v, labels: { ...v.labels, process } })) } : m));
}

/** In the primary: listens on the public port, forks `count` API children and answers their questions. */
export function startApiChildren(count: number, hooks: PrimaryHooks): ApiChildren {
  const { logger } = hooks;
  const children = new Map<ChildProcess, ReturnType<typeof asker>>();
  let stopping = false;
  let restartDelay = 1000;
  const connected = (child: ChildProcess) => child.connected;
  const dead = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

  const gather = async (): Promise<string> => {
    const all: MetricsJson[] = [perProcess((await hooks.registry.getMetricsAsJSON()) as MetricsJson, 'primary')];
    const answers = await Promise.all([...children.values()].map((child) => child.ask('collect').catch(() => undefined)));
    answers.forEach((answer, i) => (Array.isArray(answer) ? all.push(perProcess(answer as MetricsJson, `api-${i + 1}`)) : undefined));
    return AggregatorRegistry.aggregate(all).metrics();
  };

  const answer = async (child: ChildProcess, request: Request): Promise<void> => {
    const value = request.balise === 'metrics' ? await gather() : request.balise === 'ready' ? await hooks.readiness() : undefined;
    if (connected(child)) child.send({ balise: 'reply', id: request.id, value } satisfies Reply);
  };

  // The primary owns the public socket, so it outlives any child, and hands it down on
  // ACCEPT_DESCRIPTORS descriptors per child (decision 0044). It must not accept from it itself:
  // its turns are long while it loads a batch, and a connection it took waited for them. So it
  // listens only until the first child serves and hands back a copy of the socket as a bare
  // handle, which no loop watches, and keeps that one for the children it forks later. The
  // connections it accepted before then wait, unread, and go to that first child.
  const server = net.createServer({ pauseOnConnect: true });
  let held: NativeHandle | undefined;
  const early: net.Socket[] = [];
  server.on('connection', (socket) => early.push(socket));
  const bound = listenOn(server, hooks.listen, hooks.listen).then(() => urlOf(server.address() as AddressInfo));
  const descriptors = Array.from({ length: ACCEPT_DESCRIPTORS }, (_, i) => FIRST_DESCRIPTOR + i);

  /** The first child to serve: it gets the primary's copy of the socket and what the primary accepted. */
  const takeOver = (child: ChildProcess, handle: NativeHandle): void => {
    held = handle;
    server.close();
    for (const socket of early.splice(0)) child.send({ balise: 'connection' } satisfies Notice, socket);
  };

  const fork = (): { child: ChildProcess; listening: Promise<void> } => {
    const fd = descriptorOf(held ?? nativeHandle(server));
    const child = forkProcess(process.argv[1]!, process.argv.slice(2), {
      execArgv: apiChildExecArgv(process.execArgv, process.env.NODE_OPTIONS),
      env: { ...process.env, [CHILD_ENV]: descriptors.join(',') },
      // A descriptor number as a stdio entry is duplicated into the child at that index.
      stdio: ['inherit', 'inherit', 'inherit', 'ipc', ...[...descriptors, HANDOVER_DESCRIPTOR].map(() => fd)],
      // A session of its own (decision 0056): where the kernel groups processes by session
      // (autogroup), the cores are shared between the API and the engine's many threads as
      // groups, so a request no longer waits behind chDB's inserts and merges for a core.
      // The primary stops it (IPC), and it exits when the primary is gone.
      detached: true,
    });
    const startedAt = Date.now();
    const link = asker((message) => connected(child) && child.send(message));
    children.set(child, link);
    let failure: BaliseError | undefined;
    let listened = false;
    let served = (): void => undefined;
    const listening = new Promise<void>((resolve, reject) => {
      served = resolve;
      child.once('exit', (code, signal) => reject(failure ?? new BaliseError('api_process_failed', `an API process exited during start-up (code ${code}, signal ${signal})`)));
    });
    child.on('message', (message: unknown, handle: unknown) => {
      if (!isMessage(message)) return;
      // The child's own code (config_invalid…), so `up` reports it as its own.
      if (message.balise === 'failed') failure = new RemoteError(message.code, message.message);
      else if (message.balise === 'listening') {
        // Every child hands back a copy of the socket: the first is kept, the others closed.
        if (isNativeHandle(handle)) {
          if (held) handle.close();
          else takeOver(child, handle);
        }
        listened = true;
        served();
      } else if (message.balise === 'reply') link.settle(message);
      else if (message.balise === 'metrics' || message.balise === 'ready') {
        answer(child, message).catch((err: unknown) => logger.warn({ err }, 'could not answer an API process'));
      }
    });
    child.once('exit', (code, signal) => {
      children.delete(child);
      // One that never listened failed its start: `listening` rejects, and `up` (or the restart) reports it.
      if (stopping || !listened) return;
      // Its in-flight requests were not acknowledged: their clients resend. The port stays open
      // (the primary holds it) and the other children, or the replacement, take the next ones.
      restartDelay = Date.now() - startedAt < STABLE_MS ? Math.min(MAX_RESTART_DELAY_MS, restartDelay * 2) : 1000;
      logger.error({ pid: child.pid, code, signal, restartInMs: restartDelay }, 'an API process died: starting another');
      setTimeout(() => {
        if (!stopping) fork().listening.catch((err: unknown) => logger.error({ err }, 'the replacement API process did not start'));
      }, restartDelay).unref();
    });
    return { child, listening };
  };

  const listening = bound.then(async (url) => {
    await Promise.all(Array.from({ length: count }, () => fork().listening));
    return url;
  });
  const release = () => {
    if (server.listening) server.close();
    for (const socket of early.splice(0)) socket.destroy();
    held?.close();
  };
  const killAll = () => {
    for (const child of children.keys()) if (!dead(child)) child.kill('SIGKILL');
  };
  return {
    listening,
    async stop(ms) {
      stopping = true;
      const exits = [...children.keys()].map((child) => new Promise<void>((resolve) => (dead(child) ? resolve() : child.once('exit', () => resolve()))));
      for (const child of children.keys()) if (connected(child)) child.send({ balise: 'stop' } satisfies Notice);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
      await Promise.race([Promise.all(exits), timedOut]);
      clearTimeout(timer);
      killAll();
      release();
    },
    kill() {
      stopping = true;
      killAll();
      release();
    },
  };
}

export interface ChildLink {
  /** The engine owner's readiness checks. */
  ownerReadiness(): Promise<Record<string, boolean>>;
  /** The /metrics text of every process of this `up`. */
  metricsText(): Promise<string>;
  /** Once the child serves: answer the primary's collections and notices, take the connections it passes on, and tell it. */
  attach(handlers: { registry: Registry; stop(): void; connection(socket: net.Socket): void }): void;
}

/** In an API child: the descriptors of the public socket `up` handed down, or undefined in any other process. */
export function inheritedDescriptors(env: NodeJS.ProcessEnv = process.env): number[] | undefined {
  return env[CHILD_ENV]?.split(',').map(Number);
}

/** In an API child: its side of the IPC channel. */
export function connectToPrimary(logger: Logger): ChildLink {
  const send = (message: Message) => process.send?.(message);
  const link = asker(send);
  let handlers: Parameters<ChildLink['attach']>[0] | undefined;
  process.on('message', (message: unknown, handle: unknown) => {
    if (!isMessage(message)) return;
    if (message.balise === 'reply') return link.settle(message);
    if (message.balise === 'connection' && handle instanceof net.Socket) {
      if (handlers) handlers.connection(handle);
      else handle.destroy();
      return;
    }
    if (message.balise === 'collect') {
      const id = message.id;
      const json = handlers ? handlers.registry.getMetricsAsJSON() : Promise.resolve([]);
      json.then(
        (value) => send({ balise: 'reply', id, value }),
        (err: unknown) => logger.warn({ err }, 'could not collect metrics'),
      );
      return;
    }
    if (message.balise === 'stop') handlers?.stop();
  });
  return {
    ownerReadiness: async () => (await link.ask('ready')) as Record<string, boolean>,
    metricsText: async () => (await link.ask('metrics')) as string,
    attach: (h) => {
      handlers = h;
      // A copy of the public socket, as a bare handle the primary keeps and never watches.
      const copy = new net.Socket({ fd: HANDOVER_DESCRIPTOR, readable: false, writable: false });
      process.send?.({ balise: 'listening' } satisfies Notice, nativeHandle(copy) as unknown as net.Socket, () => copy.destroy());
    },
  };
}

/** In an API child that could not start: tells the primary why (it reports it), then exits. */
export function failStart(error: unknown): void {
  const failed: Failed =
    error instanceof BaliseError
      ? { balise: 'failed', code: error.code, message: error.message }
      : { balise: 'failed', code: 'api_process_failed', message: error instanceof Error ? error.message : String(error) };
  if (process.send) process.send(failed, () => process.exit(1));
  else process.exit(1);
}
