/**
 * The date range shared by every section: whole UTC days, `to` inclusive. It lives in the URL
 * (?range=30d for a preset that rolls with today, or ?from=…&to=… for fixed dates), so a link
 * shows the same period to a colleague and a reload keeps it. Pure: unit-tested.
 */
import { DEFAULT_RANGE_DAYS } from '../../util/default-range.ts';

export interface Range {
  from: string;
  to: string;
  /** The preset it came from, when it did ('30d', 'this-month', …). */
  preset?: string | undefined;
}

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
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

export function presetRange(id: string, now = Date.now()): Range | undefined {
  const today = new Date(Math.floor(now / DAY_MS) * DAY_MS);
  const y = today.getUTCFullYear();
  const m = today.getUTCMonth();
  const days = /^(\d{1,3})d$/.exec(id);
  if (days) {
    const n = Number(days[1]);
    return n >= 1 && n <= 366 ? { from: iso(today.getTime() - (n - 1) * DAY_MS), to: iso(today.getTime()), preset: id } : undefined;
  }
  if (id === 'this-month') return { from: iso(Date.UTC(y, m, 1)), to: iso(today.getTime()), preset: id };
  if (id === 'last-month') return { from: iso(Date.UTC(y, m - 1, 1)), to: iso(Date.UTC(y, m, 0)), preset: id };
  if (id === 'this-quarter') return { from: iso(Date.UTC(y, m - (m % 3), 1)), to: iso(today.getTime()), preset: id };
  return undefined;
}

export function defaultRange(now = Date.now()): Range {
  return presetRange(DEFAULT_PRESET, now) as Range;
}

/** The range a URL's query asks for; anything unreadable falls back to the default. */
export function rangeFromSearch(search: string, now = Date.now()): Range {
  const q = new URLSearchParams(search);
  const preset = q.get('range');
  if (preset) return presetRange(preset, now) ?? defaultRange(now);
  const from = q.get('from') ?? '';
  const to = q.get('to') ?? '';
  if (DATE.test(from) && DATE.test(to) && !Number.isNaN(Date.parse(from)) && !Number.isNaN(Date.parse(to)) && from <= to) return { from, to };
  return defaultRange(now);
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

const long = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

/** "1 Sep 2026 – 29 Nov 2026 (90 days, UTC; today is still going)". */
export function describeRange(range: Range, now = Date.now()): string {
  const from = Date.parse(`${range.from}T00:00:00Z`);
  const to = Date.parse(`${range.to}T00:00:00Z`);
  const days = Math.round((to - from) / DAY_MS) + 1;
  const label = PRESETS.find((p) => p.id === range.preset)?.label;
  const ongoing = to + DAY_MS > now ? '; the last day is not over yet' : '';
  return `${label ? `${label}: ` : ''}${long.format(from)} – ${long.format(to)} (${days} day${days === 1 ? '' : 's'}, UTC${ongoing})`;
}
