import type { Command } from 'commander';
import { formatSql } from '../analytics/format.ts';
import type { SqlResult } from '../analytics/results.ts';
import { tableOptions } from './output.ts';
import { callApi } from './client.ts';

/** `balise sql "<query>"`: read-only SQL through the running API (readonly=1, bounded rows and time). */
export function registerSqlCommand(program: Command): void {
  program
    .command('sql <query>')
    .description('run one read-only SELECT against the warehouse (through the running API)')
    .option('--json', 'print JSON')
    .action(async (query: string, opts: { json?: boolean }) => {
      const result = await callApi<SqlResult>('POST', '/api/sql', { query });
      console.log(opts.json ? JSON.stringify(result, null, 2) : formatSql(result, tableOptions()));
    });
}
