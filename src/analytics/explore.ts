/**
 * Ad-hoc questions from the dashboard's Explore page. A question arrives as the very object a
 * kpis/*.yaml entry would hold; it is written out as YAML and read back through the same parser
 * and plan lint as `balise plan check`, so what can be explored is exactly what can be saved, and
 * the YAML shown on screen is the text that was validated.
 */
import { stringify } from 'yaml';
import type { LintMessage } from '../plan/model.ts';
import type { TrackingPlan } from '../plan/model.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';
import { FUNNEL_KEYS, METRIC_KEYS, parseKpiFile, STEP_KEYS } from './kpi-parse.ts';
import { lintDefinitionsAgainstPlan } from './kpi-lint.ts';
import { withEventKinds } from './definitions.ts';
import { AnalyticsInputError, KpiDefinitionError } from './errors.ts';
import { compileFunnel } from './funnel-sql.ts';
import { compileTrend } from './metric-sql.ts';
import type { EventMetric, FunnelDefinition, MetricDefinition, TimeGrain } from './model.ts';
import { bucketStarts, isIncomplete } from '../util/periods.ts';
import { DEFAULT_TIME_ZONE } from '../util/zone.ts';
import type { TimeRange } from './sql-common.ts';
import { isPlainObject } from '../util/objects.ts';

export type AdHocKind = 'metric' | 'funnel';

type Obj = Record<string, unknown>;
const isObj: (v: unknown) => v is Obj = isPlainObject;

/** Copies the known keys in file order; an unknown key is refused rather than silently dropped. */
function ordered(raw: Obj, keys: readonly string[], where: string): Obj {
  const unknown = Object.keys(raw).filter((k) => !keys.includes(k));
  if (unknown.length) throw new AnalyticsInputError('explore_invalid', `${where}: unknown key(s) ${unknown.join(', ')} (expected ${keys.join(', ')})`);
  const out: Obj = {};
  // Defaults stay out of the YAML shown for review: `optional: false`, `exclude: []`.
  const isDefault = (v: unknown): boolean => v === undefined || v === '' || v === false || (Array.isArray(v) && v.length === 0);
  for (const key of keys) if (!isDefault(raw[key])) out[key] = raw[key];
  return out;
}

/** The YAML text of one definition, as a kpis/*.yaml file holding it alone. */
export function definitionYaml(kind: AdHocKind, raw: unknown): string {
  if (!isObj(raw)) throw new AnalyticsInputError('explore_invalid', 'send the definition as a JSON object, as it would be written in kpis/*.yaml');
  let entry: Obj;
  if (kind === 'metric') {
    entry = ordered(raw, METRIC_KEYS, 'metric');
  } else {
    entry = ordered(raw, FUNNEL_KEYS, 'funnel');
    if (Array.isArray(entry.steps)) entry.steps = entry.steps.map((s: unknown, i) => (isObj(s) ? ordered(s, STEP_KEYS, `step ${i + 1}`) : s));
  }
  return stringify({ [kind === 'metric' ? 'metrics' : 'funnels']: [entry] }, { lineWidth: 0 });
}

export interface AdHocDefinition<D> {
  definition: D;
  /** Ready to paste into tracking-plan/kpis/ (it passes `balise plan check`). */
  yaml: string;
  warnings: LintMessage[];
}

const FILE = 'kpis/explore.yaml';

/** Parses and lints like `balise plan check`; any error refuses the question with every message. */
function validate(kind: AdHocKind, raw: unknown, plan: TrackingPlan): { yaml: string; metric?: MetricDefinition | undefined; funnel?: FunnelDefinition | undefined; warnings: LintMessage[] } {
  const yaml = definitionYaml(kind, raw);
  const { definitions, messages } = parseKpiFile(FILE, yaml);
  const all = [...messages, ...lintDefinitionsAgainstPlan(plan, definitions)];
  const errors = all.filter((m) => m.severity === 'error');
  if (errors.length) throw new KpiDefinitionError(`invalid definition: ${errors.map((m) => m.message).join('; ')}`, errors);
  const warnings = all.filter((m) => m.severity !== 'error');
  const counted = withEventKinds(definitions, plan);
  return { yaml, metric: counted.metrics[0], funnel: counted.funnels[0], warnings };
}

export function adHocMetric(raw: unknown, plan: TrackingPlan): AdHocDefinition<EventMetric> {
  const { yaml, metric, warnings } = validate('metric', raw, plan);
  if (!metric) throw new AnalyticsInputError('explore_invalid', 'send one metric');
  if (metric.type === 'ratio') throw new AnalyticsInputError('explore_invalid', 'a ratio refers to other metrics: explore its numerator and denominator, then write the ratio in kpis/*.yaml');
  return { definition: metric, yaml, warnings };
}

export function adHocFunnel(raw: unknown, plan: TrackingPlan): AdHocDefinition<FunnelDefinition> {
  const { yaml, funnel, warnings } = validate('funnel', raw, plan);
  if (!funnel) throw new AnalyticsInputError('explore_invalid', 'send one funnel');
  return { definition: funnel, yaml, warnings };
}

export interface TrendSeries {
  /** The breakdown value ('' without a breakdown; '(none)' for events lacking the property). */
  value: string;
  total: number | null;
  /** Aligned with TrendResult.buckets; null for an average over no event. */
  values: (number | null)[];
}

export interface TrendResult {
  id: string;
  type: EventMetric['type'];
  grain: TimeGrain;
  from: string;
  to: string;
  /** The project time zone the buckets follow. */
  timeZone: string;
  breakdown: string | null;
  /** Every bucket start of the range (local YYYY-MM-DD), empty ones included. */
  buckets: string[];
  /** Buckets not wholly inside the range or not over yet: their value is partial. */
  incomplete: boolean[];
  /** Largest total first, at most `MAX_SERIES`. */
  series: TrendSeries[];
  /** Breakdown values left out beyond `MAX_SERIES`. */
  otherValues: number;
}

const MAX_SERIES = 10;

/** Runs an ad-hoc trend through the metric compiler. */
export async function runTrend(warehouse: Warehouse, metric: EventMetric, range: TimeRange, now: number = Date.now()): Promise<TrendResult> {
  const q = compileTrend(metric, range, metric.grain);
  const rows = await queryRows<{ key: string; bd: string; value: number | string | null }>(warehouse, q.sql, q.params);
  const zone = range.timeZone ?? DEFAULT_TIME_ZONE;
  const buckets = bucketStarts(range, metric.grain, zone);
  const index = new Map(buckets.map((b, i) => [b, i]));
  const empty = metric.type === 'average' ? null : 0;
  const byValue = new Map<string, TrendSeries>();
  for (const row of rows) {
    const label = metric.breakdown ? (row.bd === '' ? '(none)' : row.bd) : '';
    const series = byValue.get(label) ?? { value: label, total: empty, values: buckets.map(() => empty) };
    byValue.set(label, series);
    const v = row.value === null || !Number.isFinite(Number(row.value)) ? null : Number(row.value);
    if (row.key === 'total') series.total = v;
    else {
      const i = index.get(row.key.slice(0, 10));
      if (i !== undefined) series.values[i] = v;
    }
  }
  const all = [...byValue.values()].sort((a, b) => (b.total ?? -Infinity) - (a.total ?? -Infinity) || a.value.localeCompare(b.value));
  return {
    id: metric.id,
    type: metric.type,
    grain: metric.grain,
    from: new Date(range.fromMs).toISOString(),
    to: new Date(range.toMs).toISOString(),
    timeZone: zone,
    breakdown: metric.breakdown ?? null,
    buckets,
    incomplete: buckets.map((b) => isIncomplete(b, metric.grain, range, now, zone)),
    series: all.slice(0, MAX_SERIES),
    otherValues: Math.max(0, all.length - MAX_SERIES),
  };
}

export interface FunnelEntityRow {
  entity: string;
  /** When the entity entered step 1 (ISO). */
  entered: string;
}

/**
 * The entities that reached step `step - 1` but not `step` (1-based, ≥ 2): who dropped off
 * before that step, earliest entries first, at most `limit`.
 */
export async function funnelDropOffs(warehouse: Warehouse, def: FunnelDefinition, range: TimeRange, step: number, limit = 200): Promise<{ entities: FunnelEntityRow[]; truncated: boolean }> {
  if (!Number.isInteger(step) || step < 2 || step > def.steps.length) {
    throw new AnalyticsInputError('invalid_parameter', `step must be between 2 and ${def.steps.length}`);
  }
  const q = compileFunnel(def, { ...range, entitiesAtLevel: step - 1, limit: limit + 1 });
  const rows = await queryRows<{ entity: string; t0: number | string }>(warehouse, q.sql, q.params);
  return {
    entities: rows.slice(0, limit).map((r) => ({ entity: r.entity, entered: new Date(Number(r.t0)).toISOString() })),
    truncated: rows.length > limit,
  };
}
