/**
 * Which KPIs use which event, derived from the definitions in kpis/*.yaml. The `kpis:` list of
 * an event file is documentation (the catalogue prints it): `plan check` holds it to what the
 * definitions say, and `plan check --fix` rewrites it. Pure.
 */
import type { LintMessage } from '../plan/model.ts';
import type { TrackingPlan } from '../plan/model.ts';
import type { KpiDefinitions } from './model.ts';

/**
 * Event name → ids of the funnels with a step on it and the metrics counting it (a ratio uses
 * the events of its numerator and denominator), in definition order: funnels, then metrics.
 */
export function kpisByEvent(defs: KpiDefinitions): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (event: string, id: string): void => {
    const list = out.get(event) ?? [];
    if (!list.includes(id)) list.push(id);
    out.set(event, list);
  };
  for (const f of defs.funnels) for (const step of f.steps) add(step.event, f.id);
  const byId = new Map(defs.metrics.map((m) => [m.id, m]));
  for (const m of defs.metrics) {
    if (m.type !== 'ratio') add(m.event, m.id);
    else {
      for (const ref of [m.numerator, m.denominator]) {
        const part = byId.get(ref);
        if (part && part.type !== 'ratio') add(part.event, m.id);
      }
    }
  }
  return out;
}

/** The KPI ids an event file should list (empty when none uses it). */
export function expectedKpis(derived: Map<string, string[]>, event: string): string[] {
  return derived.get(event) ?? [];
}

const list = (ids: string[]): string => ids.join(', ');

/** One error per event whose hand-written `kpis:` list differs (as a set) from the definitions. */
export function lintEventKpiLists(plan: TrackingPlan, defs: KpiDefinitions): LintMessage[] {
  const derived = kpisByEvent(defs);
  const out: LintMessage[] = [];
  for (const event of plan.events) {
    const expected = expectedKpis(derived, event.name);
    const extra = event.kpis.filter((k) => !expected.includes(k));
    const missing = expected.filter((k) => !event.kpis.includes(k));
    if (extra.length === 0 && missing.length === 0) continue;
    const parts = [
      ...(extra.length > 0 ? [`lists ${list(extra)}, which ${extra.length > 1 ? 'do' : 'does'} not use it`] : []),
      ...(missing.length > 0 ? [`omits ${list(missing)}, which ${missing.length > 1 ? 'use' : 'uses'} it`] : []),
    ];
    const fix = expected.length > 0 ? `kpis: [${list(expected)}]` : 'no kpis: key';
    out.push({
      file: event.file,
      line: event.lines?.['/kpis'] ?? event.lines?.[''] ?? 1,
      rule: 'kpis_list_mismatch',
      message: `event "${event.name}": kpis: ${parts.join(', and ')} (per kpis/*.yaml); write ${fix}, or run \`balise plan check --fix\``,
      severity: 'error',
    });
  }
  return out;
}
