import { BaliseError } from '../errors.ts';
import { parseDateInput } from '../util/dates.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';
import { addDays, DEFAULT_TIME_ZONE, zonedDate, zonedMidnight } from '../util/zone.ts';

const DAY_MS = 86_400_000;
const MAX_DAYS = 366;

export interface TrendsResult {
  from: string;
  to: string;
  /** The project time zone whose days these are. */
  timeZone: string;
  /** Every day of the range (local to the zone, YYYY-MM-DD), so missing days plot as 0. */
  days: string[];
  /** The busiest events first; counts aligned with `days`. */
  series: { event: string; total: number; counts: number[] }[];
}

/** `YYYY-MM-DD`, or an ISO date-time (util/dates.ts) whose day in the zone is taken; undefined when absent or invalid. */
function dayParam(value: unknown, timeZone: string): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const date = parseDateInput(value);
  if (!date) return undefined;
  // A day, or a time on the zone's own clock, is that day; an instant is the zone's day of it.
  return date.dateOnly || date.wallClock ? value.trim().slice(0, 10) : zonedDate(date.ms, timeZone);
}

/** Counts per day of the zone by event over [from, to] (local dates), the `limit` busiest track events. */
export async function eventTrends(warehouse: Warehouse, from: string, to: string, limit: number, timeZone: string = DEFAULT_TIME_ZONE): Promise<TrendsResult> {
  const rows = await queryRows<{ event: string; day: string; n: string }>(
    warehouse,
    `SELECT event, toString(toDate(timestamp, {tz:String})) AS day, count() AS n FROM events FINAL
      WHERE type = 'track' AND timestamp >= fromUnixTimestamp64Milli({from:Int64}) AND timestamp < fromUnixTimestamp64Milli({to:Int64})
        AND event IN (SELECT event FROM events WHERE type = 'track' AND timestamp >= fromUnixTimestamp64Milli({from:Int64}) AND timestamp < fromUnixTimestamp64Milli({to:Int64}) GROUP BY event ORDER BY count() DESC, event LIMIT {limit:UInt32})
      GROUP BY event, day ORDER BY event, day`,
    { from: zonedMidnight(from, timeZone), to: zonedMidnight(addDays(to, 1), timeZone), limit, tz: timeZone },
  );
  const days: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) days.push(d);
  const index = new Map(days.map((d, i) => [d, i]));
  const byEvent = new Map<string, number[]>();
  for (const row of rows) {
    const counts = byEvent.get(row.event) ?? days.map(() => 0);
    const i = index.get(row.day);
    if (i !== undefined) counts[i] = Number(row.n);
    byEvent.set(row.event, counts);
  }
  const series = [...byEvent.entries()].map(([event, counts]) => ({ event, counts, total: counts.reduce((a, b) => a + b, 0) })).sort((a, b) => b.total - a.total || a.event.localeCompare(b.event));
  return { from, to, timeZone, days, series };
}

/**
 * The window of GET /api/trends?from=YYYY-MM-DD&to=YYYY-MM-DD&limit=8: whole days of the project
 * zone, the last 30 by default, at most a year; an unreadable limit falls back to 8.
 */
export function trendsWindow(query: Record<string, unknown>, now: number, timeZone: string = DEFAULT_TIME_ZONE): { from: string; to: string; limit: number } {
  const to = dayParam(query.to, timeZone) ?? zonedDate(now, timeZone);
  const from = dayParam(query.from, timeZone) ?? addDays(to, -29);
  const limitRaw = Number(query.limit ?? 8);
  const limit = Number.isInteger(limitRaw) && limitRaw > 0 && limitRaw <= 50 ? limitRaw : 8;
  const span = (Date.parse(to) - Date.parse(from)) / DAY_MS;
  if (span < 0 || span >= MAX_DAYS) throw new BaliseError('invalid_range', `from must be before to, at most ${MAX_DAYS} days apart`);
  return { from, to, limit };
}
