/** What each alert rule measures, read from the warehouse (and the queue for the dead letter). */
import { runKpis } from '../analytics/run.ts';
import { bucketOfDate, type TimeGrain } from '../util/periods.ts';
import { addDays, addMonths, DEFAULT_TIME_ZONE, zonedDate, zonedMidnight } from '../util/zone.ts';
import type { KpiDefinitions } from '../analytics/model.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';
import { UNRESOLVED_QUARANTINE } from '../warehouse/unresolved.ts';
import type { Measurement } from './evaluate.ts';
import type { AlertRule } from './model.ts';

export interface MeasureDeps {
  warehouse: Warehouse;
  kpis: () => Promise<KpiDefinitions>;
  deadLetterCount: () => Promise<number>;
  now: number;
  /** The project time zone: a KPI alert reads the same period as the dashboard's tile. */
  timeZone?: () => string;
}

/** When the newest event matching `where` was received, stored or quarantined: a quarantined event was received too. */
async function newest(warehouse: Warehouse, where: string, params: Record<string, unknown>): Promise<number | null> {
  const [row] = await queryRows<{ n: string; t: string }>(
    warehouse,
    `SELECT count() AS n, toUnixTimestamp64Milli(max(received_at)) AS t FROM (SELECT received_at FROM events WHERE ${where} UNION ALL SELECT received_at FROM quarantine WHERE ${where})`,
    params,
  );
  return row && Number(row.n) > 0 ? Number(row.t) : null;
}

/**
 * The last complete period of a KPI's grain before `now` (last week for a weekly KPI, in the
 * project zone), as instants: what its `below`/`above` mean, and its `previous` is the period
 * before (the same length, as for every KPI).
 */
export function lastCompletePeriod(grain: TimeGrain, now: number, timeZone: string = DEFAULT_TIME_ZONE): { from: string; to: string } {
  const current = bucketOfDate(zonedDate(now, timeZone), grain);
  const last = grain === 'day' ? addDays(current, -1) : grain === 'week' ? addDays(current, -7) : addMonths(current, -1);
  return { from: new Date(zonedMidnight(last, timeZone)).toISOString(), to: new Date(zonedMidnight(current, timeZone)).toISOString() };
}

export async function measure(rule: AlertRule, deps: MeasureDeps): Promise<Measurement> {
  const { warehouse, now } = deps;
  switch (rule.kind) {
    case 'kpi': {
      const definitions = await deps.kpis();
      const metric = definitions.metrics.find((m) => m.id === rule.kpi);
      if (!metric) return { value: null, previous: null };
      const timeZone = deps.timeZone?.();
      const period = lastCompletePeriod(metric.grain, now, timeZone);
      const [kpi] = (await runKpis(warehouse, definitions, { ...period, now, timeZone })).filter((k) => k.id === rule.kpi);
      return { value: kpi?.value ?? null, previous: kpi?.previous ?? null };
    }
    case 'event_silent': {
      const t = await newest(warehouse, 'event = {event:String}', { event: rule.event });
      return { value: t === null ? null : now - t };
    }
    case 'freshness': {
      const t = await newest(warehouse, '1', {});
      return { value: t === null ? null : now - t };
    }
    case 'violation_rate': {
      const since = now - rule.windowMs;
      // Each message once (a resend is one event), and a quarantined one no longer once it was
      // replayed or its client's resend was stored: as data health counts them.
      const [row] = await queryRows<{ q: string; e: string }>(
        warehouse,
        `SELECT
           (SELECT uniqExact(message_id) FROM quarantine WHERE received_at >= fromUnixTimestamp64Milli({since:Int64}) AND ${UNRESOLVED_QUARANTINE}) AS q,
           (SELECT uniqExact(message_id) FROM events WHERE received_at >= fromUnixTimestamp64Milli({since:Int64})) AS e`,
        { since },
      );
      const q = Number(row?.q ?? 0);
      const total = q + Number(row?.e ?? 0);
      return { value: total === 0 ? 0 : q / total };
    }
    case 'dead_letter':
      return { value: await deps.deadLetterCount() };
  }
}
