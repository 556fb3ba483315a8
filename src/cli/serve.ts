import type { Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { createLogger, logStyle } from '../observability/logger.ts';
import type { Roles } from './runtime.ts';
import { adminTokenFile, writeKeyFile } from '../config/secrets.ts';

/** Runs until SIGTERM/SIGINT, then stops accepting, drains, flushes and closes. */
async function run(roles: Roles): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, undefined, logStyle(config));
  // The server (express, BullMQ, the dashboard…) loads only for the commands that run it.
  const { startBalise } = await import('./runtime.ts');
  const balise = await startBalise(config, roles, logger);
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
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) return;
    logger.info({ signal }, 'shutting down: draining and flushing');
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
}

export function registerServeCommands(program: Command): void {
  program.command('up').description('embedded single-process mode: migrate, then API + worker + dashboard (starts redis-server if REDIS_URL is unset)').action(() => run({ api: true, worker: true }));
  program.command('serve').description('the ingest API and dashboard alone (scale-out)').action(() => run({ api: true, worker: false }));
  program.command('worker').description('the queue → ClickHouse worker alone (scale-out)').action(() => run({ api: false, worker: true }));
}
