/**
 * Turns the rows of compileRetention into a cohort × period table and a curve. A period whose
 * calendar bucket has not ended at `asOf` is marked incomplete (its count so far is a lower
 * bound); one that has not started yet is future and carries no number: neither is a 0%.
 */
import type { RetentionDefinition, TimeGrain } from './model.ts';
import type { RetentionCell, RetentionCurvePoint, RetentionResult } from './results.ts';
import { rangeInfo, type TimeRange } from './sql-common.ts';
import { addDays, addMonths, DEFAULT_TIME_ZONE, zonedMidnight } from '../util/zone.ts';

export interface RetentionRow {
  cohort: string;
  period: number | string;
  entities: number | string;
}

/** The local date starting the bucket `k` grains after the bucket starting at `date`. */
export function addGrains(date: string, grain: TimeGrain, k: number): string {
  if (grain === 'day') return addDays(date, k);
  if (grain === 'week') return addDays(date, 7 * k);
  return addMonths(date, k);
}

export function shapeRetention(def: RetentionDefinition, range: TimeRange & { isDefault?: boolean }, asOfMs: number, rows: RetentionRow[]): RetentionResult {
  const zone = range.timeZone ?? DEFAULT_TIME_ZONE;
  const byCohort = new Map<string, Map<number, number>>();
  for (const row of rows) {
    const cohort = String(row.cohort).slice(0, 10);
    let periods = byCohort.get(cohort);
    if (!periods) byCohort.set(cohort, (periods = new Map()));
    periods.set(Number(row.period), Number(row.entities));
  }
  const cohorts = [...byCohort.keys()].sort().map((cohort) => {
    const counts = byCohort.get(cohort) as Map<number, number>;
    const entered = counts.get(-1) ?? 0;
    const cells: RetentionCell[] = Array.from({ length: def.periods }, (_, period) => {
      // Periods are calendar buckets of the project zone: they end at its midnights, not UTC's.
      const start = addGrains(cohort, def.grain, period);
      const startMs = zonedMidnight(start, zone);
      const endMs = zonedMidnight(addGrains(cohort, def.grain, period + 1), zone);
      const status = endMs <= asOfMs ? 'complete' : startMs < asOfMs ? 'incomplete' : 'future';
      const entities = status === 'future' ? null : (counts.get(period) ?? 0);
      return { period, start, status, entities, rate: entities === null || entered === 0 ? null : entities / entered };
    });
    const cut = zonedMidnight(cohort, zone) < range.fromMs || zonedMidnight(addGrains(cohort, def.grain, 1), zone) > range.toMs;
    return { cohort, entered, cut, cells };
  });
  const curve: RetentionCurvePoint[] = Array.from({ length: def.periods }, (_, period) => {
    // Only cohorts that lived the whole period weigh in: a partial one would pull the curve down.
    const complete = cohorts.filter((c) => c.cells[period]?.status === 'complete');
    const entered = complete.reduce((sum, c) => sum + c.entered, 0);
    const retained = complete.reduce((sum, c) => sum + (c.cells[period]?.entities ?? 0), 0);
    return { period, cohorts: complete.length, entered, retained, rate: entered > 0 ? retained / entered : null };
  });
  return {
    id: def.id,
    title: def.title,
    description: def.description,
    entity: def.entity,
    start: def.start,
    return: def.return,
    grain: def.grain,
    periods: def.periods,
    from: new Date(range.fromMs).toISOString(),
    to: new Date(range.toMs).toISOString(),
    asOf: new Date(asOfMs).toISOString(),
    range: rangeInfo(range),
    entered: cohorts.reduce((sum, c) => sum + c.entered, 0),
    cohorts,
    curve,
  };
}
