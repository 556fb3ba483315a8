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
import type { KpiDefinitions } from './model.ts';

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

/** Loads and validates `<planDir>/kpis/*.yaml`; throws KpiDefinitionError listing every problem. */
export async function loadKpiDefinitions(planDir: string): Promise<KpiDefinitions> {
  const { definitions, messages } = parseKpiSources(await readKpiSources(planDir));
  const errors = messages.filter((m) => m.severity === 'error');
  if (errors.length > 0) {
    throw new KpiDefinitionError(`invalid KPI definitions:\n${errors.map((m) => `${m.file}:${m.line} ${m.message}`).join('\n')}`, errors);
  }
  return definitions;
}

/** Everything `balise plan check` reports about `<planDir>/kpis/*.yaml`. */
export async function lintKpiDefinitions(plan: TrackingPlan, planDir: string): Promise<LintMessage[]> {
  return lintKpiSources(plan, await readKpiSources(planDir));
}
