/** What each alert rule measures, read from the warehouse (and the queue for the dead letter). */
import { runKpis } from '../analytics/run.ts';
import type { KpiDefinitions } from '../analytics/model.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';
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

async function newest(warehouse: Warehouse, where: string, params: Record<string, unknown>): Promise<number | null> {
  const [row] = await queryRows<{ n: string; t: string }>(warehouse, `SELECT count() AS n, toUnixTimestamp64Milli(max(received_at)) AS t FROM events WHERE ${where}`, params);
  return row && Number(row.n) > 0 ? Number(row.t) : null;
}

export async function measure(rule: AlertRule, deps: MeasureDeps): Promise<Measurement> {
  const { warehouse, now } = deps;
  switch (rule.kind) {
    case 'kpi': {
      const [kpi] = (await runKpis(warehouse, await deps.kpis(), { now, timeZone: deps.timeZone?.() })).filter((k) => k.id === rule.kpi);
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
      const [row] = await queryRows<{ q: string; e: string }>(
        warehouse,
        'SELECT (SELECT count() FROM quarantine WHERE received_at >= fromUnixTimestamp64Milli({since:Int64})) AS q, (SELECT count() FROM events WHERE received_at >= fromUnixTimestamp64Milli({since:Int64})) AS e',
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
