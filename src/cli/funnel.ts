import type { Command } from 'commander';
import { formatFunnel } from '../analytics/format.ts';
import type { FunnelResult } from '../analytics/results.ts';
import { DEFAULT_RANGE_DAYS } from '../util/default-range.ts';
import { tableOptions } from './output.ts';
import { callApi, withQuery } from './client.ts';

/** `balise funnel <id>`: asks the running API (which owns the warehouse) and prints a table or JSON. */
export function registerFunnelCommand(program: Command): void {
  program
    .command('funnel <id>')
    .description('answer a funnel defined in tracking-plan/kpis (entered, conversion per step, median times, breakdown, cohorts)')
    .option('--from <date>', `entries from this date (YYYY-MM-DD or ISO); default: the last ${DEFAULT_RANGE_DAYS} days`)
    .option('--to <date>', 'entries up to this date, inclusive for a bare date; default: today')
    .option('--breakdown <property>', 'break down by an event property (its value on the entry step), person.<trait> (latest identify) or group.<trait>')
    .option('--attribution <first|last>', 'whose value a property breakdown takes: the entry step (first, default) or the last step reached')
    .option('--tz <zone>', "IANA time zone of the days, weeks and months (e.g. Europe/Paris); default: the project's (BALISE_TIMEZONE, plan.yaml timezone:, else UTC)")
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { from?: string; to?: string; tz?: string; breakdown?: string; attribution?: string; json?: boolean }) => {
      const path = withQuery(`/api/funnels/${encodeURIComponent(id)}`, { from: opts.from, to: opts.to, tz: opts.tz, breakdown: opts.breakdown, attribution: opts.attribution });
      const result = await callApi<FunnelResult>('GET', path);
      console.log(opts.json ? JSON.stringify(result, null, 2) : formatFunnel(result, tableOptions()));
    });
}
