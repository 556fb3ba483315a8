import { Command } from 'commander';
import { BaliseError } from '../errors.ts';
import { registerBenchCommand } from './bench.ts';
import { registerDemoCommand } from './demo.ts';
import { registerFunnelCommand } from './funnel.ts';
import { registerImportCommand } from './import.ts';
import { registerKpisCommand } from './kpis.ts';
import { registerMetabaseCommand } from './metabase.ts';
import { registerMigrateCommand } from './migrate.ts';
import { registerPlanCommands } from './plan.ts';
import { registerReplayCommands } from './replay.ts';
import { registerServeCommands } from './serve.ts';
import { registerSqlCommand } from './sql.ts';

const program = new Command();
program.name('balise').description('Balise: product-analytics event pipeline').showHelpAfterError();
registerServeCommands(program);
registerMigrateCommand(program);
registerPlanCommands(program);
registerFunnelCommand(program);
registerKpisCommand(program);
registerSqlCommand(program);
registerDemoCommand(program);
registerImportCommand(program);
registerReplayCommands(program);
registerMetabaseCommand(program);
registerBenchCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // One clear line for expected failures (bad config, missing redis-server, server not running).
  if (error instanceof BaliseError) {
    console.error(`balise: ${error.message} [${error.code}]`);
    process.exit(1);
  }
  throw error;
}
