/**
 * Loads tracking-plan/kpis/*.yaml into typed definitions and lints them against the plan.
 * Structural problems and plan mismatches are both reported as file:line LintMessages, so
 * `balise plan check` can print them beside the plan's own findings.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { SNAKE } from '../plan/file-schemas.ts';
import type { LintMessage } from '../plan/lint.ts';
import type { PlanEvent, TrackingPlan } from '../plan/model.ts';
import { KpiDefinitionError } from './errors.ts';
import { lintEventKpiLists } from './event-kpis.ts';
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

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is FilterScalar => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** Collects messages while parsing one file; `at` gives the line of a YAML node. */
class FileContext {
  readonly messages: LintMessage[] = [];
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}
  line(node: unknown): number {
    const range = (node as YamlNode | undefined)?.range;
    return range ? this.lines.linePos(range[0]).line : 1;
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
  if (!isObj(raw)) {
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
    if (!isObj(spec) || Object.keys(spec).length !== 1) {
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

function text(raw: Obj, key: string, fallback = ''): string {
  const v = raw[key];
  return typeof v === 'string' ? v : fallback;
}

function parseFunnel(raw: unknown, node: unknown, ctx: FileContext): FunnelDefinition | undefined {
  const line = ctx.line(node);
  if (!isObj(raw)) return void ctx.error(line, 'kpi_structure', 'a funnel must be a mapping');
  const id = raw.id;
  if (!isKpiId(id)) return void ctx.error(line, 'kpi_id', `funnel id must be snake_case, got ${JSON.stringify(id)}`);
  const where = `funnel ${id}`;
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
  raw.steps.forEach((s: unknown, i: number) => {
    const stepLine = ctx.line(seqItem(stepsNode, i));
    const step = typeof s === 'string' ? { event: s } : s;
    if (!isObj(step) || typeof step.event !== 'string' || !IDENTIFIER.test(step.event)) {
      ctx.error(stepLine, 'kpi_step', `${where}: step ${i + 1} needs an "event" that is a valid event name`);
      return;
    }
    let withinMs: number | undefined;
    if (step.within !== undefined) {
      withinMs = parseDuration(step.within);
      if (withinMs === undefined) ctx.error(stepLine, 'kpi_window', `${where}: step ${i + 1} "within" must look like 7d`);
      if (i === 0) ctx.error(stepLine, 'kpi_window', `${where}: the first step cannot have "within" (it is the entry)`);
    }
    const exclude: FunnelStep['exclude'] = [];
    if (step.exclude !== undefined) {
      const list = Array.isArray(step.exclude) ? step.exclude : [step.exclude];
      for (const item of list) {
        const parsed = parseRetentionEvent(item, 'exclude', `${where} step ${i + 1}`, stepLine, ctx);
        if (parsed) exclude.push(parsed);
      }
      if (i === 0) ctx.error(stepLine, 'kpi_exclude', `${where}: the first step cannot have "exclude" (nothing comes before it)`);
      if (order !== 'strict') ctx.error(stepLine, 'kpi_exclude', `${where}: "exclude" needs order: strict (in any order, "between" has no meaning)`);
    }
    steps.push({ event: step.event, label: text(step, 'label', step.event), filters: parseFilters(step.where, `${where} step ${i + 1}`, stepLine, ctx), withinMs, exclude, line: stepLine });
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

function parseRetentionEvent(raw: unknown, role: 'start' | 'return' | 'exclude', where: string, line: number, ctx: FileContext): RetentionEvent | undefined {
  const spec = typeof raw === 'string' ? { event: raw } : raw;
  if (!isObj(spec) || typeof spec.event !== 'string' || !IDENTIFIER.test(spec.event)) {
    ctx.error(line, 'kpi_step', `${where}: "${role}" needs an "event" that is a valid event name`);
    return undefined;
  }
  return { event: spec.event, filters: parseFilters(spec.where, `${where} ${role}`, line, ctx) };
}

function parseRetention(raw: unknown, node: unknown, ctx: FileContext): RetentionDefinition | undefined {
  const line = ctx.line(node);
  if (!isObj(raw)) return void ctx.error(line, 'kpi_structure', 'a retention must be a mapping');
  const id = raw.id;
  if (!isKpiId(id)) return void ctx.error(line, 'kpi_id', `retention id must be snake_case, got ${JSON.stringify(id)}`);
  const where = `retention ${id}`;
  const grain = (raw.grain ?? 'week') as TimeGrain;
  if (!GRAINS.includes(grain)) ctx.error(line, 'kpi_grain', `${where}: grain must be day, week or month`);
  const periods = raw.periods ?? 8;
  if (typeof periods !== 'number' || !Number.isInteger(periods) || periods < 1 || periods > MAX_RETENTION_PERIODS) {
    ctx.error(line, 'kpi_periods', `${where}: periods must be a whole number from 1 to ${MAX_RETENTION_PERIODS}`);
  }
  const entity = parseEntity(raw.entity, where, line, ctx);
  const start = parseRetentionEvent(raw.start, 'start', where, mapValue(node, 'start') ? ctx.line(mapValue(node, 'start')) : line, ctx);
  const ret = parseRetentionEvent(raw.return, 'return', where, mapValue(node, 'return') ? ctx.line(mapValue(node, 'return')) : line, ctx);
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
  if (!isObj(raw)) return void ctx.error(line, 'kpi_structure', 'a metric must be a mapping');
  const id = raw.id;
  if (!isKpiId(id)) return void ctx.error(line, 'kpi_id', `metric id must be snake_case, got ${JSON.stringify(id)}`);
  const where = `metric ${id}`;
  const grain = (raw.grain ?? 'week') as TimeGrain;
  if (!GRAINS.includes(grain)) ctx.error(line, 'kpi_grain', `${where}: grain must be day, week or month`);
  const base = { kind: 'metric' as const, id, title: text(raw, 'title', id), description: text(raw, 'description'), grain, unit: text(raw, 'unit'), file: ctx.file, line };
  const type = raw.type;
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

interface ParsedKpis {
  definitions: KpiDefinitions;
  messages: LintMessage[];
}

/** Parses one kpis/*.yaml text. `file` is only used in messages. */
export function parseKpiFile(file: string, source: string): ParsedKpis {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false });
  const ctx = new FileContext(file, lines);
  const definitions: KpiDefinitions = { funnels: [], metrics: [], retention: [] };
  for (const e of doc.errors) ctx.error(lines.linePos(e.pos[0]).line, 'yaml_syntax', e.message.split('\n')[0] ?? e.message);
  if (doc.errors.length > 0) return { definitions, messages: ctx.messages };
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return { definitions, messages: ctx.messages };
  if (!isObj(data)) {
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

/** Cross-definition checks that need every file: unique ids, ratio references. */
function checkAcrossFiles(defs: KpiDefinitions): LintMessage[] {
  const messages: LintMessage[] = [];
  const seen = new Map<string, string>();
  for (const d of [...defs.funnels, ...defs.metrics, ...defs.retention]) {
    const previous = seen.get(d.id);
    if (previous) messages.push({ file: d.file, line: d.line, rule: 'kpi_duplicate_id', message: `id "${d.id}" is already used in ${previous}`, severity: 'error' });
    else seen.set(d.id, `${d.file}:${d.line}`);
  }
  const metricIds = new Map(defs.metrics.map((m) => [m.id, m]));
  for (const m of defs.metrics) {
    if (m.type !== 'ratio') continue;
    for (const ref of [m.numerator, m.denominator]) {
      const target = metricIds.get(ref);
      if (!target) messages.push({ file: m.file, line: m.line, rule: 'kpi_ratio', message: `metric ${m.id}: ratio refers to unknown metric "${ref}"`, severity: 'error' });
      else if (target.type === 'ratio') messages.push({ file: m.file, line: m.line, rule: 'kpi_ratio', message: `metric ${m.id}: a ratio of ratios is not supported ("${ref}")`, severity: 'error' });
    }
  }
  return messages;
}

async function readKpis(planDir: string): Promise<ParsedKpis> {
  const dir = path.join(planDir, 'kpis');
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { definitions: { funnels: [], metrics: [], retention: [] }, messages: [] };
    throw error;
  }
  const all: ParsedKpis = { definitions: { funnels: [], metrics: [], retention: [] }, messages: [] };
  for (const name of names) {
    // Named relative to the plan directory, like every plan lint message.
    const parsed = parseKpiFile(path.posix.join('kpis', name), await fs.readFile(path.join(dir, name), 'utf8'));
    all.definitions.funnels.push(...parsed.definitions.funnels);
    all.definitions.metrics.push(...parsed.definitions.metrics);
    all.definitions.retention.push(...parsed.definitions.retention);
    all.messages.push(...parsed.messages);
  }
  all.messages.push(...checkAcrossFiles(all.definitions));
  return all;
}

/** Loads and validates `<planDir>/kpis/*.yaml`; throws KpiDefinitionError listing every problem. */
export async function loadKpiDefinitions(planDir: string): Promise<KpiDefinitions> {
  const { definitions, messages } = await readKpis(planDir);
  const errors = messages.filter((m) => m.severity === 'error');
  if (errors.length > 0) {
    throw new KpiDefinitionError(`invalid KPI definitions:\n${errors.map((m) => `${m.file}:${m.line} ${m.message}`).join('\n')}`, errors);
  }
  return definitions;
}

/** Checks definitions against the plan: events planned (and active), properties declared. */
export function lintDefinitionsAgainstPlan(plan: TrackingPlan, defs: KpiDefinitions): LintMessage[] {
  const events = new Map<string, PlanEvent>(plan.events.map((e) => [e.name, e]));
  const messages: LintMessage[] = [];
  const push = (file: string, line: number, rule: string, message: string, severity: LintMessage['severity'] = 'error') => messages.push({ file, line, rule, message, severity });
  const checkEvent = (file: string, line: number, where: string, name: string): PlanEvent | undefined => {
    const ev = events.get(name);
    if (!ev) push(file, line, 'kpi_unplanned_event', `${where}: event "${name}" is not in the tracking plan`);
    else if (ev.status === 'deprecated') push(file, line, 'kpi_deprecated_event', `${where}: event "${name}" is deprecated`, 'warning');
    return ev;
  };
  const checkProperty = (file: string, line: number, where: string, ev: PlanEvent, property: string, role: string) => {
    if (!(property in ev.properties)) push(file, line, 'kpi_unknown_property', `${where}: ${role} property "${property}" is not a property of "${ev.name}"`);
  };
  for (const f of defs.funnels) {
    const planned: PlanEvent[] = [];
    f.steps.forEach((step, i) => {
      const where = `funnel ${f.id} step ${i + 1}`;
      const ev = checkEvent(f.file, step.line, where, step.event);
      if (!ev) return;
      planned.push(ev);
      for (const filter of step.filters) checkProperty(f.file, step.line, where, ev, filter.property, 'filter');
      if (f.entity.kind === 'property') checkProperty(f.file, step.line, where, ev, f.entity.property, 'entity');
      for (const ex of step.exclude) {
        const exEvent = checkEvent(f.file, step.line, `${where} exclude`, ex.event);
        if (!exEvent) continue;
        for (const filter of ex.filters) checkProperty(f.file, step.line, `${where} exclude`, exEvent, filter.property, 'filter');
        if (f.entity.kind === 'property') checkProperty(f.file, step.line, `${where} exclude`, exEvent, f.entity.property, 'entity');
      }
    });
    const spec = f.breakdown ? parseBreakdown(f.breakdown) : undefined;
    if (spec?.source === 'person' && !(spec.property in plan.traits.properties)) {
      push(f.file, f.line, 'kpi_unknown_property', `funnel ${f.id}: breakdown trait "${spec.property}" is not a planned identify trait`);
    }
    // First touch reads the entry event: a property only later steps carry would be "(none)" for everyone.
    const candidates = f.attribution === 'first' ? planned.filter((ev) => ev.name === f.steps[0]?.event) : planned;
    if (spec?.source === 'event' && candidates.length > 0 && !candidates.some((ev) => spec.property in ev.properties)) {
      const where = f.attribution === 'first' ? `the entry event "${f.steps[0]?.event}"` : 'any of its step events';
      push(f.file, f.line, 'kpi_unknown_property', `funnel ${f.id}: breakdown property "${spec.property}" is not a property of ${where}`);
    }
  }
  for (const r of defs.retention) {
    for (const role of ['start', 'return'] as const) {
      const where = `retention ${r.id} ${role}`;
      const spec = r[role];
      const ev = checkEvent(r.file, r.line, where, spec.event);
      if (!ev) continue;
      for (const filter of spec.filters) checkProperty(r.file, r.line, where, ev, filter.property, 'filter');
      if (r.entity.kind === 'property') checkProperty(r.file, r.line, where, ev, r.entity.property, 'entity');
    }
  }
  for (const m of defs.metrics) {
    if (m.type === 'ratio') continue;
    const where = `metric ${m.id}`;
    const ev = checkEvent(m.file, m.line, where, m.event);
    if (!ev) continue;
    for (const filter of m.filters) checkProperty(m.file, m.line, where, ev, filter.property, 'filter');
    if (m.breakdown) checkProperty(m.file, m.line, where, ev, m.breakdown, 'breakdown');
    if (m.type === 'average' || m.type === 'sum') {
      checkProperty(m.file, m.line, where, ev, m.property, m.type === 'sum' ? 'summed' : 'averaged');
      const type = ev.properties[m.property]?.type;
      if (type !== undefined && type !== 'number' && type !== 'integer') push(m.file, m.line, 'kpi_not_numeric', `${where}: "${m.property}" is not numeric (${JSON.stringify(type)})`);
    }
  }
  return messages;
}

/** Everything `balise plan check` reports about kpis/*.yaml: structure, then plan references. */
export async function lintKpiDefinitions(plan: TrackingPlan, planDir: string): Promise<LintMessage[]> {
  const { definitions, messages } = await readKpis(planDir);
  return [...messages, ...lintDefinitionsAgainstPlan(plan, definitions), ...lintEventKpiLists(plan, definitions)];
}
