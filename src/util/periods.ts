/**
 * Time buckets of a range in the project time zone (like the SQL: toDate, toStartOfWeek(…, 1),
 * toStartOfMonth, each given the zone), and whether a bucket is complete. Pure, in util/ because
 * the browser bundle uses it too (sparklines, cohorts) and browser code may import values only
 * from util/.
 */
import { addDays, addMonths, DEFAULT_TIME_ZONE, weekdayIndex, zonedDate, zonedMidnight } from './zone.ts';

/** The analytics' TimeGrain, restated here so util imports nothing. */
export type TimeGrain = 'day' | 'week' | 'month';

/** The local date (YYYY-MM-DD) starting the bucket that holds local date `date`. Weeks start on Monday. */
export function bucketOfDate(date: string, grain: TimeGrain): string {
  if (grain === 'day') return date;
  if (grain === 'week') return addDays(date, -weekdayIndex(date));
  return `${date.slice(0, 8)}01`;
}

/** The local date starting the bucket after the one starting at `bucket`. */
export function nextBucketDate(bucket: string, grain: TimeGrain): string {
  if (grain === 'day') return addDays(bucket, 1);
  if (grain === 'week') return addDays(bucket, 7);
  return addMonths(bucket, 1);
}

/** Start (epoch ms) of the bucket holding `ms`, in `timeZone`. */
export function bucketStart(ms: number, grain: TimeGrain, timeZone: string = DEFAULT_TIME_ZONE): number {
  return zonedMidnight(bucketOfDate(zonedDate(ms, timeZone), grain), timeZone);
}

/** Every bucket start (local YYYY-MM-DD) touching [fromMs, toMs). */
export function bucketStarts(range: { fromMs: number; toMs: number }, grain: TimeGrain, timeZone: string = DEFAULT_TIME_ZONE): string[] {
  const out: string[] = [];
  for (let b = bucketOfDate(zonedDate(range.fromMs, timeZone), grain); zonedMidnight(b, timeZone) < range.toMs; b = nextBucketDate(b, grain)) out.push(b);
  return out;
}

/**
 * A bucket is incomplete when the range covers only part of it (it starts before `from` or ends
 * after `to`), or when it is not over yet: its value will still change, so it must not be read as
 * a drop.
 */
export function isIncomplete(bucket: string, grain: TimeGrain, range: { fromMs: number; toMs: number }, now: number, timeZone: string = DEFAULT_TIME_ZONE): boolean {
  const day = bucket.slice(0, 10);
  const start = zonedMidnight(day, timeZone);
  const end = zonedMidnight(nextBucketDate(day, grain), timeZone);
  return start < range.fromMs || end > range.toMs || end > now;
}

/**
 * A funnel cohort (a calendar week or month of the zone) is still converting while some of its
 * entrants are inside their window, and partial when the range cuts it: its conversion is not
 * final, so it is marked rather than read as low.
 */
export function cohortIncomplete(cohortStart: string, grain: 'week' | 'month', windowMs: number, range: { fromMs: number; toMs: number }, now: number, timeZone: string = DEFAULT_TIME_ZONE): boolean {
  // A bucket incomplete as of `windowMs` ago: its last entrants' windows have not all closed.
  return isIncomplete(cohortStart, grain, range, now - windowMs, timeZone);
}
