/** Shapes returned by the analytics layer (JSON over /api, tables in the CLI). */
import type { FunnelEntity, OrderMode, TimeGrain } from './model.ts';

export interface FunnelStepResult {
  index: number;
  event: string;
  label: string;
  count: number;
  /** count / previous step's count (1 for step 1; 0 when the previous step is 0). */
  conversionFromPrevious: number;
  /** count / entered. */
  conversionFromStart: number;
  /** previous step's count − count (0 for step 1). */
  dropOff: number;
  /** Median time from reaching the previous step to reaching this one; null for step 1 or no data. */
  medianMsFromPrevious: number | null;
}

export interface FunnelGroupResult {
  value: string;
  entered: number;
  counts: number[];
  conversion: number;
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
  entered: number;
  converted: number;
  /** Overall conversion: last step / entered (0 when nobody entered). */
  conversion: number;
  steps: FunnelStepResult[];
  breakdown: { property: string; groups: FunnelGroupResult[] } | null;
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
  /** Value over [from, to); null when undefined (an average or ratio over nothing). */
  value: number | null;
  /** Value over the previous period of the same length. */
  previous: number | null;
  /** (value − previous) / previous; null when not computable. */
  change: number | null;
  series: KpiPoint[];
}

export interface SqlResult {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  truncated: boolean;
}
