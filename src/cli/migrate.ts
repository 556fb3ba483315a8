import type { Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { openWarehouse } from '../warehouse/client.ts';
import { migrate, newerSchemaWarning } from '../warehouse/migrations.ts';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply migrations/ to ClickHouse (idempotent, checksummed, recorded in schema_migrations)')
    .action(async () => {
      const warehouse = await openWarehouse(loadConfig());
      try {
        const report = await migrate(warehouse);
        console.log(report.applied.length ? `applied: ${report.applied.join(', ')}` : 'nothing to apply');
        console.log(`up to date: ${report.alreadyApplied.length + report.applied.length} migration(s)`);
        const newer = newerSchemaWarning(report);
        if (newer) console.error(`balise: warning: ${newer}`);
      } finally {
        await warehouse.close();
      }
    });
}
