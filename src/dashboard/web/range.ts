/** The date range shared by every section: whole UTC days, `to` inclusive. */
import { defaultRangeDates } from '../../util/default-range.ts';

export interface Range {
  from: string;
  to: string;
}

/** Balise's one default range (util/default-range.ts), the same the API and the CLI use. */
export function defaultRange(now = Date.now()): Range {
  return defaultRangeDates(now);
}
