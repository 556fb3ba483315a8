import { BaliseError } from '../errors.ts';
import { parseDateInput } from '../util/dates.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';
import { completeDayRange, dayRangeMs } from '../util/default-range.ts';
import { bucketStarts, type TimeGrain } from '../util/periods.ts';
import { DEFAULT_TIME_ZONE, zonedDate } from '../util/zone.ts';

const DAY_MS = 86_400_000;
/** Up to this many days a point is a day; up to this many weeks, a week; beyond, a month. */
const MAX_POINTS = 366;

export interface TrendsResult {
  from: string;
  to: string;
  /** The project time zone whose days these are. */
  timeZone: string;
  /** What one point counts: a day for a range up to 366 days, a week (from Monday) up to 366 weeks, else a month. */
  grain: TimeGrain;
  /** The start (local YYYY-MM-DD) of every bucket touching the range, so empty ones plot as 0. */
  buckets: string[];
  /** The busiest events first; counts aligned with `buckets`. */
  series: { event: string; total: number; counts: number[] }[];
}

/** `YYYY-MM-DD`, or an ISO date-time (util/dates.ts) whose day in the zone is taken; undefined when absent, an error when unreadable. */
function dayParam(value: unknown, name: 'from' | 'to', timeZone: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  const date = typeof value === 'string' ? parseDateInput(value) : undefined;
  if (!date) throw new BaliseError('invalid_date', `${name}: ${JSON.stringify(value)} is not a date (use YYYY-MM-DD or an ISO date-time)`);
  // A day, or a time on the zone's own clock, is that day; an instant is the zone's day of it.
  return date.dateOnly || date.wallClock ? (value as string).trim().slice(0, 10) : zonedDate(date.ms, timeZone);
}

const BUCKET_SQL: Record<TimeGrain, string> = {
  day: 'toDate(timestamp, {tz:String})',
  week: 'toStartOfWeek(timestamp, 1, {tz:String})',
  month: 'toStartOfMonth(timestamp, {tz:String})',
};

/** The grain that keeps a range within MAX_POINTS points. */
export function trendsGrain(from: string, to: string): TimeGrain {
  const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
  return days <= MAX_POINTS ? 'day' : days <= MAX_POINTS * 7 ? 'week' : 'month';
}

/** Counts per bucket of the zone by event over [from, to] (local dates), the `limit` busiest track events. */
export async function eventTrends(warehouse: Warehouse, from: string, to: string, limit: number, timeZone: string = DEFAULT_TIME_ZONE): Promise<TrendsResult> {
  const grain = trendsGrain(from, to);
  const range = dayRangeMs({ from, to }, timeZone);
  const rows = await queryRows<{ event: string; bucket: string; n: string }>(
    warehouse,
    // A resend FINAL cannot fold (another timestamp, past the worker's messageId window) is one
    // event: LIMIT 1 BY message_id, as the KPIs and Explore count (decision 0011).
    `SELECT event, toString(${BUCKET_SQL[grain]}) AS bucket, count() AS n
      FROM (
        SELECT event, timestamp FROM events FINAL
        WHERE type = 'track' AND timestamp >= fromUnixTimestamp64Milli({from:Int64}) AND timestamp < fromUnixTimestamp64Milli({to:Int64})
        LIMIT 1 BY message_id
      )
      WHERE event IN (SELECT event FROM events WHERE type = 'track' AND timestamp >= fromUnixTimestamp64Milli({from:Int64}) AND timestamp < fromUnixTimestamp64Milli({to:Int64}) GROUP BY event ORDER BY count() DESC, event LIMIT {limit:UInt32})
      GROUP BY event, bucket ORDER BY event, bucket`,
    { from: range.fromMs, to: range.toMs, limit, tz: timeZone },
  );
  const buckets = bucketStarts(range, grain, timeZone);
  const index = new Map(buckets.map((d, i) => [d, i]));
  const byEvent = new Map<string, number[]>();
  for (const row of rows) {
    const counts = byEvent.get(row.event) ?? buckets.map(() => 0);
    const i = index.get(row.bucket);
    if (i !== undefined) counts[i] = Number(row.n);
    byEvent.set(row.event, counts);
  }
  const series = [...byEvent.entries()].map(([event, counts]) => ({ event, counts, total: counts.reduce((a, b) => a + b, 0) })).sort((a, b) => b.total - a.total || a.event.localeCompare(b.event));
  return { from, to, timeZone, grain, buckets, series };
}

/**
 * The window of GET /api/trends?from=YYYY-MM-DD&to=YYYY-MM-DD&limit=8: whole days of the project
 * zone, Balise's default range (the last 90 days) when absent, any length (longer ranges count by
 * week or month); a date or a limit that cannot be read is refused, never replaced.
 */
export function trendsWindow(query: Record<string, unknown>, now: number, timeZone: string = DEFAULT_TIME_ZONE): { from: string; to: string; limit: number; isDefault: boolean } {
  const given = { from: dayParam(query.from, 'from', timeZone), to: dayParam(query.to, 'to', timeZone) };
  const { from, to } = completeDayRange(given, now, timeZone);
  const limitRaw = query.limit === undefined || query.limit === '' ? 8 : Number(query.limit);
  if (!Number.isInteger(limitRaw) || limitRaw < 1 || limitRaw > 50) throw new BaliseError('invalid_parameter', `limit: ${JSON.stringify(query.limit)} is not a whole number from 1 to 50`);
  if (from > to) throw new BaliseError('invalid_range', `from (${from}) is after to (${to})`);
  return { from, to, limit: limitRaw, isDefault: given.from === undefined && given.to === undefined };
}
