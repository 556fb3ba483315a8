import { addDays, zonedDate, zonedMidnight } from './zone.ts';

/**
 * How a KPI's change against the previous period is told, the same in the CLI and the
 * dashboard: a rate (a ratio, or a value shown in %) in percentage points, since a relative
 * change of a rate reads as a bigger move than it is (0.42 → 0.45 is +3.0 pts, not +7.1 %);
 * anything else as the relative change.
 */
export const changesInPoints = (kpi: { type: string; unit?: string }): boolean => kpi.type === 'ratio' || kpi.unit === '%';

/** The change of a rate in percentage points, rounded to one decimal; null without both values. */
export function pointChange(value: number | null, previous: number | null): number | null {
  if (value === null || previous === null || !Number.isFinite(value) || !Number.isFinite(previous)) return null;
  return Math.round((value - previous) * 1000) / 10;
}

/**
 * Whether a KPI's range runs past today (days not begun yet in it): its value so far is then set
 * against a whole previous period, and its change is said "so far". Today itself not being over
 * is said once, by the range, not on every KPI.
 */
export function runsPastToday(kpi: { period?: string; to: string; range: { timeZone: string } }, now: number): boolean {
  return kpi.period === 'under_way' && Date.parse(kpi.to) > zonedMidnight(addDays(zonedDate(now, kpi.range.timeZone), 1), kpi.range.timeZone);
}
