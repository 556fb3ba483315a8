/**
 * Funnel breakdowns on the real engine against a generated world whose answers are computed
 * independently: first touch (the entry event's value), last touch, a person's latest identify
 * traits, a group's latest traits; unknown properties refused instead of "(none)".
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../../src/warehouse/client.ts';
import { runFunnel } from '../../src/analytics/run.ts';
import { parseKpiFile } from '../../src/analytics/kpi-parse.ts';
import type { FunnelResult } from '../../src/analytics/results.ts';
import { loadPlan } from '../../src/plan/load.ts';
import type { TrackingPlan } from '../../src/plan/model.ts';
import { DAY, generateWorld, GROUP_TIER, insertWorld, signupToAcceptTruth, WORLD_START, type BreakdownTruth, type World } from '../helpers/known-world.ts';
import { openTestWarehouse, type TestWarehouse } from '../helpers/engine.ts';

const PLAN_DIR = path.resolve(import.meta.dirname, '../../tracking-plan');
let warehouse: Warehouse;
let engine: TestWarehouse | undefined;
let world: World;
let plan: TrackingPlan;

beforeAll(async () => {
  engine = await openTestWarehouse('breakdowns');
  warehouse = engine.warehouse;
  world = generateWorld(5, 160);
  await insertWorld(warehouse, world.events);
  plan = await loadPlan(PLAN_DIR);
});

afterAll(async () => {
  await engine?.close();
});

const parsed = parseKpiFile(
  'test.yaml',
  `
funnels:
  - id: sa
    window: 30d
    steps: [freelancer_signup_completed, mission_proposal_accepted]
  - id: sa_default
    window: 30d
    breakdown: person.category
    steps: [freelancer_signup_completed, mission_proposal_accepted]
`,
);
const DEFS = parsed.definitions;
const RANGE = { from: '2025-03-03', to: '2025-03-30' };
const WINDOW = 30 * DAY;

const groups = (r: FunnelResult): BreakdownTruth => r.breakdown!.groups.map((g) => [g.value, g.entered, g.counts[1]!]);
const truth = (valueOf: Parameters<typeof signupToAcceptTruth>[4]) => signupToAcceptTruth(world, WORLD_START, WORLD_START + 28 * DAY, WINDOW, valueOf);

describe('funnel breakdowns on a known world', () => {
  it('first touch: the value on the entry event (community on sign-up)', async () => {
    expect(parsed.messages).toEqual([]);
    const r = await runFunnel(warehouse, DEFS, 'sa', { ...RANGE, breakdown: 'community', plan });
    const expected = truth((p) => p.community);
    expect(groups(r)).toEqual(expected);
    expect(r.breakdown).toMatchObject({ property: 'community', source: 'event', attribution: 'first' });
    // Both communities convert, neither at 100%: the numbers mean something.
    expect(expected.every(([, e, c]) => c > 0 && c < e)).toBe(true);
  });

  it("a person's latest identify trait (person.category), stitched to the anonymous sign-up", async () => {
    const r = await runFunnel(warehouse, DEFS, 'sa', { ...RANGE, breakdown: 'person.category', plan });
    expect(groups(r)).toEqual(truth((p) => p.category));
    expect(groups(r).some(([v]) => v === '(none)')).toBe(false);
    // The definition's own default breakdown works the same.
    expect(groups(await runFunnel(warehouse, DEFS, 'sa_default', { ...RANGE, plan }))).toEqual(truth((p) => p.category));
  });

  it("a group's latest traits (group.tier), through the person's group", async () => {
    const r = await runFunnel(warehouse, DEFS, 'sa', { ...RANGE, breakdown: 'group.tier', plan });
    expect(groups(r)).toEqual(truth((p) => GROUP_TIER[p.group]!));
  });

  it('last touch: the value on the event that reached the last step, the entry value otherwise', async () => {
    const r = await runFunnel(warehouse, DEFS, 'sa', { ...RANGE, breakdown: 'hours_to_answer', attribution: 'last', plan });
    expect(groups(r)).toEqual(truth((p, k) => (k >= 0 ? String(p.hours[k]) : '(none)')));
    expect(r.breakdown?.attribution).toBe('last');
    // First touch reads the entry event only: a later step's value never leaks in (it used to).
    const first = await runFunnel(warehouse, DEFS, 'sa', { ...RANGE, breakdown: 'hours_to_answer' });
    expect(groups(first)).toEqual([['(none)', 160, truth(() => 'all')[0]![2]]]);
  });

  it('refuses a property the entry event does not carry, pointing at the trait, instead of "(none)" for everyone', async () => {
    await expect(runFunnel(warehouse, DEFS, 'sa', { ...RANGE, breakdown: 'category', plan })).rejects.toMatchObject({
      code: 'unknown_breakdown_property',
      message: expect.stringContaining('use person.category'),
    });
    await expect(runFunnel(warehouse, DEFS, 'sa', { ...RANGE, breakdown: 'shoe_size', attribution: 'last', plan })).rejects.toMatchObject({ code: 'unknown_breakdown_property' });
    await expect(runFunnel(warehouse, DEFS, 'sa', { ...RANGE, breakdown: 'person.shoe_size', plan })).rejects.toMatchObject({ code: 'unknown_breakdown_property' });
    await expect(runFunnel(warehouse, DEFS, 'sa', { ...RANGE, breakdown: 'group.shoe_size', plan })).rejects.toMatchObject({ code: 'unknown_breakdown_property' });
    await expect(runFunnel(warehouse, DEFS, 'sa', { ...RANGE, breakdown: 'x.y.z', plan })).rejects.toMatchObject({ code: 'invalid_breakdown' });
    await expect(runFunnel(warehouse, DEFS, 'sa', { ...RANGE, breakdown: 'community', attribution: 'middle', plan })).rejects.toMatchObject({ code: 'invalid_attribution' });
  });
});
