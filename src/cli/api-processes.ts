/**
 * `balise up` with API children (decision 0040). The primary owns what belongs to one process
 * (the embedded engine, the worker, the local redis-server) and keeps its read API on loopback;
 * N children, forked with node:cluster, share the public port and do the ingest work (parse,
 * validate, encode, queue). Ingest JavaScript then runs on another core than the worker's, and
 * a request never waits behind a batch being loaded.
 *
 * The children are `serve` processes of the same data directory (split mode: they queue into
 * the primary's Redis and send /api reads to the engine's owner), plus three things over IPC:
 * - /metrics answers for every process: the primary gathers each child's registry and its own
 *   and sums them (prom-client's aggregation), so a scrape never sees one process at random;
 * - /ready includes the engine's checks, asked of the primary;
 * - a plan reloaded through the admin API is reloaded by every child.
 * A child that dies is replaced; children stop with the primary, and exit when it disappears.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import { BaliseError, RemoteError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

type Request = { balise: 'metrics' | 'collect' | 'ready'; id: number };
type Reply = { balise: 'reply'; id: number; value: unknown };
type Notice = { balise: 'reload-plan' | 'stop' };
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
  reloadPlan(): void;
  /** Asks each child to stop (drain its requests), waits up to `ms`, then kills what is left. */
  stop(ms: number): Promise<void>;
  /** Kills every child at once (a second Ctrl-C). */
  kill(): void;
}

export interface PrimaryHooks {
  registry: Registry;
  readiness(): Promise<Record<string, boolean>>;
  logger: Logger;
}

/** In the primary: forks `count` API children and answers their questions. */
export function startApiChildren(count: number, hooks: PrimaryHooks): ApiChildren {
  const { logger } = hooks;
  const children = new Map<Worker, ReturnType<typeof asker>>();
  let stopping = false;
  let restartDelay = 1000;

  const gather = async (): Promise<string> => {
    const all: MetricsJson[] = [(await hooks.registry.getMetricsAsJSON()) as MetricsJson];
    const answers = await Promise.all([...children.values()].map((child) => child.ask('collect').catch(() => undefined)));
    for (const answer of answers) if (Array.isArray(answer)) all.push(answer as MetricsJson);
    return AggregatorRegistry.aggregate(all).metrics();
  };

  const answer = async (worker: Worker, request: Request): Promise<void> => {
    const value = request.balise === 'metrics' ? await gather() : request.balise === 'ready' ? await hooks.readiness() : undefined;
    if (worker.isConnected()) worker.send({ balise: 'reply', id: request.id, value } satisfies Reply);
  };

  // Children accept connections themselves from the shared socket: with Node's default
  // round-robin the primary accepts each one and passes it over IPC, so a connection would wait
  // whenever the primary's own thread is busy loading a batch. Set before setupPrimary, which
  // freezes it (a flood left hundreds of accepted connections unread in the primary).
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ execArgv: apiChildExecArgv(process.execArgv, process.env.NODE_OPTIONS) });
  const fork = (): { worker: Worker; listening: Promise<string> } => {
    const worker = cluster.fork();
    const startedAt = Date.now();
    const link = asker((message) => worker.isConnected() && worker.send(message));
    children.set(worker, link);
    let failure: BaliseError | undefined;
    let listened = false;
    worker.on('message', (message: unknown) => {
      if (!isMessage(message)) return;
      // The child's own code (port_in_use, config_invalid…), so `up` reports it as its own.
      if (message.balise === 'failed') failure = new RemoteError(message.code, message.message);
      else if (message.balise === 'reply') link.settle(message);
      else if (message.balise === 'metrics' || message.balise === 'ready') {
        answer(worker, message).catch((err: unknown) => logger.warn({ err }, 'could not answer an API process'));
      }
    });
    const listening = new Promise<string>((resolve, reject) => {
      worker.once('listening', (address) => {
        listened = true;
        const host = !address.address || address.address.includes(':') ? `[${address.address || '::'}]` : address.address;
        resolve(`http://${host}:${address.port}`);
      });
      worker.once('exit', (code, signal) => reject(failure ?? new BaliseError('api_process_failed', `an API process exited during start-up (code ${code}, signal ${signal})`)));
    });
    worker.once('exit', (code, signal) => {
      children.delete(worker);
      // One that never listened failed its start: `listening` rejects, and `up` (or the restart) reports it.
      if (stopping || !listened) return;
      // Its in-flight requests were not acknowledged: their clients resend. The port stays open
      // (the primary holds it) and the other children, or the replacement, take the next ones.
      restartDelay = Date.now() - startedAt < STABLE_MS ? Math.min(MAX_RESTART_DELAY_MS, restartDelay * 2) : 1000;
      logger.error({ pid: worker.process.pid, code, signal, restartInMs: restartDelay }, 'an API process died: starting another');
      setTimeout(() => {
        if (!stopping) fork().listening.catch((err: unknown) => logger.error({ err }, 'the replacement API process did not start'));
      }, restartDelay).unref();
    });
    return { worker, listening };
  };

  const started = Array.from({ length: count }, () => fork());
  const listening = Promise.all(started.map((s) => s.listening)).then((urls) => urls[0]!);
  return {
    listening,
    reloadPlan: () => {
      for (const worker of children.keys()) if (worker.isConnected()) worker.send({ balise: 'reload-plan' } satisfies Notice);
    },
    async stop(ms) {
      stopping = true;
      const exits = [...children.keys()].map((worker) => new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once('exit', () => resolve()))));
      for (const worker of children.keys()) if (worker.isConnected()) worker.send({ balise: 'stop' } satisfies Notice);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
      await Promise.race([Promise.all(exits), timedOut]);
      clearTimeout(timer);
      for (const worker of children.keys()) if (!worker.isDead()) worker.process.kill('SIGKILL');
    },
    kill() {
      stopping = true;
      for (const worker of children.keys()) if (!worker.isDead()) worker.process.kill('SIGKILL');
    },
  };
}

export interface ChildLink {
  /** The engine owner's readiness checks. */
  ownerReadiness(): Promise<Record<string, boolean>>;
  /** The /metrics text of every process of this `up`. */
  metricsText(): Promise<string>;
  /** Once the child runs: answer the primary's collections and notices. */
  attach(handlers: { registry: Registry; reloadPlan(): Promise<void>; stop(): void }): void;
}

/** In an API child: its side of the IPC channel. */
export function connectToPrimary(logger: Logger): ChildLink {
  const send = (message: Message) => process.send?.(message);
  const link = asker(send);
  let handlers: Parameters<ChildLink['attach']>[0] | undefined;
  process.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.balise === 'reply') return link.settle(message);
    if (message.balise === 'collect') {
      const id = message.id;
      const json = handlers ? handlers.registry.getMetricsAsJSON() : Promise.resolve([]);
      json.then(
        (value) => send({ balise: 'reply', id, value }),
        (err: unknown) => logger.warn({ err }, 'could not collect metrics'),
      );
      return;
    }
    if (message.balise === 'reload-plan') {
      handlers?.reloadPlan().catch((err: unknown) => logger.error({ err }, 'could not reload the tracking plan'));
      return;
    }
    if (message.balise === 'stop') handlers?.stop();
  });
  return {
    ownerReadiness: async () => (await link.ask('ready')) as Record<string, boolean>,
    metricsText: async () => (await link.ask('metrics')) as string,
    attach: (h) => (handlers = h),
  };
}

export const isApiChild = (): boolean => cluster.isWorker;

/** In an API child that could not start: tells the primary why (it reports it), then exits. */
export function failStart(error: unknown): void {
  const failed: Failed =
    error instanceof BaliseError
      ? { balise: 'failed', code: error.code, message: error.message }
      : { balise: 'failed', code: 'api_process_failed', message: error instanceof Error ? error.message : String(error) };
  if (process.send) process.send(failed, () => process.exit(1));
  else process.exit(1);
}
