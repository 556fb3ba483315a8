/**
 * Executes compiled analytics queries against a Warehouse and shapes the answers. The HTTP
 * routes and the dashboard call these; the CLI reaches them through the HTTP API.
 */
import type { TrackingPlan } from '../plan/model.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';
import { AnalyticsInputError, FunnelNotFoundError, RetentionNotFoundError } from './errors.ts';
import { compileFunnel } from './funnel-sql.ts';
import { compileMetrics, scanKey, valueColumn } from './metric-sql.ts';
import {
  breakdownLabel,
  parseBreakdown,
  type Attribution,
  type BreakdownSpec,
  type EventMetric,
  type FunnelDefinition,
  type FunnelStep,
  type KpiDefinitions,
  type MetricDefinition,
  type PropertyFilter,
  type RetentionDefinition,
  type TimeGrain,
} from './model.ts';
import { checkNoAdminTables, checkSingleQuery, sqlResultValue, statementSyntaxError, wrapReadOnly, type ReadOnlyLimits } from './readonly-sql.ts';
import { bucketStarts, cohortIncomplete } from '../util/periods.ts';
import { zonedMidnight } from '../util/zone.ts';
import type { FunnelGroupResult, FunnelResult, KpiPoint, KpiResult, RetentionResult, SqlResult } from './results.ts';
import { compileRetention } from './retention-sql.ts';
import { shapeRetention, type RetentionRow } from './retention-shape.ts';
import { rangeInfo, resolveRange, type CompiledQuery, type TimeRange } from './sql-common.ts';

const select = <T>(warehouse: Warehouse, q: CompiledQuery): Promise<T[]> => queryRows<T>(warehouse, q.sql, q.params);

type FunnelRow = { dim: string; value: string } & Record<string, string | number | null | number[]>;

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);

export interface FunnelOptions {
  from?: string | undefined;
  to?: string | undefined;
  /** `property`, `person.trait` or `group.trait`; default: the definition's own; null: none, even where the definition has one. */
  breakdown?: string | null | undefined;
  /** `first` (default: the entry event's value) or `last` (the last reached step's). */
  attribution?: string | undefined;
  /** When given, the breakdown is checked against it: an unknown property is refused, not "(none)". */
  plan?: TrackingPlan | undefined;
  /** For tests and reproducible reports: the "now" that ends a default range. */
  now?: number;
  /** The project time zone (IANA): days, weeks and months of the range and cohorts; default UTC. */
  timeZone?: string | undefined;
}

/** Builds the result from the rows of compileFunnel (exported for unit tests). */
export function shapeFunnel(
  def: FunnelDefinition,
  range: TimeRange & { isDefault?: boolean },
  breakdown: { spec: BreakdownSpec; attribution: Attribution } | undefined,
  rows: FunnelRow[],
  now: number = Date.now(),
): FunnelResult {
  const n = def.steps.length;
  const countsOf = (row: FunnelRow | undefined): number[] => [num(row?.entered), ...Array.from({ length: n - 1 }, (_, k) => num(row?.[`reached_${k + 2}`]))];
  const group = (row: FunnelRow): FunnelGroupResult => {
    const counts = countsOf(row);
    return { value: row.value, entered: counts[0] as number, counts, conversion: ratio(counts[n - 1] as number, counts[0] as number) };
  };
  const total = rows.find((r) => r.dim === 'total');
  const counts = countsOf(total);
  const entered = counts[0] as number;
  const steps = def.steps.map((step, i) => {
    const count = counts[i] as number;
    // Optional steps are skippable: a step is measured from the last required step before it.
    let from = i - 1;
    while (from > 0 && def.steps[from]?.optional) from--;
    const previous = i === 0 ? count : (counts[from] as number);
    const median = i === 0 || !total || count === 0 ? null : total[`median_ms_${i + 1}`];
    return {
      index: i + 1,
      event: step.event,
      label: step.label,
      count,
      optional: step.optional,
      previousStep: i === 0 ? 0 : from + 1,
      conversionFromPrevious: i === 0 ? (count > 0 ? 1 : 0) : ratio(count, previous),
      conversionFromStart: ratio(count, entered),
      dropOff: i === 0 ? 0 : previous - count,
      medianMsFromPrevious: median === null || median === undefined ? null : Math.round(Number(median)),
      withinMs: step.withinMs ?? null,
      exclude: step.exclude.map(exclusionText),
    };
  });
  const ttc = Array.isArray(total?.ttc) ? (total.ttc as unknown[]).map((v) => Math.round(Number(v))) : [];
  const converted = counts[n - 1] as number;
  return {
    id: def.id,
    title: def.title,
    description: def.description,
    entity: def.entity,
    order: def.order,
    windowMs: def.windowMs,
    from: new Date(range.fromMs).toISOString(),
    to: new Date(range.toMs).toISOString(),
    range: rangeInfo(range),
    entered,
    converted,
    conversion: ratio(converted, entered),
    steps,
    timeToConvert: converted > 0 && ttc.length === 5 ? { p10: ttc[0] as number, p25: ttc[1] as number, median: ttc[2] as number, p75: ttc[3] as number, p90: ttc[4] as number } : null,
    breakdown: breakdown
      ? {
          property: breakdownLabel(breakdown.spec),
          source: breakdown.spec.source,
          attribution: breakdown.attribution,
          groups: rows
            .filter((r) => r.dim === 'breakdown')
            .map(group)
            .sort((a, b) => b.entered - a.entered || a.value.localeCompare(b.value)),
        }
      : null,
    cohorts: {
      grain: def.cohort,
      rows: rows.filter((r) => r.dim === 'cohort').map((r) => ({ ...group(r), incomplete: cohortIncomplete(r.value, def.cohort, def.windowMs, range, now, range.timeZone) })),
    },
  };
}

export function findFunnel(definitions: KpiDefinitions, id: string): FunnelDefinition {
  const def = definitions.funnels.find((f) => f.id === id);
  if (!def)
    throw new FunnelNotFoundError(
      id,
      definitions.funnels.map((f) => f.id),
    );
  return def;
}

/**
 * The breakdown asked for, checked: a property the entry step's event does not declare (or, for
 * last touch, none of the steps' events), a trait the plan does not list, or a group trait never
 * seen is refused with `unknown_breakdown_property` instead of answering "(none)" for everyone.
 */
async function checkedBreakdown(warehouse: Warehouse, def: FunnelDefinition, opts: FunnelOptions): Promise<{ spec: BreakdownSpec; attribution: Attribution } | undefined> {
  const raw = opts.breakdown === null ? undefined : opts.breakdown || def.breakdown;
  const attribution = (opts.attribution || def.attribution) as Attribution;
  if (attribution !== 'first' && attribution !== 'last') throw new AnalyticsInputError('invalid_attribution', `attribution must be "first" or "last", got "${attribution}"`);
  if (raw === undefined) return undefined;
  const spec = parseBreakdown(raw);
  if (!spec) throw new AnalyticsInputError('invalid_breakdown', `breakdown "${raw}" is not a property name (use property, person.trait or group.trait)`);
  // A funnel of missions (entity: mission_id) has no person to read a trait of: every row would be (none).
  if (spec.source !== 'event' && def.entity.kind !== 'person') {
    throw new AnalyticsInputError(
      'invalid_breakdown',
      `breakdown "${raw}" reads a person's or group's trait, but funnel ${def.id} counts ${def.entity.property} values, not persons: break it down by an event property`,
    );
  }
  if (spec.source === 'group') {
    const [seen] = await queryRows<{ n: number | string }>(warehouse, `SELECT count() AS n FROM (SELECT 1 FROM events WHERE type = 'group' AND JSONHas(traits, {key:String}) LIMIT 1)`, {
      key: spec.property,
    });
    if (Number(seen?.n ?? 0) === 0) throw new AnalyticsInputError('unknown_breakdown_property', `no group call has ever carried the trait "${spec.property}"`);
    return { spec, attribution };
  }
  const plan = opts.plan;
  if (!plan) return { spec, attribution };
  if (spec.source === 'person') {
    if (!(spec.property in plan.traits.properties)) {
      throw new AnalyticsInputError('unknown_breakdown_property', `"${spec.property}" is not a planned identify trait (traits: ${Object.keys(plan.traits.properties).join(', ') || 'none'})`);
    }
    return { spec, attribution };
  }
  const events = new Map(plan.events.map((e) => [e.name, e]));
  const steps = attribution === 'first' ? def.steps.slice(0, 1) : def.steps;
  if (!steps.some((s) => spec.property in (events.get(s.event)?.properties ?? {}))) {
    const where = attribution === 'first' ? `the entry event "${def.steps[0]?.event}" (first touch)` : `any step event (last touch)`;
    const hint = spec.property in plan.traits.properties ? `; to break down by the person's trait, use person.${spec.property}` : '';
    throw new AnalyticsInputError('unknown_breakdown_property', `breakdown "${spec.property}" is not a property of ${where}${hint}`);
  }
  return { spec, attribution };
}

/** Answers one funnel over [from, to) (default: the last 90 days), optionally broken down. */
const OP_TEXT: Record<PropertyFilter['op'], string> = { eq: '=', neq: '≠', in: 'in', gt: '>', lt: '<' };

/** An exclusion as the step rules say it: its event, and its filter when it has one ("declined where reason = rate_too_low"). */
function exclusionText(x: FunnelStep['exclude'][number]): string {
  if (!x.filters.length) return x.event;
  const value = (v: PropertyFilter['value']) => (Array.isArray(v) ? `[${v.join(', ')}]` : String(v));
  return `${x.event} where ${x.filters.map((f) => `${f.property} ${OP_TEXT[f.op]} ${value(f.value)}`).join(' and ')}`;
}

export async function runFunnel(warehouse: Warehouse, definitions: KpiDefinitions, id: string, opts: FunnelOptions = {}): Promise<FunnelResult> {
  const def = findFunnel(definitions, id);
  const range = resolveRange(opts, opts.now);
  const breakdown = await checkedBreakdown(warehouse, def, opts);
  const rows = await select<FunnelRow>(warehouse, compileFunnel(def, { ...range, breakdown: breakdown?.spec, attribution: breakdown?.attribution }));
  return shapeFunnel(def, range, breakdown, rows, opts.now);
}

interface MetricValues {
  current: number | null;
  previous: number | null;
  buckets: Map<string, number | null>;
}

/** A metric's values from the rows of its query, read in `column`. */
function valuesFrom(metric: EventMetric, rows: readonly Record<string, unknown>[], column: string): MetricValues {
  const values: MetricValues = { current: null, previous: null, buckets: new Map() };
  for (const row of rows) {
    const raw = row[column];
    const v = raw === null || raw === undefined || !Number.isFinite(Number(raw)) ? null : Number(raw);
    if (row.key === 'current') values.current = v;
    else if (row.key === 'previous') values.previous = v;
    else values.buckets.set(String(row.key), v);
  }
  // Counts over an empty period are 0, not unknown; averages stay null.
  if (metric.type !== 'average') {
    values.current ??= 0;
    values.previous ??= 0;
  }
  return values;
}

const valuesKey = (metric: EventMetric, grain: TimeGrain) => `${metric.id}@${grain}`;

/**
 * The values of each metric at each grain asked, keyed by valuesKey. Metrics of the same event,
 * filters and grain share one query: their rows are read and folded once, not once per KPI.
 */
async function metricValues(warehouse: Warehouse, asked: readonly { metric: EventMetric; grain: TimeGrain }[], range: TimeRange): Promise<Map<string, MetricValues>> {
  const scans = new Map<string, { metrics: EventMetric[]; grain: TimeGrain }>();
  for (const { metric, grain } of asked) {
    const key = `${scanKey(metric)} ${grain}`;
    const scan = scans.get(key) ?? { metrics: [], grain };
    if (!scan.metrics.some((m) => m.id === metric.id)) scan.metrics.push(metric);
    scans.set(key, scan);
  }
  const values = new Map<string, MetricValues>();
  await Promise.all(
    [...scans.values()].map(async ({ metrics, grain }) => {
      const rows = await select<Record<string, unknown>>(warehouse, compileMetrics(metrics, range, grain));
      metrics.forEach((metric, i) => values.set(valuesKey(metric, grain), valuesFrom(metric, rows, valueColumn(i))));
    }),
  );
  return values;
}

const divide = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);

/** Every metric's value over [from, to) (default: the last 90 days), the previous period and a series. */
export async function runKpis(
  warehouse: Warehouse,
  definitions: KpiDefinitions,
  opts: { from?: string | undefined; to?: string | undefined; now?: number; timeZone?: string | undefined } = {},
): Promise<KpiResult[]> {
  const now = opts.now ?? Date.now();
  const range = resolveRange(opts, now);
  const period: KpiResult['period'] = range.fromMs > now ? 'not_started' : range.toMs > now ? 'under_way' : 'complete';
  const byId = new Map<string, MetricDefinition>(definitions.metrics.map((m) => [m.id, m]));
  const operand = (ratio: MetricDefinition & { type: 'ratio' }, id: string): EventMetric => {
    const metric = byId.get(id);
    if (!metric || metric.type === 'ratio') throw new AnalyticsInputError('invalid_ratio', `metric ${ratio.id}: ratio operands must be event metrics`);
    return metric;
  };
  // A ratio's operands are usually KPIs of their own at the same grain: each is computed once.
  const asked = definitions.metrics.flatMap((metric) =>
    metric.type === 'ratio' ? [metric.numerator, metric.denominator].map((id) => ({ metric: operand(metric, id), grain: metric.grain })) : [{ metric, grain: metric.grain }],
  );
  const computed = await metricValues(warehouse, asked, range);
  const valuesOf = (metric: EventMetric, grain: TimeGrain): MetricValues => computed.get(valuesKey(metric, grain))!;
  const results: KpiResult[] = [];
  for (const metric of definitions.metrics) {
    let values: MetricValues;
    if (metric.type === 'ratio') {
      const a = valuesOf(operand(metric, metric.numerator), metric.grain);
      const b = valuesOf(operand(metric, metric.denominator), metric.grain);
      const buckets = new Map<string, number | null>();
      for (const key of new Set([...a.buckets.keys(), ...b.buckets.keys()])) buckets.set(key, divide(a.buckets.get(key) ?? 0, b.buckets.get(key) ?? 0));
      values = { current: divide(a.current, b.current), previous: divide(a.previous, b.previous), buckets };
    } else {
      values = valuesOf(metric, metric.grain);
    }
    // Every bucket of the range, as Explore draws them: a period without events is 0 (a count, a
    // sum) or no value (an average, a ratio), not left out for a line to be drawn across.
    const empty = metric.type === 'average' || metric.type === 'ratio' ? null : 0;
    // A bucket that has not started has no value yet: not a drop to 0 on a chart.
    const series: KpiPoint[] = bucketStarts(range, metric.grain, range.timeZone).map((bucket) => ({
      bucket,
      value: zonedMidnight(bucket, range.timeZone) > now ? null : (values.buckets.get(bucket) ?? empty),
    }));
    results.push({
      id: metric.id,
      title: metric.title,
      description: metric.description,
      type: metric.type,
      unit: metric.unit,
      grain: metric.grain,
      from: new Date(range.fromMs).toISOString(),
      to: new Date(range.toMs).toISOString(),
      range: rangeInfo(range),
      value: period === 'not_started' ? null : values.current,
      previous: values.previous,
      change: period !== 'not_started' && values.current !== null && values.previous ? (values.current - values.previous) / values.previous : null,
      period,
      series,
    });
  }
  return results;
}

export function findRetention(definitions: KpiDefinitions, id: string): RetentionDefinition {
  const def = definitions.retention.find((r) => r.id === id);
  if (!def)
    throw new RetentionNotFoundError(
      id,
      definitions.retention.map((r) => r.id),
    );
  return def;
}

export interface RetentionOptions {
  from?: string | undefined;
  to?: string | undefined;
  /** The end of observation; also what ends a default range. */
  now?: number;
  /** The project time zone (IANA) of cohorts and periods; default UTC. */
  timeZone?: string | undefined;
}

/** Runs a retention definition (from kpis/*.yaml, or built ad hoc by the API): cohorts entered in [from, to). */
export async function runRetentionDefinition(warehouse: Warehouse, def: RetentionDefinition, opts: RetentionOptions = {}): Promise<RetentionResult> {
  const asOfMs = opts.now ?? Date.now();
  const range = resolveRange(opts, asOfMs);
  const rows = await select<RetentionRow>(warehouse, compileRetention(def, { ...range, asOfMs }));
  return shapeRetention(def, range, asOfMs, rows);
}

export async function runRetention(warehouse: Warehouse, definitions: KpiDefinitions, id: string, opts: RetentionOptions = {}): Promise<RetentionResult> {
  return runRetentionDefinition(warehouse, findRetention(definitions, id), opts);
}

/**
 * Runs one analyst query read-only (readonly=1 in the query's own SETTINGS), bounded in time,
 * rows and memory. Multi-statements and non-SELECT text are rejected before reaching ClickHouse.
 */
export async function runReadOnlySql(warehouse: Warehouse, sql: string, limits: ReadOnlyLimits): Promise<SqlResult> {
  const statement = checkSingleQuery(sql);
  if (limits.hideAdminTables) checkNoAdminTables(statement);
  // One JSON document carrying its column metadata: nothing to infer from line positions.
  // The analyst lane: a slow ad-hoc query must not hold the dashboard or the worker's inserts.
  let body: { meta?: { name: string; type: string }[]; data: unknown[][]; totals?: unknown[] };
  try {
    const result = await warehouse.analyst.query({ query: wrapReadOnly(statement, limits), format: 'JSONCompact' });
    body = await result.json<unknown[]>();
  } catch (error) {
    if (error instanceof Error) error.message = statementSyntaxError(error.message, statement);
    throw error;
  }
  const columns = (body.meta ?? []).map(({ name, type }) => ({ name, type }));
  const maxRows = Math.max(1, Math.floor(limits.maxRows));
  const typed = (row: unknown[]) => row.map((value, i) => sqlResultValue(value, columns[i]?.type ?? ''));
  const rows = body.data.slice(0, maxRows).map(typed);
  return { columns, rows, truncated: body.data.length > maxRows, ...(body.totals ? { totals: typed(body.totals) } : {}) };
}
