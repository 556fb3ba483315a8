import type { Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { createLogger, logStyle } from '../observability/logger.ts';
import type { Roles, RunningBalise } from './runtime.ts';
import { adminTokenFile, writeKeyFile } from '../config/secrets.ts';

/** After the grace period (plus Redis's own stop), shutdown gives up waiting and exits. */
const HARD_EXIT_MS = 20_000;

/**
 * Runs until SIGTERM/SIGINT, then stops accepting, drains, flushes and closes, within a bounded
 * time whatever state Redis is in. A second signal (Ctrl-C again) exits at once: what was
 * acknowledged is in Redis already, and the local redis-server still gets SIGTERM (AOF fsync).
 */
async function run(roles: Roles, split = false): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, undefined, logStyle(config));
  // Signals are handled from the start: a Ctrl-C during start-up (migrations, a long AOF load)
  // still stops the local redis-server on the way out.
  const started: { balise?: RunningBalise } = {};
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now (acknowledged events are safe in Redis)');
      process.exit(1);
    }
    const balise = started.balise;
    if (!balise) {
      logger.info({ signal }, 'stopping during start-up');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down: draining and flushing (press Ctrl-C again to exit at once)');
    setTimeout(() => {
      logger.error({ afterMs: HARD_EXIT_MS }, 'shutdown did not complete in time: exiting');
      process.exit(1);
    }, HARD_EXIT_MS).unref();
    balise.stop().then(
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
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // The server (express, BullMQ, the dashboard…) loads only for the commands that run it.
  const { startBalise } = await import('./runtime.ts');
  const balise = (started.balise = await startBalise(config, roles, logger, { split }));
  if (balise.baseUrl) {
    logger.info(
      { url: balise.baseUrl, sources: [...balise.writeKeys.keys()], writeKeyFile: config.writeKeys.size ? undefined : writeKeyFile(config.dataDir) },
      `Balise is up: ingest at ${balise.baseUrl}/v1/batch, dashboard at ${balise.baseUrl}/`,
    );
    if (process.stdout.isTTY) {
      const keyHint = config.writeKeys.size ? 'from BALISE_WRITE_KEYS' : `in ${writeKeyFile(config.dataDir)}`;
      const tokenHint = config.adminToken ? 'from BALISE_ADMIN_TOKEN' : `in ${adminTokenFile(config.dataDir)}`;
      console.log(`\n  Balise is up\n  ingest     ${balise.baseUrl}/v1/batch  (write key ${keyHint})\n  dashboard  ${balise.baseUrl}/  (admin token ${tokenHint})\n  demo data  npx balise demo\n`);
    }
  }
}

export function registerServeCommands(program: Command): void {
  program
    .command('up')
    .description('embedded single-process mode: migrate, then API + worker + dashboard (starts redis-server if REDIS_URL is unset)')
    .action(() => run({ api: true, worker: true }));
  program
    .command('serve')
    .description('the ingest API and dashboard alone (scale-out); with the embedded engine it shares the Redis of `balise up` on the same data directory and sends reads to it')
    .action(() => run({ api: true, worker: false }, true));
  program
    .command('worker')
    .description('the queue → ClickHouse worker alone (scale-out)')
    .action(() => run({ api: false, worker: true }));
}
