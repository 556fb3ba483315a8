/**
 * KPI and funnel definitions as code (tracking-plan/kpis/*.yaml), after parsing and validation.
 * Every identifier in here (event names, property names) has passed IDENTIFIER, so the SQL
 * compilers may embed them; values never are embedded (they travel as query parameters).
 */

/** Event and property names that may appear in generated SQL. Nothing else is ever spliced in. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export type FilterOp = 'eq' | 'neq' | 'in' | 'gt' | 'lt';
export type FilterScalar = string | number | boolean;

export interface PropertyFilter {
  property: string;
  op: FilterOp;
  /** An array only for `in`; a number for `gt`/`lt`. */
  value: FilterScalar | FilterScalar[];
}

export interface FunnelStep {
  event: string;
  label: string;
  filters: PropertyFilter[];
  /** Optional per-step window: this step must happen within this long after the previous one. */
  withinMs: number | undefined;
  line: number;
}

/** person = identity-stitched user; property = a property carried by every step (e.g. mission_id). */
export type FunnelEntity = { kind: 'person' } | { kind: 'property'; property: string };

/**
 * strict: steps happen in the listed order, each strictly after the previous one.
 * any: step 1 happens first (it is the entry), the others in any order after it.
 */
export type OrderMode = 'strict' | 'any';
export type CohortGrain = 'week' | 'month';
export type TimeGrain = 'day' | 'week' | 'month';

export interface FunnelDefinition {
  kind: 'funnel';
  id: string;
  title: string;
  description: string;
  steps: FunnelStep[];
  /** Conversion window, measured from the entity's entry into step 1. */
  windowMs: number;
  order: OrderMode;
  entity: FunnelEntity;
  /** Default breakdown property (overridable per request). */
  breakdown: string | undefined;
  cohort: CohortGrain;
  file: string;
  line: number;
}

interface MetricBase {
  kind: 'metric';
  id: string;
  title: string;
  description: string;
  grain: TimeGrain;
  /** Unit shown next to the value, e.g. "%" or "€"; free text. */
  unit: string;
  file: string;
  line: number;
}

export interface EventMetricSource {
  event: string;
  filters: PropertyFilter[];
  /** Optional property to split the series by (ad-hoc trends; a tile shows the total). */
  breakdown?: string | undefined;
}

export type MetricDefinition =
  | (MetricBase & { type: 'count' } & EventMetricSource)
  | (MetricBase & { type: 'unique_persons' } & EventMetricSource)
  | (MetricBase & { type: 'average'; property: string } & EventMetricSource)
  | (MetricBase & { type: 'sum'; property: string } & EventMetricSource)
  | (MetricBase & { type: 'ratio'; numerator: string; denominator: string });

export type EventMetric = Exclude<MetricDefinition, { type: 'ratio' }>;

export interface KpiDefinitions {
  funnels: FunnelDefinition[];
  metrics: MetricDefinition[];
}
