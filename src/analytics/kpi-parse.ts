/**
 * Parses the text of one tracking-plan/kpis/*.yaml into typed definitions. Structural problems
 * are reported as file:line LintMessages (a bad definition is a result, not an exception). Pure:
 * it is given the text; definitions.ts reads the files.
 */
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { SNAKE } from '../plan/file-schemas.ts';
import type { LintMessage } from '../plan/model.ts';
import { nodeLine, yamlErrorMessage } from '../plan/yaml.ts';
import { isPlainObject } from '../util/objects.ts';
import {
  IDENTIFIER,
  parseBreakdown,
  type CohortGrain,
  type FilterOp,
  type FilterScalar,
  type FunnelDefinition,
  type FunnelStep,
  type KpiDefinitions,
  type MetricDefinition,
  type OrderMode,
  type PropertyFilter,
  type RetentionDefinition,
  type RetentionEvent,
  type TimeGrain,
} from './model.ts';

/** KPI ids are the plan's snake_case (events list them under `kpis:`), at most 64 characters. */
const SNAKE_CASE = new RegExp(SNAKE);
const isKpiId = (id: unknown): id is string => typeof id === 'string' && id.length <= 64 && SNAKE_CASE.test(id);
const DURATION = /^(\d+)\s*(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const FILTER_OPS: readonly FilterOp[] = ['eq', 'neq', 'in', 'gt', 'lt'];

/** "30d" → milliseconds; undefined when not a duration. */
export function parseDuration(raw: unknown): number | undefined {
  if (typeof raw !== 'string') return undefined;
  const m = DURATION.exec(raw.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return ms > 0 ? ms : undefined;
}

const isScalar = (v: unknown): v is FilterScalar => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** Collects messages while parsing one file; `at` gives the line of a YAML node. */
class FileContext {
  readonly messages: LintMessage[] = [];
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}
  line(node: unknown): number {
    return nodeLine(this.lines, node);
  }
  error(line: number, rule: string, message: string): void {
    this.messages.push({ file: this.file, line, rule, message, severity: 'error' });
  }
}

function seqItem(node: unknown, index: number): unknown {
  return isSeq(node) ? node.items[index] : undefined;
}
function mapValue(node: unknown, key: string): unknown {
  return isMap(node) ? node.get(key, true) : undefined;
}

function parseFilters(raw: unknown, where: string, line: number, ctx: FileContext): PropertyFilter[] {
  if (raw === undefined) return [];
  if (!isPlainObject(raw)) {
    ctx.error(line, 'kpi_filter', `${where}: "where" must map property names to a value or {op: value}`);
    return [];
  }
  const filters: PropertyFilter[] = [];
  for (const [property, spec] of Object.entries(raw)) {
    if (!IDENTIFIER.test(property)) {
      ctx.error(line, 'kpi_identifier', `${where}: property "${property}" is not a valid identifier`);
      continue;
    }
    if (isScalar(spec)) {
      filters.push({ property, op: 'eq', value: spec });
      continue;
    }
    if (!isPlainObject(spec) || Object.keys(spec).length !== 1) {
      ctx.error(line, 'kpi_filter', `${where}: filter on "${property}" must be a value or one of {${FILTER_OPS.join('|')}: value}`);
      continue;
    }
    const [op, value] = Object.entries(spec)[0] as [string, unknown];
    if (!FILTER_OPS.includes(op as FilterOp)) {
      ctx.error(line, 'kpi_filter', `${where}: unknown filter operator "${op}" on "${property}" (use ${FILTER_OPS.join(', ')})`);
    } else if (op === 'in' ? !(Array.isArray(value) && value.length > 0 && value.every(isScalar) && new Set(value.map((v) => typeof v)).size === 1) : !isScalar(value)) {
      ctx.error(line, 'kpi_filter', `${where}: "${op}" on "${property}" needs ${op === 'in' ? 'a non-empty list of values of one type' : 'a single value'}`);
    } else if ((op === 'gt' || op === 'lt') && typeof value !== 'number') {
      ctx.error(line, 'kpi_filter', `${where}: "${op}" on "${property}" needs a number`);
    } else {
      filters.push({ property, op: op as FilterOp, value: value as FilterScalar | FilterScalar[] });
    }
  }
  return filters;
}

/** The keys of each kind of entry, in the order a file writes them (Explore's YAML follows it). */
export const METRIC_KEYS = ['id', 'title', 'description', 'type', 'event', 'property', 'where', 'breakdown', 'numerator', 'denominator', 'grain', 'unit'] as const;
export const FUNNEL_KEYS = ['id', 'title', 'description', 'entity', 'order', 'window', 'breakdown', 'attribution', 'cohort', 'steps'] as const;
export const STEP_KEYS = ['event', 'label', 'where', 'within', 'optional', 'exclude'] as const;
const RETENTION_KEYS = ['id', 'title', 'description', 'entity', 'start', 'return', 'grain', 'periods'] as const;
const EVENT_SPEC_KEYS = ['event', 'where'] as const;

/** A ratio names two metrics; the other types read an event (and sum and average a property). */
function metricKeys(type: unknown): readonly string[] {
  const eventOnly: readonly string[] = ['event', 'property', 'where', 'breakdown'];
  if (type === 'ratio') return METRIC_KEYS.filter((k) => !eventOnly.includes(k));
  return METRIC_KEYS.filter((k) => k !== 'numerator' && k !== 'denominator' && (k !== 'property' || type === 'sum' || type === 'average'));
}

/** What a misspelt or borrowed key most likely meant (`filters:` is other tools' name for `where:`). */
const MEANT: Record<string, string> = { filters: 'where', filter: 'where', conditions: 'where', name: 'title', metric: 'type', aggregation: 'type', period: 'grain', interval: 'grain' };

/**
 * A key the definition does not know is an error, not ignored: `filters: {by: company}` instead
 * of `where:` would otherwise count every event under the filtered KPI's name.
 */
function checkKeys(raw: Record<string, unknown>, known: readonly string[], where: string, node: unknown, line: number, ctx: FileContext): void {
  for (const key of Object.keys(raw)) {
    if (known.includes(key)) continue;
    const keyNode = isMap(node) ? node.items.find((pair) => (pair.key as { value?: unknown } | null)?.value === key)?.key : undefined;
    const meant = MEANT[key];
    const hint = meant && known.includes(meant) ? `: did you mean "${meant}"?` : ` (known: ${known.join(', ')})`;
    ctx.error(keyNode ? ctx.line(keyNode) : line, 'kpi_unknown_key', `${where}: unknown key "${key}"${hint}`);
  }
}

function text(raw: Record<string, unknown>, key: string, fallback = ''): string {
  const v = raw[key];
  return typeof v === 'string' ? v : fallback;
}

function parseFunnel(raw: unknown, node: unknown, ctx: FileContext): FunnelDefinition | undefined {
  const line = ctx.line(node);
  if (!isPlainObject(raw)) return void ctx.error(line, 'kpi_structure', 'a funnel must be a mapping');
  const id = raw.id;
  if (!isKpiId(id)) return void ctx.error(line, 'kpi_id', `funnel id must be snake_case, got ${JSON.stringify(id)}`);
  const where = `funnel ${id}`;
  checkKeys(raw, FUNNEL_KEYS, where, node, line, ctx);
  const windowMs = parseDuration(raw.window ?? '30d');
  if (windowMs === undefined) ctx.error(line, 'kpi_window', `${where}: window must look like 30d, 12h, 2w; got ${JSON.stringify(raw.window)}`);
  const order = (raw.order ?? 'strict') as OrderMode;
  if (order !== 'strict' && order !== 'any') ctx.error(line, 'kpi_order', `${where}: order must be strict or any`);
  const cohort = (raw.cohort ?? 'week') as CohortGrain;
  if (cohort !== 'week' && cohort !== 'month') ctx.error(line, 'kpi_cohort', `${where}: cohort must be week or month`);
  const entity = parseEntity(raw.entity, where, line, ctx);
  const breakdown = raw.breakdown;
  if (breakdown !== undefined && (typeof breakdown !== 'string' || !parseBreakdown(breakdown)))
    ctx.error(line, 'kpi_identifier', `${where}: breakdown must be a property name, person.trait or group.trait`);
  const attribution = raw.attribution ?? 'first';
  if (attribution !== 'first' && attribution !== 'last') ctx.error(line, 'kpi_attribution', `${where}: attribution must be first or last`);
  const stepsNode = mapValue(node, 'steps');
  if (!Array.isArray(raw.steps) || raw.steps.length < 2) {
    ctx.error(line, 'kpi_steps', `${where}: needs at least two steps`);
    return undefined;
  }
  const steps: FunnelStep[] = [];
  const last = raw.steps.length - 1;
  raw.steps.forEach((s: unknown, i: number) => {
    const stepLine = ctx.line(seqItem(stepsNode, i));
    const step = typeof s === 'string' ? { event: s } : s;
    if (!isPlainObject(step) || typeof step.event !== 'string' || !IDENTIFIER.test(step.event)) {
      ctx.error(stepLine, 'kpi_step', `${where}: step ${i + 1} needs an "event" that is a valid event name`);
      return;
    }
    checkKeys(step, STEP_KEYS, `${where} step ${i + 1}`, seqItem(stepsNode, i), stepLine, ctx);
    let withinMs: number | undefined;
    if (step.within !== undefined) {
      withinMs = parseDuration(step.within);
      if (withinMs === undefined) ctx.error(stepLine, 'kpi_window', `${where}: step ${i + 1} "within" must look like 7d`);
      if (i === 0) ctx.error(stepLine, 'kpi_window', `${where}: the first step cannot have "within" (it is the entry)`);
    }
    const exclude: FunnelStep['exclude'] = [];
    if (step.exclude !== undefined) {
      const list = Array.isArray(step.exclude) ? step.exclude : [step.exclude];
      const excludeNode = mapValue(seqItem(stepsNode, i), 'exclude');
      for (const [k, item] of list.entries()) {
        const parsed = parseRetentionEvent(item, 'exclude', `${where} step ${i + 1}`, stepLine, ctx, isSeq(excludeNode) ? seqItem(excludeNode, k) : excludeNode);
        if (parsed) exclude.push(parsed);
      }
      if (i === 0) ctx.error(stepLine, 'kpi_exclude', `${where}: the first step cannot have "exclude" (nothing comes before it)`);
    }
    const optional = step.optional ?? false;
    if (typeof optional !== 'boolean') ctx.error(stepLine, 'kpi_optional', `${where}: step ${i + 1} "optional" must be true or false`);
    else if (optional && i === 0) ctx.error(stepLine, 'kpi_optional', `${where}: the first step cannot be optional (it is the entry)`);
    else if (optional && i === last) ctx.error(stepLine, 'kpi_optional', `${where}: the last step cannot be optional (it defines conversion)`);
    steps.push({
      event: step.event,
      label: text(step, 'label', step.event),
      filters: parseFilters(step.where, `${where} step ${i + 1}`, stepLine, ctx),
      withinMs,
      exclude,
      optional: optional === true,
      line: stepLine,
    });
  });
  return {
    kind: 'funnel',
    id,
    title: text(raw, 'title', id),
    description: text(raw, 'description'),
    steps,
    windowMs: windowMs ?? 0,
    order,
    entity,
    breakdown: typeof breakdown === 'string' ? breakdown : undefined,
    attribution: attribution === 'last' ? 'last' : 'first',
    cohort,
    file: ctx.file,
    line,
  };
}

const GRAINS: readonly TimeGrain[] = ['day', 'week', 'month'];
/** Past a year of days, a cohort table stops being readable and the query grows for nothing. */
export const MAX_RETENTION_PERIODS = 366;

function parseEntity(raw: unknown, where: string, line: number, ctx: FileContext): FunnelDefinition['entity'] {
  if (raw === undefined || raw === 'person') return { kind: 'person' };
  if (typeof raw === 'string' && IDENTIFIER.test(raw)) return { kind: 'property', property: raw };
  ctx.error(line, 'kpi_entity', `${where}: entity must be "person" or a property name`);
  return { kind: 'person' };
}

function parseRetentionEvent(raw: unknown, role: 'start' | 'return' | 'exclude', where: string, line: number, ctx: FileContext, node?: unknown): RetentionEvent | undefined {
  const spec = typeof raw === 'string' ? { event: raw } : raw;
  if (!isPlainObject(spec) || typeof spec.event !== 'string' || !IDENTIFIER.test(spec.event)) {
    ctx.error(line, 'kpi_step', `${where}: "${role}" needs an "event" that is a valid event name`);
    return undefined;
  }
  checkKeys(spec, EVENT_SPEC_KEYS, `${where} ${role}`, node, line, ctx);
  return { event: spec.event, filters: parseFilters(spec.where, `${where} ${role}`, line, ctx) };
}

function parseRetention(raw: unknown, node: unknown, ctx: FileContext): RetentionDefinition | undefined {
  const line = ctx.line(node);
  if (!isPlainObject(raw)) return void ctx.error(line, 'kpi_structure', 'a retention must be a mapping');
  const id = raw.id;
  if (!isKpiId(id)) return void ctx.error(line, 'kpi_id', `retention id must be snake_case, got ${JSON.stringify(id)}`);
  const where = `retention ${id}`;
  checkKeys(raw, RETENTION_KEYS, where, node, line, ctx);
  const grain = (raw.grain ?? 'week') as TimeGrain;
  if (!GRAINS.includes(grain)) ctx.error(line, 'kpi_grain', `${where}: grain must be day, week or month`);
  const periods = raw.periods ?? 8;
  if (typeof periods !== 'number' || !Number.isInteger(periods) || periods < 1 || periods > MAX_RETENTION_PERIODS) {
    ctx.error(line, 'kpi_periods', `${where}: periods must be a whole number from 1 to ${MAX_RETENTION_PERIODS}`);
  }
  const entity = parseEntity(raw.entity, where, line, ctx);
  const start = parseRetentionEvent(raw.start, 'start', where, mapValue(node, 'start') ? ctx.line(mapValue(node, 'start')) : line, ctx, mapValue(node, 'start'));
  const ret = parseRetentionEvent(raw.return, 'return', where, mapValue(node, 'return') ? ctx.line(mapValue(node, 'return')) : line, ctx, mapValue(node, 'return'));
  if (!start || !ret) return undefined;
  return {
    kind: 'retention',
    id,
    title: text(raw, 'title', id),
    description: text(raw, 'description'),
    start,
    return: ret,
    grain,
    periods: typeof periods === 'number' ? periods : 8,
    entity,
    file: ctx.file,
    line,
  };
}

function parseMetric(raw: unknown, node: unknown, ctx: FileContext): MetricDefinition | undefined {
  const line = ctx.line(node);
  if (!isPlainObject(raw)) return void ctx.error(line, 'kpi_structure', 'a metric must be a mapping');
  const id = raw.id;
  if (!isKpiId(id)) return void ctx.error(line, 'kpi_id', `metric id must be snake_case, got ${JSON.stringify(id)}`);
  const where = `metric ${id}`;
  const grain = (raw.grain ?? 'week') as TimeGrain;
  if (!GRAINS.includes(grain)) ctx.error(line, 'kpi_grain', `${where}: grain must be day, week or month`);
  const base = { kind: 'metric' as const, id, title: text(raw, 'title', id), description: text(raw, 'description'), grain, unit: text(raw, 'unit'), file: ctx.file, line };
  const type = raw.type;
  checkKeys(raw, metricKeys(type), where, node, line, ctx);
  if (type === 'ratio') {
    if (typeof raw.numerator !== 'string' || typeof raw.denominator !== 'string') return void ctx.error(line, 'kpi_ratio', `${where}: a ratio needs "numerator" and "denominator" metric ids`);
    return { ...base, type, numerator: raw.numerator, denominator: raw.denominator };
  }
  if (type !== 'count' && type !== 'unique_persons' && type !== 'average' && type !== 'sum') {
    return void ctx.error(line, 'kpi_metric_type', `${where}: type must be count, unique_persons, sum, average or ratio`);
  }
  if (typeof raw.event !== 'string' || !IDENTIFIER.test(raw.event)) return void ctx.error(line, 'kpi_step', `${where}: needs an "event" that is a valid event name`);
  const filters = parseFilters(raw.where, where, line, ctx);
  const breakdown = raw.breakdown;
  if (breakdown !== undefined && (typeof breakdown !== 'string' || !IDENTIFIER.test(breakdown))) return void ctx.error(line, 'kpi_identifier', `${where}: breakdown must be a property name`);
  const source = { event: raw.event, filters, ...(breakdown === undefined ? {} : { breakdown }) };
  if (type === 'average' || type === 'sum') {
    if (typeof raw.property !== 'string' || !IDENTIFIER.test(raw.property))
      return void ctx.error(line, 'kpi_identifier', `${where}: ${type === 'sum' ? 'a sum' : 'an average'} needs a numeric "property"`);
    return { ...base, type, ...source, property: raw.property };
  }
  return { ...base, type, ...source };
}

export interface ParsedKpis {
  definitions: KpiDefinitions;
  messages: LintMessage[];
}

/** Parses one kpis/*.yaml text. `file` is only used in messages. */
export function parseKpiFile(file: string, source: string): ParsedKpis {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false });
  const ctx = new FileContext(file, lines);
  const definitions: KpiDefinitions = { funnels: [], metrics: [], retention: [] };
  for (const e of doc.errors) ctx.error(lines.linePos(e.pos[0]).line, 'yaml_syntax', yamlErrorMessage(e));
  if (doc.errors.length > 0) return { definitions, messages: ctx.messages };
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return { definitions, messages: ctx.messages };
  if (!isPlainObject(data)) {
    ctx.error(1, 'kpi_structure', 'a KPI file holds "funnels:", "metrics:" and/or "retention:" lists');
    return { definitions, messages: ctx.messages };
  }
  for (const key of Object.keys(data)) {
    if (key !== 'funnels' && key !== 'metrics' && key !== 'retention')
      ctx.error(ctx.line(mapValue(doc.contents, key)), 'kpi_structure', `unknown top-level key "${key}" (expected funnels, metrics, retention)`);
  }
  for (const [key, parse] of [
    ['funnels', parseFunnel],
    ['metrics', parseMetric],
    ['retention', parseRetention],
  ] as const) {
    const list = data[key];
    if (list === undefined) continue;
    const node = mapValue(doc.contents, key);
    if (!Array.isArray(list)) {
      ctx.error(ctx.line(node), 'kpi_structure', `"${key}" must be a list`);
      continue;
    }
    list.forEach((item: unknown, i: number) => {
      const def = parse(item, seqItem(node, i), ctx);
      if (def?.kind === 'funnel') definitions.funnels.push(def);
      else if (def?.kind === 'metric') definitions.metrics.push(def);
      else if (def?.kind === 'retention') definitions.retention.push(def);
    });
  }
  return { definitions, messages: ctx.messages };
}
