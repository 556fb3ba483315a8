/**
 * Reads tracking-plan/kpis/*.yaml. What the files mean is decided by kpi-parse.ts (the YAML) and
 * kpi-lint.ts (the checks), both pure; this file only reads them.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { LintMessage } from '../plan/model.ts';
import type { TrackingPlan } from '../plan/model.ts';
import { KpiDefinitionError } from './errors.ts';
import { lintKpiSources, parseKpiSources, type KpiSourceFile } from './kpi-lint.ts';
import type { EventKind, EventRef, KpiDefinitions } from './model.ts';
import { loadPlanFiles } from '../plan/load.ts';

/** The text of every kpis/*.yaml, named relative to the plan directory like every plan lint message. */
export async function readKpiSources(planDir: string): Promise<KpiSourceFile[]> {
  const dir = path.join(planDir, 'kpis');
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return Promise.all(names.map(async (name) => ({ file: path.posix.join('kpis', name), text: await fs.readFile(path.join(dir, name), 'utf8') })));
}

/**
 * Loads and validates `<planDir>/kpis/*.yaml`; throws KpiDefinitionError listing every problem.
 * Each event is counted on the call type the plan gives its name (a page, a screen, else track):
 * the plan the caller holds already (the server's validator), else the one in `planDir`.
 */
export async function loadKpiDefinitions(planDir: string, plan?: PlanKinds): Promise<KpiDefinitions> {
  const { definitions, messages } = parseKpiSources(await readKpiSources(planDir));
  const errors = messages.filter((m) => m.severity === 'error');
  if (errors.length > 0) {
    throw new KpiDefinitionError(`invalid KPI definitions:\n${errors.map((m) => `${m.file}:${m.line} ${m.message}`).join('\n')}`, errors);
  }
  // A plan that does not load is `plan check`'s to report: its events are then counted as track events.
  const kinds = plan ?? (await loadPlanFiles(planDir).catch(() => ({ plan: undefined }))).plan;
  return kinds ? withEventKinds(definitions, kinds) : definitions;
}

/**
 * The definitions with each event's call type from the plan: a name the plan declares a page or
 * a screen is counted on those calls only, any other on track calls (a page view named like a
 * track event is not that event).
 */
/** What a plan says of its events' kinds. */
type PlanKinds = { events: readonly { name: string; kind: EventKind }[] };

export function withEventKinds(definitions: KpiDefinitions, plan: PlanKinds): KpiDefinitions {
  const kinds = new Map(plan.events.filter((e) => e.kind !== 'track').map((e) => [e.name, e.kind]));
  const typed = <T extends EventRef>(ref: T): T => (kinds.has(ref.event) ? { ...ref, callType: kinds.get(ref.event) } : ref);
  return {
    funnels: definitions.funnels.map((f) => ({ ...f, steps: f.steps.map((s) => ({ ...typed(s), exclude: s.exclude.map(typed) })) })),
    metrics: definitions.metrics.map((m) => (m.type === 'ratio' ? m : typed(m))),
    retention: definitions.retention.map((r) => ({ ...r, start: typed(r.start), return: typed(r.return) })),
  };
}

/** Everything `balise plan check` reports about `<planDir>/kpis/*.yaml`. */
export async function lintKpiDefinitions(plan: TrackingPlan, planDir: string): Promise<LintMessage[]> {
  return lintKpiSources(plan, await readKpiSources(planDir));
}
