import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { BaliseError } from '../errors.ts';
import { registerBenchCommand } from './bench.ts';
import { setServerUrl } from './client.ts';
import { registerDemoCommand } from './demo.ts';
import { registerFunnelCommand } from './funnel.ts';
import { registerInitCommand } from './init.ts';
import { registerImportCommand } from './import.ts';
import { registerKpisCommand } from './kpis.ts';
import { registerMetabaseCommand } from './metabase.ts';
import { registerMigrateCommand } from './migrate.ts';
import { exitCodeFor, formatJsonError, wantsJson } from './output.ts';
import { registerPlanCommands } from './plan.ts';
import { registerPrivacyCommands } from './privacy.ts';
import { registerReplayCommands } from './replay.ts';
import { registerRetentionCommand } from './retention.ts';
import { registerServeCommands } from './serve.ts';
import { registerSqlCommand } from './sql.ts';
import { registerTailCommand } from './tail.ts';
import { registerTokenCommand } from './token.ts';

// A reader that stops early (`balise sql … | head -1`) closes the pipe: the command finishes
// its work and its exit code stands, the rest of its output dropped, as with Unix tools, rather
// than dying half way through (a replay, say) on EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

const { version } = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const json = wantsJson(process.argv.slice(2));

const program = new Command();
program
  .name('balise')
  .description('Balise: product-analytics event pipeline')
  .version(version, '-V, --version', 'print the version')
  .option('--url <url>', 'the Balise server that data commands talk to (default: BALISE_URL, else http://127.0.0.1:$PORT)')
  // Errors become exceptions (settings inherited by every command registered below), so that
  // the exit code and the --json form are decided in one place.
  .exitOverride()
  .configureOutput(json ? { outputError: () => undefined, writeErr: () => undefined } : {})
  .showHelpAfterError()
  .hook('preAction', () => setServerUrl(program.opts<{ url?: string }>().url));
registerInitCommand(program);
registerServeCommands(program);
registerMigrateCommand(program);
registerPlanCommands(program);
registerFunnelCommand(program);
registerRetentionCommand(program);
registerKpisCommand(program);
registerSqlCommand(program);
registerDemoCommand(program);
registerImportCommand(program);
registerReplayCommands(program);
registerTailCommand(program);
registerPrivacyCommands(program);
registerTokenCommand(program);
registerMetabaseCommand(program);
registerBenchCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const code = exitCodeFor(error);
  // Commander has already printed its own usage message (and help); --json gets one JSON object.
  if (json && code !== 0) console.log(formatJsonError(error));
  else if (error instanceof BaliseError) console.error(`balise: ${error.message} [${error.code}]`);
  else if (!(error instanceof CommanderError)) console.error(error);
  process.exit(code);
}
