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

/**
 * The call type an event name is counted on: a track event unless the plan declares that name a
 * page or a screen (set from the plan when definitions are loaded, `withEventKinds`). A page
 * view named like a track event is not that event.
 */
export type EventKind = 'track' | 'page' | 'screen';

/** An event a definition counts, with its filters. */
export interface EventRef {
  event: string;
  filters: PropertyFilter[];
  /** Absent: track. */
  callType?: EventKind | undefined;
}

export interface FunnelStep extends EventRef {
  event: string;
  label: string;
  filters: PropertyFilter[];
  /** Optional per-step window: this step must happen within this long after the previous one. */
  withinMs: number | undefined;
  /**
   * Exclusions: the step counts only if none of these events happened between the moment the
   * previous step was reached (any order: the entry) and this step ("… without a declined
   * proposal in between").
   */
  exclude: EventRef[];
  /**
   * Counted when it happens, skippable: later steps are measured from the last required step
   * before them (decision 0036). Never the first or the last step.
   */
  optional: boolean;
  line: number;
}

/** person = identity-stitched user; property = a property carried by every step (e.g. mission_id). */
export type FunnelEntity = { kind: 'person' } | { kind: 'property'; property: string };

/**
 * strict: steps happen in the listed order, each strictly after the previous one.
 * any: step 1 happens first (it is the entry), the others in any order after it.
 */
export type OrderMode = 'strict' | 'any';

/**
 * What a funnel is broken down by: a property of the step events (`category`), a trait of the
 * person from their latest identify (`person.category`), or a trait of the person's group from
 * its latest group call (`group.company_size`).
 */
export type BreakdownSpec = { source: 'event'; property: string } | { source: 'person'; property: string } | { source: 'group'; property: string };

/** first: the value on the entry (step 1) event; last: on the event of the last step reached. */
export type Attribution = 'first' | 'last';

/** `person.x`, `group.x` or `x` → a spec; undefined when it is none of these. */
export function parseBreakdown(raw: string): BreakdownSpec | undefined {
  const m = /^(?:(person|group)\.)?([A-Za-z_][A-Za-z0-9_]{0,127})$/.exec(raw);
  if (!m) return undefined;
  return { source: (m[1] ?? 'event') as BreakdownSpec['source'], property: m[2] as string };
}

export const breakdownLabel = (b: BreakdownSpec): string => (b.source === 'event' ? b.property : `${b.source}.${b.property}`);
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
  /** Default breakdown: `property`, `person.trait` or `group.trait` (overridable per request). */
  breakdown: string | undefined;
  /** Whose value a breakdown takes: the entry event's (first, default) or the last reached step's. */
  attribution: Attribution;
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

export interface EventMetricSource extends EventRef {
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

/** An event that starts or renews retention, with its own filters. */
export type RetentionEvent = EventRef;

/**
 * Retention as code: entities (stitched persons, or a property such as mission_id) enter a
 * cohort at their first start event in the range; period k counts those with a return event
 * strictly after that start, in the k-th calendar bucket (day/week/month) after the cohort's.
 */
export interface RetentionDefinition {
  kind: 'retention';
  id: string;
  title: string;
  description: string;
  start: RetentionEvent;
  return: RetentionEvent;
  grain: TimeGrain;
  /** Number of periods shown: 0 (the start's own bucket) to periods − 1. */
  periods: number;
  entity: FunnelEntity;
  file: string;
  line: number;
}

export interface KpiDefinitions {
  funnels: FunnelDefinition[];
  metrics: MetricDefinition[];
  retention: RetentionDefinition[];
}
