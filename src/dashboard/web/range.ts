/**
 * The date range shared by every section: whole days of the project time zone, `to` inclusive. It lives in the URL
 * (?range=30d for a preset that rolls with today, or ?from=…&to=… for fixed dates), so a link
 * shows the same period to a colleague and a reload keeps it. Pure: unit-tested.
 */
import { completeDayRange, DEFAULT_RANGE_DAYS } from '../../util/default-range.ts';
import { addDays, addMonths, DEFAULT_TIME_ZONE, zonedDate } from '../../util/zone.ts';

export interface Range {
  from: string;
  to: string;
  /** The preset it came from, when it did ('30d', 'this-month', …). */
  preset?: string | undefined;
  /** Why the range asked for (in the address, or typed) was not used, when it was not: the default is shown instead, and says so. */
  refused?: string | undefined;
}

const DAY_MS = 86_400_000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The dashboard's default is Balise's one default range (util/default-range.ts), as a rolling preset. */
export const DEFAULT_PRESET = `${DEFAULT_RANGE_DAYS}d`;

export const PRESETS: readonly { id: string; label: string }[] = [
  { id: '7d', label: 'Last 7 days' },
  { id: '30d', label: 'Last 30 days' },
  { id: '90d', label: 'Last 90 days' },
  { id: 'this-month', label: 'This month' },
  { id: 'last-month', label: 'Last month' },
  { id: 'this-quarter', label: 'This quarter' },
  { id: '365d', label: 'Last 365 days' },
];

/** A preset's dates, counted from today in `timeZone` (Paris's "today" starts an hour or two before UTC's). */
export function presetRange(id: string, now = Date.now(), timeZone: string = DEFAULT_TIME_ZONE): Range | undefined {
  const today = zonedDate(now, timeZone);
  const days = /^(\d{1,3})d$/.exec(id);
  if (days) {
    const n = Number(days[1]);
    return n >= 1 && n <= 366 ? { from: addDays(today, 1 - n), to: today, preset: id } : undefined;
  }
  const month = Number(today.slice(5, 7)) - 1;
  if (id === 'this-month') return { from: addMonths(today, 0), to: today, preset: id };
  if (id === 'last-month') return { from: addMonths(today, -1), to: addMonths(today, 0, 0), preset: id };
  if (id === 'this-quarter') return { from: addMonths(today, -(month % 3)), to: today, preset: id };
  return undefined;
}

export function defaultRange(now = Date.now(), timeZone: string = DEFAULT_TIME_ZONE): Range {
  return presetRange(DEFAULT_PRESET, now, timeZone) as Range;
}

/** The range a URL's query asks for; anything unreadable falls back to the default. */
export function rangeFromSearch(search: string, now = Date.now(), timeZone: string = DEFAULT_TIME_ZONE): Range {
  const q = new URLSearchParams(search);
  const preset = q.get('range');
  if (preset) return presetRange(preset, now, timeZone) ?? { ...defaultRange(now, timeZone), refused: `no range is called "${preset}"` };
  const asked = { from: q.get('from') ?? '', to: q.get('to') ?? '' };
  if (!asked.from && !asked.to) return defaultRange(now, timeZone);
  const isDay = (d: string) => DATE.test(d) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d);
  const notADay = [asked.from, asked.to].find((d) => d && !isDay(d));
  if (notADay !== undefined) return { ...defaultRange(now, timeZone), refused: `"${notADay}" is not a date (YYYY-MM-DD)` };
  // One end alone, as the API reads it.
  const { from, to } = completeDayRange(asked, now, timeZone);
  return from <= to ? { from, to } : { ...defaultRange(now, timeZone), refused: `${from} is after ${to}` };
}

/** Writes the range into `params` (removing the other form). */
export function rangeToSearch(range: Range, params: URLSearchParams): URLSearchParams {
  params.delete('range');
  params.delete('from');
  params.delete('to');
  if (range.preset) params.set('range', range.preset);
  else {
    params.set('from', range.from);
    params.set('to', range.to);
  }
  return params;
}

/** Whether the range begins after today in `timeZone`: every figure is 0 and no change means anything. */
export function rangeNotStarted(range: Pick<Range, 'from'>, now = Date.now(), timeZone: string = DEFAULT_TIME_ZONE): boolean {
  return range.from > zonedDate(now, timeZone);
}

const long = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

/** "1 Sep 2026 – 29 Nov 2026 (90 days, in Europe/Paris; the last day is not over yet)". */
export function describeRange(range: Range, now = Date.now(), timeZone: string = DEFAULT_TIME_ZONE): string {
  // The dates are calendar days of the zone: formatted as such, whatever the browser's own zone.
  const from = Date.parse(`${range.from}T00:00:00Z`);
  const to = Date.parse(`${range.to}T00:00:00Z`);
  const days = Math.round((to - from) / DAY_MS) + 1;
  const label = PRESETS.find((p) => p.id === range.preset)?.label;
  const ongoing = rangeNotStarted(range, now, timeZone) ? '; it has not started yet: no data, nothing to compare' : range.to >= zonedDate(now, timeZone) ? '; the last day is not over yet' : '';
  return `${label ? `${label}: ` : ''}${long.format(from)} – ${long.format(to)} (${days} day${days === 1 ? '' : 's'}, in ${timeZone}${ongoing})`;
}
