/**
 * Lints KPI definitions: across files (unique ids, ratio references) and against the tracking
 * plan (events planned and active, properties declared, the `kpis:` lists of event files). Pure:
 * it is given the files' text; definitions.ts reads them.
 */
import type { LintMessage } from '../plan/model.ts';
import type { PlanEvent, TrackingPlan } from '../plan/model.ts';
import { lintEventKpiLists } from './event-kpis.ts';
import { parseKpiFile, type ParsedKpis } from './kpi-parse.ts';
import { parseBreakdown, type KpiDefinitions, type PropertyFilter } from './model.ts';
import { piiActionFor, privacyOf } from '../plan/pii.ts';

/** One kpis/*.yaml file: its path relative to the plan directory (used in messages) and its text. */
export interface KpiSourceFile {
  file: string;
  text: string;
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

/** Parses every file, then checks across them; messages keep file order. */
export function parseKpiSources(files: readonly KpiSourceFile[]): ParsedKpis {
  const all: ParsedKpis = { definitions: { funnels: [], metrics: [], retention: [] }, messages: [] };
  for (const { file, text } of files) {
    const parsed = parseKpiFile(file, text);
    all.definitions.funnels.push(...parsed.definitions.funnels);
    all.definitions.metrics.push(...parsed.definitions.metrics);
    all.definitions.retention.push(...parsed.definitions.retention);
    all.messages.push(...parsed.messages);
  }
  all.messages.push(...checkAcrossFiles(all.definitions));
  return all;
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
    // An entity the plan drops at ingest is never stored: the funnel or retention would read 0.
    else if (role === 'entity' && piiActionFor(ev.properties[property]!, '', privacyOf(plan).piiAction) === 'drop') {
      push(file, line, 'kpi_entity_dropped', `${where}: entity "${property}" of "${ev.name}" is dropped at ingest (pii_action: drop), so nothing can be counted by it`);
    }
  };
  /** A filter on an enum property with a value outside it matches nothing (or, negated, everything): a typo, or a value narrowed away. */
  const checkFilter = (file: string, line: number, where: string, ev: PlanEvent, filter: PropertyFilter) => {
    checkProperty(file, line, where, ev, filter.property, 'filter');
    const allowed = ev.properties[filter.property]?.enum;
    if (!Array.isArray(allowed) || (filter.op !== 'eq' && filter.op !== 'neq' && filter.op !== 'in')) return;
    const values = Array.isArray(filter.value) ? filter.value : [filter.value];
    const unknown = values.filter((v) => !allowed.includes(v));
    if (unknown.length) {
      push(
        file,
        line,
        'kpi_filter_value',
        `${where}: filter ${filter.property} ${filter.op} ${JSON.stringify(unknown.length === 1 ? unknown[0] : unknown)} is not among its planned values (${allowed.map(String).join(', ')})`,
      );
    }
  };
  for (const f of defs.funnels) {
    const planned: PlanEvent[] = [];
    f.steps.forEach((step, i) => {
      const where = `funnel ${f.id} step ${i + 1}`;
      const ev = checkEvent(f.file, step.line, where, step.event);
      if (!ev) return;
      planned.push(ev);
      for (const filter of step.filters) checkFilter(f.file, step.line, where, ev, filter);
      if (f.entity.kind === 'property') checkProperty(f.file, step.line, where, ev, f.entity.property, 'entity');
      for (const ex of step.exclude) {
        const exEvent = checkEvent(f.file, step.line, `${where} exclude`, ex.event);
        if (!exEvent) continue;
        for (const filter of ex.filters) checkFilter(f.file, step.line, `${where} exclude`, exEvent, filter);
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
      for (const filter of spec.filters) checkFilter(r.file, r.line, where, ev, filter);
      if (r.entity.kind === 'property') checkProperty(r.file, r.line, where, ev, r.entity.property, 'entity');
    }
  }
  for (const m of defs.metrics) {
    if (m.type === 'ratio') continue;
    const where = `metric ${m.id}`;
    const ev = checkEvent(m.file, m.line, where, m.event);
    if (!ev) continue;
    for (const filter of m.filters) checkFilter(m.file, m.line, where, ev, filter);
    if (m.breakdown) checkProperty(m.file, m.line, where, ev, m.breakdown, 'breakdown');
    if (m.type === 'average' || m.type === 'sum') {
      checkProperty(m.file, m.line, where, ev, m.property, m.type === 'sum' ? 'summed' : 'averaged');
      const type = ev.properties[m.property]?.type;
      if (type !== undefined && type !== 'number' && type !== 'integer') push(m.file, m.line, 'kpi_not_numeric', `${where}: "${m.property}" is not numeric (${JSON.stringify(type)})`);
    }
  }
  return messages;
}

/** Everything `balise plan check` reports about the KPI files: structure, then plan references. */
export function lintKpiSources(plan: TrackingPlan, files: readonly KpiSourceFile[]): LintMessage[] {
  const { definitions, messages } = parseKpiSources(files);
  return [...messages, ...lintDefinitionsAgainstPlan(plan, definitions), ...lintEventKpiLists(plan, definitions)];
}
