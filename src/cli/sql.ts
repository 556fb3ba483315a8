import fs from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { formatSql, formatSqlCsv } from '../analytics/format.ts';
import type { SqlResult } from '../analytics/results.ts';
import { BaliseError } from '../errors.ts';
import { tableOptions } from './output.ts';
import { callApi } from './client.ts';

type SqlFormat = 'table' | 'csv' | 'json';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The query from the argument, --file, or standard input (`-`, or no argument with piped input). */
async function readQuery(query: string | undefined, file: string | undefined): Promise<string> {
  if (query !== undefined && file !== undefined) throw new BaliseError('usage', 'give the query as an argument or with --file, not both');
  if (file !== undefined) {
    try {
      return await fs.readFile(file, 'utf8');
    } catch (error) {
      throw new BaliseError('usage', `--file: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (query === '-' || (query === undefined && !process.stdin.isTTY)) return readStdin();
  if (query === undefined) throw new BaliseError('usage', 'no query: give one as an argument, with --file, or on standard input');
  return query;
}

/** `balise sql`: read-only SQL through the running API (readonly=1, bounded rows and time). */
export function registerSqlCommand(program: Command): void {
  program
    .command('sql [query]')
    .description('run one read-only query (SELECT, WITH, EXPLAIN, DESCRIBE, SHOW) against the warehouse, through the running API; the query from the argument, --file, or standard input')
    .option('-f, --file <path>', 'read the query from this file')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .option('--json', 'print JSON (same as --format json)')
    .action(async (query: string | undefined, opts: { file?: string; format: SqlFormat; json?: boolean }) => {
      const text = await readQuery(query, opts.file);
      if (!text.trim()) throw new BaliseError('usage', 'the query is empty');
      const result = await callApi<SqlResult>('POST', '/api/sql', { query: text });
      const format: SqlFormat = opts.json ? 'json' : opts.format;
      if (format === 'csv') {
        process.stdout.write(formatSqlCsv(result));
        if (result.truncated) console.error(`balise: only the first ${result.rows.length} rows were returned (truncated)`);
        if (result.totals) console.error('balise: the WITH TOTALS row is not in the CSV (it is in --format json and the table)');
      } else console.log(format === 'json' ? JSON.stringify(result, null, 2) : formatSql(result, tableOptions()));
    });
}
