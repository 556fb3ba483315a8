/**
 * The one default date range of Balise (decision 0020): the last 90 whole days of the project
 * time zone (decision 0038), today included. The dashboard, `balise funnel`, `balise kpis`,
 * `balise retention` and the HTTP API all start from it, so a number read on screen and in the
 * terminal is the same number. Pure and dependency-free: the browser dashboard, the demo and the
 * analytics layer share it.
 */
import { addDays, DEFAULT_TIME_ZONE, zonedDate, zonedMidnight } from './zone.ts';

export const DEFAULT_RANGE_DAYS = 90;

/** [from, to) in epoch ms: from the local midnight 89 days before today to the next local midnight. */
export function defaultRangeMs(now: number = Date.now(), days: number = DEFAULT_RANGE_DAYS, timeZone: string = DEFAULT_TIME_ZONE): { fromMs: number; toMs: number } {
  return dayRangeMs(defaultRangeDates(now, days, timeZone), timeZone);
}

/** Whole local days `from`–`to` (inclusive, YYYY-MM-DD) as [fromMs, toMs): from's midnight to the midnight after `to`. */
export function dayRangeMs(range: { from: string; to: string }, timeZone: string = DEFAULT_TIME_ZONE): { fromMs: number; toMs: number } {
  return { fromMs: zonedMidnight(range.from, timeZone), toMs: zonedMidnight(addDays(range.to, 1), timeZone) };
}

/**
 * A range of days with one end, both or none given, as every read takes it: a missing `to` is
 * today, a missing `from` the default's length before `to`.
 */
export function completeDayRange(given: { from?: string | undefined; to?: string | undefined }, now: number = Date.now(), timeZone: string = DEFAULT_TIME_ZONE): { from: string; to: string } {
  const to = given.to || zonedDate(now, timeZone);
  return { from: given.from || addDays(to, 1 - DEFAULT_RANGE_DAYS), to };
}

/** The same range as the dates a person types: `from` and `to` inclusive, YYYY-MM-DD, local to the zone. */
export function defaultRangeDates(now: number = Date.now(), days: number = DEFAULT_RANGE_DAYS, timeZone: string = DEFAULT_TIME_ZONE): { from: string; to: string } {
  const to = zonedDate(now, timeZone);
  return { from: addDays(to, 1 - days), to };
}
