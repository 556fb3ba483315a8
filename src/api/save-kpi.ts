/**
 * "Save as code", written by the server (decision 0039): an Explore definition becomes
 * tracking-plan/kpis/<id>.yaml, and the events it uses list it in their `kpis:` (what
 * `balise plan check --fix` would write). Only where the server may write there
 * (BALISE_KPIS_WRITABLE); never over an existing id or file; and only when the directory then
 * passes the same parse and lint as `balise plan check` with no new error, else everything
 * written is put back as it was.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadKpiDefinitions, lintKpiDefinitions } from '../analytics/definitions.ts';
import { KpiDefinitionError } from '../analytics/errors.ts';
import { kpisByEvent } from '../analytics/event-kpis.ts';
import { adHocFunnel, adHocMetric, type AdHocDefinition } from '../analytics/explore.ts';
import type { EventMetric, FunnelDefinition, KpiDefinitions } from '../analytics/model.ts';
import { BaliseError } from '../errors.ts';
import { writeEventKpis } from '../plan/event-kpis-write.ts';
import { lintPlanDir } from '../plan/load.ts';
import { PLAN_FILE } from '../plan/parse.ts';
import { parseSemver } from '../plan/semver.ts';
import { isScalar, parseDocument } from 'yaml';
import type { LintMessage } from '../plan/model.ts';
import type { TrackingPlan } from '../plan/model.ts';

export interface SavedKpi {
  id: string;
  /** Relative to the plan directory: kpis/<id>.yaml. */
  file: string;
  yaml: string;
  /** Event files whose `kpis:` list now names the new definition. */
  eventsUpdated: string[];
  /**
   * Set when those lists changed a published version's content: plan.yaml's version is bumped a
   * patch (as `balise plan check` and `plan diff` ask for a kpis: change), so the commit passes CI.
   */
  versionBumped?: { from: string; to: string };
  warnings: LintMessage[];
}

const HEADER = "# Saved from the dashboard's Explore page. Review it like the rest of the plan.\n";

/** What `balise plan check` reports about the plan and kpis/ (alerts aside: they do not read this file). */
async function planCheck(planDir: string): Promise<LintMessage[]> {
  const { plan, messages } = await lintPlanDir(planDir);
  return [...messages, ...(await lintKpiDefinitions(plan, planDir))];
}

const errorsOf = (messages: readonly LintMessage[]) => messages.filter((m) => m.severity === 'error');

const key = (m: LintMessage) => `${m.file}\u0000${m.rule}\u0000${m.message}`;

export async function saveKpiDefinition(planDir: string, plan: TrackingPlan, kind: unknown, raw: unknown): Promise<SavedKpi> {
  if (kind !== 'metric' && kind !== 'funnel') throw new BaliseError('explore_invalid', 'send {"kind": "metric" | "funnel", "definition": {…}} as Explore builds it');
  // The same parse and plan lint as an explored question: what is saved is what was on screen.
  let adHoc: AdHocDefinition<EventMetric | FunnelDefinition>;
  let only: KpiDefinitions;
  if (kind === 'metric') {
    const metric = adHocMetric(raw, plan);
    adHoc = metric;
    only = { metrics: [metric.definition], funnels: [], retention: [] };
  } else {
    const funnel = adHocFunnel(raw, plan);
    adHoc = funnel;
    only = { metrics: [], funnels: [funnel.definition], retention: [] };
  }
  const { id } = adHoc.definition;
  const existing = await loadKpiDefinitions(planDir);
  if ([...existing.metrics, ...existing.funnels, ...existing.retention].some((d) => d.id === id)) {
    throw new BaliseError('kpi_exists', `a definition "${id}" already exists in kpis/: choose another id (the server never overwrites one)`);
  }
  const file = path.posix.join('kpis', `${id}.yaml`);
  const baseline = new Set(errorsOf(await planCheck(planDir)).map(key));
  const text = `${HEADER}${adHoc.yaml}`;
  try {
    // 'wx': refuse an existing file even if it appeared since the check above.
    await fs.writeFile(path.join(planDir, file), text, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new BaliseError('kpi_exists', `${file} already exists: the server never overwrites a file`);
    throw error;
  }
  const previous = new Map<string, string>();
  const planFile = path.join(planDir, PLAN_FILE);
  let planBefore: string | undefined;
  let versionBumped: { from: string; to: string } | undefined;
  try {
    const used = new Set(kpisByEvent(only).keys());
    for (const event of plan.events) {
      if (!used.has(event.name) || event.kpis.includes(id)) continue;
      previous.set(event.file, await fs.readFile(path.join(planDir, event.file), 'utf8'));
      await writeEventKpis(planDir, event.file, [...event.kpis, id]);
    }
    const after = await planCheck(planDir);
    const introduced = errorsOf(after).filter((m) => !baseline.has(key(m)));
    if (introduced.length > 0)
      throw new KpiDefinitionError(`saving ${file} would make \`balise plan check\` fail: ${introduced.map((m) => `${m.file}:${m.line} ${m.message}`).join('; ')}`, introduced);
    // The kpis: lists changed a published version's content: a patch, as plan check and plan diff ask for.
    if (previous.size > 0 && after.some((m) => m.rule === 'version_not_bumped')) {
      planBefore = await fs.readFile(planFile, 'utf8');
      versionBumped = await bumpPatch(planFile, planBefore, plan.version);
    }
  } catch (error) {
    // Put back everything written: a refused save leaves the plan directory as it found it.
    await fs.rm(path.join(planDir, file), { force: true });
    for (const [eventFile, before] of previous) await fs.writeFile(path.join(planDir, eventFile), before);
    if (planBefore !== undefined) await fs.writeFile(planFile, planBefore);
    throw error;
  }
  return { id, file, yaml: text, eventsUpdated: [...previous.keys()].sort(), ...(versionBumped ? { versionBumped } : {}), warnings: adHoc.warnings };
}

/** plan.yaml (`text`, at `target`) with its version a patch higher; only the version's own characters change, folded text included. */
async function bumpPatch(target: string, text: string, version: string): Promise<{ from: string; to: string } | undefined> {
  const semver = parseSemver(version);
  const node = parseDocument(text).get('version', true);
  if (!semver || !isScalar(node) || !node.range) return undefined;
  const to = `${semver[0]}.${semver[1]}.${semver[2] + 1}`;
  await fs.writeFile(target, `${text.slice(0, node.range[0])}${to}${text.slice(node.range[1])}`);
  return { from: version, to };
}
