/**
 * Reads tracking-plan/ from disk: the YAML files (parsed by parse.ts) and the published
 * build/plan-*.json (artifact.ts). The only file IO of the plan; everything it hands on is pure.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { BUILD_DIR, editsPublishedVersion, isArtifactFileName, parseArtifact } from './artifact.ts';
import { PlanInvalidError } from './errors.ts';
import { lintSources } from './lint.ts';
import type { LoadResult, PlanVersions, TrackingPlan } from './model.ts';
import { EVENTS_DIR, PLAN_FILE, TRAITS_FILE, parsePlanFiles, type PlanFile, type PlanSources } from './parse.ts';
import { compareSemver } from './semver.ts';

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

async function readIfPresent(planDir: string, file: string): Promise<PlanFile | undefined> {
  return (await exists(path.join(planDir, file))) ? { file, text: await fs.readFile(path.join(planDir, file), 'utf8') } : undefined;
}

/** The YAML plan's files as text: plan.yaml, traits.yaml and events/*.yaml (in name order). */
export async function readPlanSources(planDir: string): Promise<PlanSources> {
  const eventsDir = path.join(planDir, EVENTS_DIR);
  const names = (await exists(eventsDir)) ? (await fs.readdir(eventsDir)).filter((f) => /\.ya?ml$/.test(f)).sort() : [];
  const events: PlanFile[] = [];
  for (const name of names) {
    const file = path.posix.join(EVENTS_DIR, name);
    events.push({ file, text: await fs.readFile(path.join(planDir, file), 'utf8') });
  }
  return { planDir, plan: await readIfPresent(planDir, PLAN_FILE), traits: await readIfPresent(planDir, TRAITS_FILE), events };
}

/** Loads the YAML plan, collecting structural problems as messages instead of throwing. */
export async function loadPlanFiles(planDir: string): Promise<LoadResult> {
  return parsePlanFiles(await readPlanSources(planDir));
}

/** The current YAML plan; throws PlanInvalidError (with every message) when a file is malformed. */
export async function loadPlan(planDir: string): Promise<TrackingPlan> {
  const { plan, messages } = await loadPlanFiles(planDir);
  const errors = messages.filter((m) => m.severity === 'error');
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new PlanInvalidError(`tracking plan in ${planDir} is invalid (${errors.length} error(s)); first: ${first.file}:${first.line} ${first.message}`, errors);
  }
  return plan;
}

/** Published versions from build/plan-*.json, oldest first. */
export async function loadPublished(planDir: string): Promise<TrackingPlan[]> {
  const dir = path.join(planDir, BUILD_DIR);
  if (!(await exists(dir))) return [];
  const files = (await fs.readdir(dir)).filter(isArtifactFileName);
  const plans = await Promise.all(files.map(async (f) => parseArtifact(await fs.readFile(path.join(dir, f), 'utf8'), path.posix.join(BUILD_DIR, f))));
  return plans.sort((a, b) => compareSemver(a.version, b.version));
}

/** Loads the plan directory and lints it, structural problems included. */
export async function lintPlanDir(planDir: string): Promise<LoadResult> {
  return lintSources(await readPlanSources(planDir), await loadPublished(planDir));
}

/**
 * Every version side by side: the published artifacts plus the YAML plan, which wins over an
 * artifact of the same version (it is what is being edited; `plan check` flags the mismatch).
 */
export async function loadPlanVersions(planDir: string): Promise<PlanVersions> {
  const published = await loadPublished(planDir);
  const hasYaml = await exists(path.join(planDir, PLAN_FILE));
  if (!hasYaml && published.length === 0)
    throw new PlanInvalidError(`no tracking plan in ${planDir}: neither ${PLAN_FILE} nor ${BUILD_DIR}/plan-*.json (write one with \`balise init\`, or set BALISE_PLAN_DIR)`);
  const byVersion = new Map(published.map((p) => [p.version, p]));
  let latest = published[published.length - 1]!;
  let unpublishedEdits: string | undefined;
  if (hasYaml) {
    latest = await loadPlan(planDir);
    const published = byVersion.get(latest.version);
    if (published && editsPublishedVersion(published, latest)) {
      unpublishedEdits = `plan.yaml says version ${latest.version}, which is published (${BUILD_DIR}/plan-${latest.version}.json) with other content: events that declare ${latest.version} are judged by the edited files. Bump the version and run \`balise plan build\` to publish the change`;
    }
    byVersion.set(latest.version, latest);
  }
  const versions = [...byVersion.values()].sort((a, b) => compareSemver(a.version, b.version));
  return unpublishedEdits ? { latest, versions, unpublishedEdits } : { latest, versions };
}
