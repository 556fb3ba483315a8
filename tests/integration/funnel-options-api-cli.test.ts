/**
 * Optional steps and exclusions in any order (decision 0036) through the real HTTP API and the
 * real `balise` CLI, on the generated world (tests/helpers/known-world.ts) plus profile and
 * declined-proposal events added here; the expected answers are computed below in plain
 * TypeScript from the simulation, never from Balise's SQL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunnelResult } from '../../src/analytics/results.ts';
import { createRng } from '../../src/demo/prng.ts';
import { DAY, generateWorld, insertWorld, WORLD_START, type World, type WorldEvent } from '../helpers/known-world.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { runCli } from '../helpers/process.ts';
import { startStack, tempDir, type Stack } from '../helpers/stack.ts';

const HOUR = 3_600_000;
const WINDOW = 30 * DAY;
const FROM = '2025-03-03';
const TO = '2025-03-30';

const FUNNELS = `funnels:
  - id: signup_profile_optional
    title: Sign-up, profile (optional), accepted
    window: 30d
    steps:
      - freelancer_signup_completed
      - { event: freelancer_profile_completed, optional: true }
      - mission_proposal_accepted
  - id: signup_any_without_decline
    title: Sign-up, then profile and an accept without a decline since sign-up, any order
    order: any
    window: 30d
    steps:
      - freelancer_signup_completed
      - freelancer_profile_completed
      - { event: mission_proposal_accepted, exclude: [mission_proposal_declined] }
`;

/** Per person of the world: profile completions and declined proposals, deterministic. */
interface Extra {
  profiles: number[];
  declines: number[];
}

function addExtras(world: World): { extras: Map<string, Extra>; events: WorldEvent[] } {
  const rng = createRng(77);
  const extras = new Map<string, Extra>();
  const events: WorldEvent[] = [];
  for (const p of world.persons) {
    const e: Extra = { profiles: [], declines: [] };
    // Some before sign-up (anonymous, stitched), most after; some beyond the window.
    if (rng.chance(0.6)) e.profiles.push(p.signupAt + rng.int(-2 * 24, 40 * 24) * HOUR + 30 * 60_000);
    if (rng.chance(0.4)) e.declines.push(p.signupAt + rng.int(-2 * 24, 40 * 24) * HOUR + 20 * 60_000);
    for (const at of e.profiles) events.push({ event: 'freelancer_profile_completed', ...(at < p.signupAt + 1000 ? { anon: p.anon } : { user: p.id }), at, props: { freelancer_id: p.id } });
    for (const at of e.declines) events.push({ event: 'mission_proposal_declined', user: p.id, at, props: { mission_id: `msn_d${p.id}`, freelancer_id: p.id, reason: 'other' } });
    extras.set(p.id, e);
  }
  return { extras, events };
}

/** [entered, step 2, step 3] of each funnel, by the definitions of decision 0036. */
function truth(world: World, extras: Map<string, Extra>, fromMs: number, toMs: number) {
  const optional: [number, number, number] = [0, 0, 0];
  const anyOrder: [number, number, number] = [0, 0, 0];
  const dropOffsBeforeAccept: string[] = [];
  let withoutExclusion = 0;
  for (const p of world.persons) {
    if (p.signupAt < fromMs || p.signupAt >= toMs) continue;
    const e = extras.get(p.id)!;
    const t0 = p.signupAt;
    const inWindow = (x: number, strict: boolean) => (strict ? x > t0 : x >= t0) && x <= t0 + WINDOW;
    // Strict, profile optional: the accept is measured from the sign-up; the profile counts before it.
    const accept = Math.min(...p.accepts.filter((x) => inWindow(x, true)), Infinity);
    const profile = e.profiles.some((x) => inWindow(x, true) && x < accept);
    optional[0]++;
    if (profile) optional[1]++;
    if (accept < Infinity) optional[2]++;
    else dropOffsBeforeAccept.push(p.id);
    // Any order: a profile and an accept with no decline between sign-up and it.
    const hasProfile = e.profiles.some((x) => inWindow(x, false));
    const cleanAccept = p.accepts.some((x) => inWindow(x, false) && !e.declines.some((z) => z > t0 && z < x));
    anyOrder[0]++;
    if (hasProfile) anyOrder[1]++;
    if (hasProfile && cleanAccept) anyOrder[2]++;
    if (hasProfile && p.accepts.some((x) => inWindow(x, false))) withoutExclusion++;
  }
  return { optional, anyOrder, dropOffsBeforeAccept, withoutExclusion };
}

let stack: Stack;
let world: World;
let expected: ReturnType<typeof truth>;

beforeAll(async () => {
  const planDir = tempDir('balise-funnel-options-');
  fs.cpSync(FIXTURE_PLAN, planDir, { recursive: true });
  fs.writeFileSync(path.join(planDir, 'kpis', 'options.yaml'), FUNNELS);
  stack = await startStack({ planDir });
  world = generateWorld(41, 120);
  const { extras, events } = addExtras(world);
  await insertWorld(stack.warehouse, [...world.events, ...events]);
  expected = truth(world, extras, WORLD_START, WORLD_START + 28 * DAY);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function api<T>(route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.baseUrl}${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${stack.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}
const cli = (args: string[]) => runCli(args, { BALISE_URL: stack.baseUrl, BALISE_ADMIN_TOKEN: stack.adminToken, NO_COLOR: '1' });

describe('optional funnel steps over HTTP and the CLI', () => {
  it('counts the optional step by who did it and measures the accept from the sign-up, exactly', async () => {
    // The world is large enough for every case to occur: skippers who convert, profiles without an accept.
    const [entered, profiled, accepted] = expected.optional as [number, number, number];
    expect(entered).toBe(120);
    expect(profiled).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(profiled / 2);

    const res = await api<FunnelResult>(`/api/funnels/signup_profile_optional?from=${FROM}&to=${TO}`);
    expect(res.status).toBe(200);
    expect(res.body.steps.map((s) => s.count)).toEqual(expected.optional);
    expect(res.body.steps.map((s) => [s.optional, s.previousStep])).toEqual([
      [false, 0],
      [true, 1],
      [false, 1],
    ]);
    // The accept's conversion and drop-off compare with the sign-up, not with the optional step.
    expect(res.body.steps[2]?.conversionFromPrevious).toBeCloseTo(accepted / entered, 10);
    expect(res.body.steps[2]?.dropOff).toBe(entered - accepted);
    expect(res.body.conversion).toBeCloseTo(accepted / entered, 10);

    const drop = await api<{ entities: { entity: string }[] }>(`/api/funnels/signup_profile_optional/dropoffs?from=${FROM}&to=${TO}&step=3`);
    expect(drop.body.entities.map((e) => e.entity).sort()).toEqual([...expected.dropOffsBeforeAccept].sort());

    const json = await cli(['funnel', 'signup_profile_optional', '--from', FROM, '--to', TO, '--json']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.output) as FunnelResult).steps.map((s) => s.count)).toEqual(expected.optional);
    const text = await cli(['funnel', 'signup_profile_optional', '--from', FROM, '--to', TO]);
    expect(text.code).toBe(0);
    expect(text.output).toContain('freelancer_profile_completed (optional)');
    expect(text.output).toContain('Step rules: step 3 measured from step 1 (optional steps between may be skipped)');
  }, 60_000);
});

describe('optional steps and exclusions explored ad hoc', () => {
  it('answers the same from the Explore endpoint, and the YAML to save carries the options', async () => {
    const definition = {
      id: 'explored',
      order: 'any',
      window: '30d',
      steps: [
        { event: 'freelancer_signup_completed', optional: false, exclude: [] },
        { event: 'freelancer_profile_completed' },
        { event: 'mission_proposal_accepted', exclude: ['mission_proposal_declined'] },
      ],
    };
    const res = await api<{ yaml: string; result: FunnelResult }>('/api/explore/funnel', { definition, from: FROM, to: TO });
    expect(res.status).toBe(200);
    expect(res.body.result.steps.map((s) => s.count)).toEqual(expected.anyOrder);
    expect(res.body.yaml).toContain('exclude:\n          - mission_proposal_declined');
    expect(res.body.yaml).not.toContain('optional: false');

    const optional = { id: 'explored_optional', window: '30d', steps: ['freelancer_signup_completed', { event: 'freelancer_profile_completed', optional: true }, 'mission_proposal_accepted'] };
    const opt = await api<{ yaml: string; result: FunnelResult }>('/api/explore/funnel', { definition: optional, from: FROM, to: TO, dropOffStep: 3 });
    expect(opt.status).toBe(200);
    expect(opt.body.result.steps.map((s) => s.count)).toEqual(expected.optional);
    expect(opt.body.yaml).toContain('optional: true');

    const last = await api<{ code: string; message: string }>('/api/explore/funnel', {
      definition: { id: 'bad', steps: ['freelancer_signup_completed', { event: 'mission_proposal_accepted', optional: true }] },
      from: FROM,
      to: TO,
    });
    expect(last.status).toBe(400);
    expect(last.body.message).toContain('the last step cannot be optional');
  }, 60_000);
});

describe('exclusions in an any-order funnel over HTTP and the CLI', () => {
  it('voids the accept when a decline falls between the sign-up and it, exactly', async () => {
    const [, profiled, converted] = expected.anyOrder as [number, number, number];
    // Declines void some accepts: the exclusion changes the answer in this world.
    expect(converted).toBeGreaterThan(0);
    expect(converted).toBeLessThan(expected.withoutExclusion);
    expect(expected.withoutExclusion).toBeLessThanOrEqual(profiled);

    const res = await api<FunnelResult>(`/api/funnels/signup_any_without_decline?from=${FROM}&to=${TO}`);
    expect(res.status).toBe(200);
    expect(res.body.order).toBe('any');
    expect(res.body.steps.map((s) => s.count)).toEqual(expected.anyOrder);
    expect(res.body.steps[2]?.exclude).toEqual(['mission_proposal_declined']);

    const text = await cli(['funnel', 'signup_any_without_decline', '--from', FROM, '--to', TO]);
    expect(text.code).toBe(0);
    expect(text.output).toContain('Step rules: step 3 without mission_proposal_declined between the entry and it');
    expect(text.output).toContain(`Overall conversion: ${((100 * converted) / 120).toFixed(1)}% (${converted} of 120)`);
  }, 60_000);
});
