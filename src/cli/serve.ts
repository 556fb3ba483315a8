import os from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from '../config/index.ts';
import { createLogger, logStyle, type Logger } from '../observability/logger.ts';
import { connectToPrimary, failStart, inheritedDescriptors, startApiChildren, type ApiChildren } from './api-processes.ts';
import type { Roles, RunningBalise } from './runtime.ts';
import { adminTokenFile, writeKeyFile } from '../config/secrets.ts';
import { recordPublicUrl } from '../warehouse/engine-owner.ts';

/** After the grace period (plus Redis's own stop), shutdown gives up waiting and exits. */
const HARD_EXIT_MS = 20_000;
/**
 * Each stops Balise cleanly: SIGHUP is the terminal closing (a window, an ssh session), whose
 * default action killed the process at once, leaving its redis-server behind and the queue unflushed.
 */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
/** API children get this long to answer what they took and exit, before the primary drains. */
const CHILD_STOP_MS = 7000;

/** `--api-processes <n>`: a whole number from 0 to 64; anything else is a usage error (exit 2). */
export function parseApiProcesses(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 64) throw new InvalidArgumentError(`must be a whole number from 0 to 64, got "${value}"`);
  return n;
}

/** `--api-processes`, else BALISE_API_PROCESSES (`configured`, read by src/config), else one child when there is a second core for it. */
export function apiProcessCount(option: number | undefined, configured: number | undefined, cores = os.availableParallelism()): number {
  return option ?? configured ?? (cores >= 2 ? 1 : 0);
}

/** On a terminal, unless the logs are JSON there too (LOG_FORMAT=json): then stdout is for machines, every line of it. */
export const wantsBanner = (config: Pick<Config, 'logFormat' | 'noColor'>, stdoutIsTTY = process.stdout.isTTY === true): boolean => stdoutIsTTY && logStyle(config, stdoutIsTTY).format !== 'json';

/** What `up` prints once it listens, on a terminal. */
function banner(config: Config, url: string): void {
  const keyHint = config.writeKeys.size ? 'from BALISE_WRITE_KEYS' : `in ${writeKeyFile(config.dataDir)}`;
  const tokenHint = config.adminToken ? 'from BALISE_ADMIN_TOKEN' : `in ${adminTokenFile(config.dataDir)}`;
  console.log(`\n  Balise is up\n  ingest     ${url}/v1/batch  (write key ${keyHint})\n  dashboard  ${url}/  (admin token ${tokenHint})\n  demo data  ${demoCommand(url)}\n`);
}

/** Run from another terminal, `demo` reaches the default port unless told where this server listens. */
export const demoCommand = (url: string): string => (url === 'http://127.0.0.1:3000' ? 'npx balise demo' : `npx balise demo --host ${url}`);

/**
 * Exits without the embedded engine's teardown. process.exit runs it, and run while a chDB
 * insert is in flight it crashed the process (SIGSEGV) or held the exit for seconds. What a
 * second Ctrl-C promises is what kill -9 gives (acknowledged events are in Redis's AOF, parts
 * are written atomically), with the local redis-server still stopped cleanly.
 */
function exitAtOnce(): void {
  // Loaded already by the runtime that started the servers; imported here lazily like the rest of the server.
  void import('../redis/server.ts').then(({ stopLocalRedisServers }) => {
    stopLocalRedisServers();
    process.kill(process.pid, 'SIGKILL');
  });
}

/**
 * Runs until SIGTERM, SIGINT or SIGHUP (STOP_SIGNALS), then stops accepting, drains, flushes and closes, within a bounded
 * time whatever state Redis is in. A second signal (Ctrl-C again) exits at once: what was
 * acknowledged is in Redis already, and the local redis-server still gets SIGTERM (AOF fsync).
 * With API children (`up --api-processes N`, src/cli/api-processes.ts), they stop first, so
 * every request they took is queued before the worker drains and Redis closes.
 */
async function run(roles: Roles, split = false, apiProcesses = 0): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, undefined, logStyle(config));
  const descriptors = inheritedDescriptors();
  if (descriptors) return runApiChild(config, logger, descriptors);
  // Signals are handled from the start: a Ctrl-C during start-up (migrations, a long AOF load)
  // still stops the local redis-server on the way out.
  const started: { balise?: RunningBalise; children?: ApiChildren } = {};
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now (acknowledged events are safe in Redis)');
      started.children?.kill();
      // exitAtOnce ends the process a moment later (its import resolves first): a second graceful
      // stop must not start meanwhile, or its process.exit runs the engine's teardown mid-insert (SIGSEGV).
      exitAtOnce();
      return;
    }
    const balise = started.balise;
    if (!balise) {
      logger.info({ signal }, 'stopping during start-up');
      started.children?.kill();
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down: draining and flushing (press Ctrl-C again to exit at once)');
    setTimeout(() => {
      logger.error({ afterMs: HARD_EXIT_MS }, 'shutdown did not complete in time: exiting');
      started.children?.kill();
      process.exit(1);
    }, HARD_EXIT_MS).unref();
    (async () => {
      // First: an API child's drain waits for the analyst requests it forwarded here.
      await balise.cancelAnalystQueries();
      await started.children?.stop(CHILD_STOP_MS);
      await balise.stop();
    })().then(
      () => {
        logger.info('stopped cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => shutdown(signal));
  // The server (express, BullMQ, the dashboard…) loads only for the commands that run it.
  const { startBalise } = await import('./runtime.ts');
  if (apiProcesses > 0) {
    // The primary's own API (reads, the dashboard's data, CLI commands) stays on loopback; the
    // public port belongs to the children, which send /api reads here (engine.json).
    const balise = (started.balise = await startBalise(config, roles, logger, { listen: { host: '127.0.0.1', port: 0 }, deferAlerts: true }));
    const children = (started.children = startApiChildren(apiProcesses, {
      listen: { host: config.host, port: config.port },
      registry: balise.metrics.registry,
      readiness: () => balise.readiness(),
      logger,
    }));
    const url = await children.listening.catch(async (err: unknown) => {
      // Like a single process whose port is taken: stop what started, then one line (main.ts).
      started.children = undefined;
      children.kill();
      await balise.stop();
      throw err;
    });
    balise.startAlerts();
    // Another command on this data directory that cannot have the engine names this address, not the loopback one.
    if (balise.warehouse?.mode === 'embedded') recordPublicUrl(config.dataDir, url);
    logger.info(
      { url, apiProcesses, sources: [...balise.writeKeys.keys()] },
      `Balise is up: ingest at ${url}/v1/batch, dashboard at ${url}/ (${apiProcesses} API process${apiProcesses === 1 ? '' : 'es'})`,
    );
    if (wantsBanner(config)) banner(config, url);
    return;
  }
  const balise = (started.balise = await startBalise(config, roles, logger, { split }));
  if (balise.baseUrl) {
    logger.info(
      { url: balise.baseUrl, sources: [...balise.writeKeys.keys()], writeKeyFile: config.writeKeys.size ? undefined : writeKeyFile(config.dataDir) },
      `Balise is up: ingest at ${balise.baseUrl}/v1/batch, dashboard at ${balise.baseUrl}/`,
    );
    if (wantsBanner(config)) banner(config, balise.baseUrl);
  }
}

/**
 * An API child of `up`: a `serve` process on the shared port, in a session of its own (decision
 * 0056), so a terminal's Ctrl-C reaches the primary only. It stops when the primary tells it, on
 * a signal sent to it, or when the primary is gone; it never exits at once on a second signal:
 * the primary decides that.
 */
async function runApiChild(config: Config, logger: Logger, descriptors: number[]): Promise<void> {
  const link = connectToPrimary(logger);
  let balise: RunningBalise | undefined;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), HARD_EXIT_MS).unref();
    (balise ? balise.stop() : Promise.resolve()).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while stopping an API process');
        process.exit(1);
      },
    );
  };
  for (const signal of STOP_SIGNALS) process.on(signal, stop);
  process.on('disconnect', stop);
  const { startBalise } = await import('./runtime.ts');
  try {
    balise = await startBalise(config, { api: true, worker: false }, logger, { split: true, listen: { fds: descriptors }, ownerReadiness: link.ownerReadiness, metricsText: link.metricsText });
  } catch (err) {
    failStart(err);
    return;
  }
  link.attach({ registry: balise.metrics.registry, stop, connection: balise.serveConnection });
}

export function registerServeCommands(program: Command): void {
  program
    .command('up')
    .description('embedded mode: migrate, then API + worker + dashboard (starts redis-server if REDIS_URL is unset)')
    .option(
      '--api-processes <n>',
      'ingest API processes beside the one that owns the engine and the worker (0: all in one process; default BALISE_API_PROCESSES, else 1 on a machine with 2 or more cores)',
      parseApiProcesses,
    )
    .action((opts: { apiProcesses?: number }) => run({ api: true, worker: true }, false, apiProcessCount(opts.apiProcesses, loadConfig().apiProcesses)));
  program
    .command('serve')
    .description('the ingest API and dashboard alone (scale-out); with the embedded engine it shares the Redis of `balise up` on the same data directory and sends reads to it')
    .action(() => run({ api: true, worker: false }, true));
  program
    .command('worker')
    .description('the queue → ClickHouse worker alone (scale-out)')
    .action(() => run({ api: false, worker: true }));
}
