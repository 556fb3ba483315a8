/**
 * Calendar arithmetic in a project time zone (decision 0038): which local day an instant falls on,
 * and the instant a local day starts. Events stay stored in UTC; only period boundaries follow the
 * zone. Pure and dependency-free (the zone database is the runtime's Intl), in util/ because the
 * browser dashboard uses it too.
 */
export const DEFAULT_TIME_ZONE = 'UTC';

const DAY_MS = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True for an IANA zone name the runtime knows ("Europe/Paris", "UTC"); false for anything else. */
export function isTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(name)) return false;
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at instant `ms`, in ms (Paris in summer: +7,200,000). */
function offsetAt(ms: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(parts.year as number, (parts.month as number) - 1, parts.day as number, parts.hour as number, parts.minute as number, parts.second as number);
  return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

/** The local calendar day (YYYY-MM-DD) holding instant `ms` in `timeZone`. */
export function zonedDate(ms: number, timeZone: string = DEFAULT_TIME_ZONE): string {
  return new Date(ms + offsetAt(ms, timeZone)).toISOString().slice(0, 10);
}

/**
 * The instant at which the wall clock of `timeZone` shows `localMs` (a wall-clock time written as
 * if it were UTC epoch ms). A time skipped by a DST change maps to the instant just after the gap.
 */
export function zonedWallClock(localMs: number, timeZone: string = DEFAULT_TIME_ZONE): number {
  // Two passes settle the offset on the right side of a change near that time.
  const first = localMs - offsetAt(localMs, timeZone);
  const second = localMs - offsetAt(first, timeZone);
  return second + offsetAt(second, timeZone) === localMs ? second : Math.max(first, second);
}

/** The instant local day `date` (YYYY-MM-DD) starts in `timeZone`. */
export function zonedMidnight(date: string, timeZone: string = DEFAULT_TIME_ZONE): number {
  return zonedWallClock(Date.parse(`${date}T00:00:00.000Z`), timeZone);
}

/**
 * The start of the period just before [fromMs, toMs) and as long: for a range of whole local days,
 * as many local days before it (across a DST change one of them has 23 or 25 hours, so the same
 * milliseconds would start an hour off, in another day); for any other range, as many
 * milliseconds before it.
 */
export function previousPeriodStart(fromMs: number, toMs: number, timeZone: string = DEFAULT_TIME_ZONE): number {
  const from = zonedDate(fromMs, timeZone);
  const to = zonedDate(toMs, timeZone);
  if (zonedMidnight(from, timeZone) !== fromMs || zonedMidnight(to, timeZone) !== toMs) return fromMs - (toMs - fromMs);
  const days = Math.round((Date.parse(to) - Date.parse(from)) / DAY_MS);
  return zonedMidnight(addDays(from, -days), timeZone);
}

/** `date` moved by `days` calendar days (local dates need no zone for this). */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00.000Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** `date`'s month moved by `months`, on day `day` (1 = the month's first day; 0 = the last day of the month before). */
export function addMonths(date: string, months: number, day = 1): string {
  const m = DATE.exec(date);
  if (!m) throw new RangeError(`not a date: ${date}`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1 + months, day)).toISOString().slice(0, 10);
}

/** Day of the week of a calendar date, Monday = 0. */
export function weekdayIndex(date: string): number {
  return (new Date(`${date}T00:00:00.000Z`).getUTCDay() + 6) % 7;
}
