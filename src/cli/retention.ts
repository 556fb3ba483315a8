import type { Command } from 'commander';
import { formatRetention } from '../analytics/format.ts';
import type { RetentionResult } from '../analytics/results.ts';
import { DEFAULT_RANGE_DAYS } from '../util/default-range.ts';
import { tableOptions } from './output.ts';
import { callApi, withQuery } from './client.ts';

/** `balise retention <id>`: a cohort × period table from tracking-plan/kpis, through the running API. */
export function registerRetentionCommand(program: Command): void {
  program
    .command('retention <id>')
    .description('answer a retention defined in tracking-plan/kpis (cohort × period table, incomplete periods marked)')
    .option('--from <date>', `cohorts entered from this date (YYYY-MM-DD or ISO); default: the last ${DEFAULT_RANGE_DAYS} days`)
    .option('--to <date>', 'cohorts entered up to this date, inclusive for a bare date; default: today')
    .option('--tz <zone>', "IANA time zone of the days, weeks and months (e.g. Europe/Paris); default: the project's (BALISE_TIMEZONE, plan.yaml timezone:, else UTC)")
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { from?: string; to?: string; tz?: string; json?: boolean }) => {
      const result = await callApi<RetentionResult>('GET', withQuery(`/api/retention/${encodeURIComponent(id)}`, { from: opts.from, to: opts.to, tz: opts.tz }));
      console.log(opts.json ? JSON.stringify(result, null, 2) : formatRetention(result, tableOptions()));
    });
}
