import { BaliseError } from '../errors.ts';
import { parseDateInput } from '../util/dates.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';

const DAY_MS = 86_400_000;
const MAX_DAYS = 366;

export interface TrendsResult {
  from: string;
  to: string;
  /** Every day of the range (UTC, YYYY-MM-DD), so missing days plot as 0. */
  days: string[];
  /** The busiest events first; counts aligned with `days`. */
  series: { event: string; total: number; counts: number[] }[];
}

/** `YYYY-MM-DD` or an ISO date-time (util/dates.ts) → epoch ms of that UTC day's start; undefined when absent or invalid. */
function dayParam(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const date = parseDateInput(value);
  return date ? Math.floor(date.ms / DAY_MS) * DAY_MS : undefined;
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Counts per day by event over [from, to] (whole UTC days), the `limit` busiest track events. */
export async function eventTrends(warehouse: Warehouse, fromMs: number, toMs: number, limit: number): Promise<TrendsResult> {
  const rows = await queryRows<{ event: string; day: string; n: string }>(
    warehouse,
    `SELECT event, toString(toDate(timestamp)) AS day, count() AS n FROM events FINAL
      WHERE type = 'track' AND timestamp >= fromUnixTimestamp64Milli({from:Int64}) AND timestamp < fromUnixTimestamp64Milli({to:Int64})
        AND event IN (SELECT event FROM events WHERE type = 'track' AND timestamp >= fromUnixTimestamp64Milli({from:Int64}) AND timestamp < fromUnixTimestamp64Milli({to:Int64}) GROUP BY event ORDER BY count() DESC, event LIMIT {limit:UInt32})
      GROUP BY event, day ORDER BY event, day`,
    { from: fromMs, to: toMs + DAY_MS, limit },
  );
  const days: string[] = [];
  for (let d = fromMs; d <= toMs; d += DAY_MS) days.push(isoDay(d));
  const index = new Map(days.map((d, i) => [d, i]));
  const byEvent = new Map<string, number[]>();
  for (const row of rows) {
    const counts = byEvent.get(row.event) ?? days.map(() => 0);
    const i = index.get(row.day);
    if (i !== undefined) counts[i] = Number(row.n);
    byEvent.set(row.event, counts);
  }
  const series = [...byEvent.entries()].map(([event, counts]) => ({ event, counts, total: counts.reduce((a, b) => a + b, 0) })).sort((a, b) => b.total - a.total || a.event.localeCompare(b.event));
  return { from: isoDay(fromMs), to: isoDay(toMs), days, series };
}

/**
 * The window of GET /api/trends?from=YYYY-MM-DD&to=YYYY-MM-DD&limit=8: whole UTC days, the last
 * 30 by default, at most a year; an unreadable limit falls back to 8.
 */
export function trendsWindow(query: Record<string, unknown>, now: number): { fromMs: number; toMs: number; limit: number } {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const toMs = dayParam(query.to) ?? today;
  const fromMs = dayParam(query.from) ?? toMs - 29 * DAY_MS;
  const limitRaw = Number(query.limit ?? 8);
  const limit = Number.isInteger(limitRaw) && limitRaw > 0 && limitRaw <= 50 ? limitRaw : 8;
  if (toMs < fromMs || (toMs - fromMs) / DAY_MS >= MAX_DAYS) throw new BaliseError('invalid_range', `from must be before to, at most ${MAX_DAYS} days apart`);
  return { fromMs, toMs, limit };
}
