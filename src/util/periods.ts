/**
 * Time buckets of a range (UTC, like the SQL: toDate, toStartOfWeek(…, 1), toStartOfMonth), and
 * whether a bucket is complete. Pure, in util/ because the browser bundle uses it too (sparklines,
 * cohorts) and browser code may import values only from util/.
 */
/** The analytics' TimeGrain, restated here so util imports nothing. */
export type TimeGrain = 'day' | 'week' | 'month';

const DAY_MS = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Start (epoch ms) of the bucket holding `ms`. Weeks start on Monday, as toStartOfWeek(…, 1). */
export function bucketStart(ms: number, grain: TimeGrain): number {
  const day = Math.floor(ms / DAY_MS) * DAY_MS;
  if (grain === 'day') return day;
  if (grain === 'week') return day - ((new Date(day).getUTCDay() + 6) % 7) * DAY_MS;
  const d = new Date(day);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** Start of the bucket after the one starting at `start`. */
export function nextBucket(start: number, grain: TimeGrain): number {
  if (grain === 'day') return start + DAY_MS;
  if (grain === 'week') return start + 7 * DAY_MS;
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Every bucket start (YYYY-MM-DD) touching [fromMs, toMs). */
export function bucketStarts(range: { fromMs: number; toMs: number }, grain: TimeGrain): string[] {
  const out: string[] = [];
  for (let b = bucketStart(range.fromMs, grain); b < range.toMs; b = nextBucket(b, grain)) out.push(isoDay(b));
  return out;
}

/**
 * A bucket is incomplete when the range covers only part of it (it starts before `from` or ends
 * after `to`), or when it is not over yet: its value will still change, so it must not be read as
 * a drop.
 */
export function isIncomplete(bucket: string, grain: TimeGrain, range: { fromMs: number; toMs: number }, now: number): boolean {
  const start = Date.parse(`${bucket.slice(0, 10)}T00:00:00Z`);
  const end = nextBucket(start, grain);
  return start < range.fromMs || end > range.toMs || end > now;
}
