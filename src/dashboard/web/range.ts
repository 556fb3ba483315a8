/** The date range shared by every section: whole UTC days, `to` inclusive. */
export interface Range {
  from: string;
  to: string;
}

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function defaultRange(now = Date.now(), days = 90): Range {
  return { from: iso(now - (days - 1) * DAY_MS), to: iso(now) };
}
