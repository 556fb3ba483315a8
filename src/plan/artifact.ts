/**
 * The build artifact format (pure): what `plan build` writes to build/plan-<version>.json and how
 * it is read back. Positions are dropped and key order is stable, so equal plans serialise alike.
 */
import { PlanInvalidError } from './errors.ts';
import type { TrackingPlan } from './model.ts';
import { isPlainObject } from '../util/objects.ts';

export const BUILD_DIR = 'build';
const FORMAT = 'balise-plan@1';

/** The artifact shape `plan build` writes: positions dropped, content only. */
export interface PlanArtifact {
  format: typeof FORMAT;
  plan: TrackingPlan;
}

/** A TrackingPlan without editor positions, with stable key order, for artifacts and comparisons. */
export function stripPositions(plan: TrackingPlan): TrackingPlan {
  const { file: _f, lines: _l, ...rest } = plan;
  const { file: _tf, lines: _tl, ...traits } = plan.traits;
  return {
    ...rest,
    traits,
    events: [...plan.events].sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name)).map(({ lines: _el, ...e }) => e),
  };
}

export function artifactFileName(version: string): string {
  return `plan-${version}.json`;
}

/** Whether a file name in build/ is a published version's artifact. */
export const isArtifactFileName = (name: string): boolean => /^plan-.+\.json$/.test(name);

/** The plan keeps a published version's number with other content (what `plan check` warns about and the server says). */
export function editsPublishedVersion(published: TrackingPlan, plan: TrackingPlan): boolean {
  return published.version === plan.version && serializeArtifact(published) !== serializeArtifact(plan);
}

export function serializeArtifact(plan: TrackingPlan): string {
  const artifact: PlanArtifact = { format: FORMAT, plan: stripPositions(plan) };
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

/** The plan in an artifact's text; throws PlanInvalidError when it is not one. */
export function parseArtifact(text: string, file: string): TrackingPlan {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new PlanInvalidError(`${file}: not JSON (${(err as Error).message})`);
  }
  const artifact = isPlainObject(parsed) ? parsed : {};
  if (artifact.format !== FORMAT) throw new PlanInvalidError(`${file}: not a Balise plan artifact (format ${JSON.stringify(artifact.format)})`);
  return artifact.plan as TrackingPlan;
}
