import fs from 'node:fs/promises';
import path from 'node:path';
import { compilePlanValidator } from '../../src/plan/compile.ts';
import type { PlanEvent, PlanValidator, TrackingPlan } from '../../src/plan/model.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * The plan tests run against unless their subject is the example plan itself: a frozen copy of
 * the example marketplace at 2.0.0 (with its published 1.0.0, 1.1.0 and 2.0.0), so a team that
 * edits tracking-plan/ keeps the suite green (tests/integration/plan-evolution.test.ts).
 */
export const FIXTURE_PLAN = path.join(ROOT, 'tests/fixtures/plans/marketplace');

/** The example plan shipped in tracking-plan/: only for tests about the example itself (demo, init, committed artifacts). */
export const EXAMPLE_PLAN = path.join(ROOT, 'tracking-plan');

/**
 * Changes a copy of the fixture plan on disk the way a plan owner would, without reloading it:
 * declares `mission_bookmarked` (unknown to 2.0.0) with a required `mission_id`, as 2.1.0. An
 * event `mission_bookmarked` without properties is then quarantined by a reloaded process only.
 */
export async function requireMissionIdOnBookmarks(planDir: string): Promise<void> {
  await fs.writeFile(
    path.join(planDir, 'events/mission_bookmarked.yaml'),
    'name: mission_bookmarked\nkind: track\ndescription: A freelancer bookmarks a mission.\nowner: team-freelancer-growth\nstatus: active\nproperties:\n  mission_id:\n    type: string\n    description: Id of the mission.\nrequired:\n  - mission_id\n',
  );
  const planFile = path.join(planDir, 'plan.yaml');
  await fs.writeFile(planFile, (await fs.readFile(planFile, 'utf8')).replace(/^version: .*$/m, 'version: 2.1.0'));
}

/** A plan held in memory (version 1.0.0, source web, enforce, unplanned allowed) and its validator, for unit tests. */
export function inMemoryPlan(events: PlanEvent[]): { plan: TrackingPlan; validator: PlanValidator } {
  const plan: TrackingPlan = { name: 'p', version: '1.0.0', description: 'd', sources: ['web'], defaults: { mode: 'enforce', unplanned: 'allow' }, events, traits: { properties: {}, required: [] } };
  return { plan, validator: compilePlanValidator({ latest: plan, versions: [plan] }) };
}
