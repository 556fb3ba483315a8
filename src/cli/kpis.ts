import type { Command } from 'commander';
import { formatKpis } from '../analytics/format.ts';
import type { KpiResult } from '../analytics/results.ts';
import { DEFAULT_RANGE_DAYS } from '../util/default-range.ts';
import { tableOptions } from './output.ts';
import { callApi, withQuery } from './client.ts';

/** `balise kpis`: every metric of tracking-plan/kpis for the period and the previous one. */
export function registerKpisCommand(program: Command): void {
  program
    .command('kpis')
    .description(`KPI tiles: value for the period (default: the last ${DEFAULT_RANGE_DAYS} days), previous period, change`)
    .option('--from <date>', 'period start (YYYY-MM-DD or ISO)')
    .option('--to <date>', 'period end, inclusive for a bare date; default: today')
    .option('--tz <zone>', "IANA time zone of the days, weeks and months (e.g. Europe/Paris); default: the project's (BALISE_TIMEZONE, plan.yaml timezone:, else UTC)")
    .option('--json', 'print JSON')
    .action(async (opts: { from?: string; to?: string; tz?: string; json?: boolean }) => {
      const result = await callApi<KpiResult[]>('GET', withQuery('/api/kpis', { from: opts.from, to: opts.to, tz: opts.tz }));
      console.log(opts.json ? JSON.stringify(result, null, 2) : formatKpis(result, tableOptions()));
    });
}
