/**
 * The one default date range of Balise (decision 0020): the last 90 whole UTC days, today
 * included. The dashboard, `balise funnel`, `balise kpis`, `balise retention` and the HTTP API
 * all start from it, so a number read on screen and in the terminal is the same number.
 * Pure and dependency-free: the browser dashboard, the demo and the analytics layer share it.
 */
export const DEFAULT_RANGE_DAYS = 90;

const DAY_MS = 86_400_000;

/** [from, to) in epoch ms: from the UTC midnight 89 days before today to the next UTC midnight. */
export function defaultRangeMs(now: number = Date.now(), days: number = DEFAULT_RANGE_DAYS): { fromMs: number; toMs: number } {
  const toMs = (Math.floor(now / DAY_MS) + 1) * DAY_MS;
  return { fromMs: toMs - days * DAY_MS, toMs };
}

/** The same range as the dates a person types: `from` and `to` inclusive, YYYY-MM-DD. */
export function defaultRangeDates(now: number = Date.now(), days: number = DEFAULT_RANGE_DAYS): { from: string; to: string } {
  const { fromMs, toMs } = defaultRangeMs(now, days);
  return { from: new Date(fromMs).toISOString().slice(0, 10), to: new Date(toMs - DAY_MS).toISOString().slice(0, 10) };
}
