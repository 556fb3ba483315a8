/** Shapes returned by the analytics layer (JSON over /api, tables in the CLI). */
import type { FunnelEntity, OrderMode, RetentionEvent, TimeGrain } from './model.ts';
import type { RangeInfo } from './sql-common.ts';

export interface FunnelStepResult {
  index: number;
  event: string;
  label: string;
  count: number;
  /** Counted when it happens, skippable (decision 0036). */
  optional: boolean;
  /**
   * The step this one is measured from (1-based; 0 for step 1): the previous step, or with
   * optional steps in between, the last required one before it.
   */
  previousStep: number;
  /** count / previousStep's count (1 for step 1; 0 when the previous step is 0). */
  conversionFromPrevious: number;
  /** count / entered. */
  conversionFromStart: number;
  /** previousStep's count − count (0 for step 1). */
  dropOff: number;
  /** Median time from reaching previousStep to reaching this one; null for step 1 or no data. */
  medianMsFromPrevious: number | null;
  /** The step's own window from the previous step (`within`), null when only the funnel's applies. */
  withinMs: number | null;
  /** Events that void this step when they happen between previousStep (any order: the entry) and it. */
  exclude: string[];
}

export interface FunnelGroupResult {
  value: string;
  entered: number;
  counts: number[];
  conversion: number;
  /** Cohorts only: still converting (entrants inside their window) or cut by the range. */
  incomplete?: boolean;
}

export interface FunnelResult {
  id: string;
  title: string;
  description: string;
  entity: FunnelEntity;
  order: OrderMode;
  windowMs: number;
  from: string;
  to: string;
  /** The range again, with whether it is the default (for "last 90 days" labels). */
  range: RangeInfo;
  entered: number;
  converted: number;
  /** Overall conversion: last step / entered (0 when nobody entered). */
  conversion: number;
  steps: FunnelStepResult[];
  /** Time from entry to the last step among those who converted (ms, quantiles); null when none did. */
  timeToConvert: { p10: number; p25: number; median: number; p75: number; p90: number } | null;
  /** `property` is what was asked (`category`, `person.category`); entities without a value are "(none)". */
  breakdown: { property: string; source: 'event' | 'person' | 'group'; attribution: 'first' | 'last'; groups: FunnelGroupResult[] } | null;
  cohorts: { grain: 'week' | 'month'; rows: FunnelGroupResult[] };
}

export interface KpiPoint {
  bucket: string;
  value: number | null;
}

export interface KpiResult {
  id: string;
  title: string;
  description: string;
  type: 'count' | 'unique_persons' | 'sum' | 'average' | 'ratio';
  unit: string;
  grain: TimeGrain;
  from: string;
  to: string;
  range: RangeInfo;
  /** Value over [from, to); null when undefined (an average or ratio over nothing). */
  value: number | null;
  /** Value over the previous period of the same length. */
  previous: number | null;
  /** (value − previous) / previous; null when not computable, or when the range has not started. */
  change: number | null;
  /**
   * Where the range stands: `under_way` while it runs to a later end than now (its value so far
   * against a whole previous period), `not_started` before it begins (no value, no change: not a
   * fall to 0).
   */
  period: 'complete' | 'under_way' | 'not_started';
  series: KpiPoint[];
}

export interface SqlResult {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  truncated: boolean;
  /** The row of a query `… WITH TOTALS`, apart from the others as ClickHouse gives it. */
  totals?: unknown[];
}

/** complete: the period's bucket ended before asOf; incomplete: it is under way (a lower bound); future: not started. */
export type RetentionCellStatus = 'complete' | 'incomplete' | 'future';

export interface RetentionCell {
  period: number;
  /** First day of the period's bucket (UTC). */
  start: string;
  status: RetentionCellStatus;
  /** Entities with a return in the period; null when the period has not started. */
  entities: number | null;
  /** entities / the cohort's size; null for a future period. */
  rate: number | null;
}

export interface RetentionCohortResult {
  /** First day of the cohort's bucket (UTC). */
  cohort: string;
  entered: number;
  /** The range starts or ends inside this cohort's bucket: it holds only the entries of the days in the range. */
  cut: boolean;
  cells: RetentionCell[];
}

export interface RetentionCurvePoint {
  period: number;
  /** How many cohorts have lived this period to its end (only those are counted). */
  cohorts: number;
  entered: number;
  retained: number;
  /** retained / entered over complete cohorts; null when no cohort has completed the period. */
  rate: number | null;
}

export interface RetentionResult {
  id: string;
  title: string;
  description: string;
  entity: FunnelEntity;
  start: RetentionEvent;
  return: RetentionEvent;
  grain: TimeGrain;
  periods: number;
  /** Entries (cohorts) are taken in [from, to). */
  from: string;
  to: string;
  /** Returns are observed up to here (the time of the request). */
  asOf: string;
  range: RangeInfo;
  entered: number;
  cohorts: RetentionCohortResult[];
  curve: RetentionCurvePoint[];
}
