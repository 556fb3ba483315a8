/**
 * The one date parser (pure). Events carry ISO 8601 date-times (parseIsoDateTime); a person types
 * a day, a date-time or, where a command says so, epoch milliseconds (parseDateInput). Nothing
 * here guesses the way `Date.parse` does ("12", "Dec 1 2026", the server's local zone).
 */

/**
 * ISO 8601 date-times, as every Segment/RudderStack SDK writes them: `2026-12-01T10:00:00.000Z`,
 * with an offset (`+01:00`, `+0100`, `+01`), 1 to 9 fractional digits (Python and Go send micro-
 * and nanoseconds), a space instead of `T` (RFC 3339 allows it). A date-time without a zone is
 * read as UTC, never as the server's local time. Dates alone, week dates, and anything
 * `Date.parse` would guess at ("12", "Dec 1 2026") are refused.
 */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);

/** Date.UTC rolls 2026-02-30 over into March: undefined for a day the month does not have. */
function utcDay(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number | undefined {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  if (d > (mo === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[mo - 1]!)) return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, s, ms);
}

/** The number written in `count` ASCII digits from `start`, or -1 when one is not a digit. */
function digitsAt(text: string, start: number, count: number): number {
  let n = 0;
  for (let i = start; i < start + count; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/**
 * `2026-12-01T10:00:00.000Z`, the form `Date#toISOString` gives and every browser SDK sends, read
 * field by field: the regular expression and its match arrays cost more than the rest of an
 * event's normalisation. Undefined for anything else (the general parser decides).
 */
function canonicalIso(text: string): number | undefined {
  if (text.length !== 24 || text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':' || text[19] !== '.' || text[23] !== 'Z') return undefined;
  const fields = [digitsAt(text, 0, 4), digitsAt(text, 5, 2), digitsAt(text, 8, 2), digitsAt(text, 11, 2), digitsAt(text, 14, 2), digitsAt(text, 17, 2), digitsAt(text, 20, 3)] as const;
  return fields.includes(-1) ? undefined : utcDay(...fields);
}

// The last text parseIsoDateTime read, and its answer.
let lastText = '';
let lastMs: number | undefined;

/** Epoch ms of a strict ISO 8601 date-time, or undefined (out-of-range fields included). */
export function parseIsoDateTime(text: string): number | undefined {
  // A batch's sentAt is read once per event, and its events often share a timestamp.
  if (text === lastText) return lastMs;
  lastMs = canonicalIso(text) ?? isoDateTime(text)?.ms;
  lastText = text;
  return lastMs;
}

/** `wallClock`: written without Z or an offset, so `ms` is that wall-clock time read as UTC. */
function isoDateTime(text: string): { ms: number; wallClock: boolean } | undefined {
  const m = ISO_DATE_TIME.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const local = utcDay(y, mo, d, h, mi, s, Number((m[7] ?? '').padEnd(3, '0').slice(0, 3)));
  if (local === undefined) return undefined;
  const zone = m[8];
  if (!zone) return { ms: local, wallClock: true };
  if (zone === 'Z' || zone === 'z') return { ms: local, wallClock: false };
  const oh = Number(zone.slice(1, 3));
  const om = Number(zone.replace(':', '').slice(3, 5) || '0');
  if (oh > 23 || om > 59) return undefined;
  return { ms: local - (zone[0] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000, wallClock: false };
}

/** Epoch ms of the start (UTC midnight) of a `YYYY-MM-DD` day, or undefined. */
export function parseIsoDate(text: string): number | undefined {
  const m = ISO_DATE.exec(text);
  return m ? utcDay(Number(m[1]), Number(m[2]), Number(m[3])) : undefined;
}

export interface DateInput {
  /** Epoch ms; for a bare day or a wall-clock time, as if it were UTC (the caller applies a zone). */
  ms: number;
  /** A bare day (`YYYY-MM-DD`): the end of a range runs through it. */
  dateOnly: boolean;
  /** A date-time without Z or an offset: a time on the clock of the project's zone. */
  wallClock: boolean;
}

/**
 * A date a person typed (`--from`, `--to`, `?from=`, `--since`): `YYYY-MM-DD` (that day's UTC
 * start), an ISO 8601 date-time, or, when `epochMs` allows it, epoch milliseconds. Undefined
 * for anything else; the caller says which option was wrong.
 */
export function parseDateInput(text: string, options: { epochMs?: boolean } = {}): DateInput | undefined {
  const trimmed = text.trim();
  if (options.epochMs && /^\d+$/.test(trimmed)) return { ms: Number(trimmed), dateOnly: false, wallClock: false };
  const day = parseIsoDate(trimmed);
  if (day !== undefined) return { ms: day, dateOnly: true, wallClock: false };
  const dateTime = isoDateTime(trimmed);
  return dateTime && { ...dateTime, dateOnly: false };
}
