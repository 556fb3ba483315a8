/**
 * Explore and People through the real API on the real engine, against a small world whose truth
 * is known: Alice has two anonymous ids and an alias, one of her events is quarantined; Bob and
 * Carol drop out of the funnel at known steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrendResult } from '../../src/analytics/explore.ts';
import type { FunnelResult } from '../../src/analytics/results.ts';
import type { Timeline } from '../../src/api/people.ts';
import type { PlanCatalog } from '../../src/api/catalog.ts';
import type { EventRow, QuarantineRow } from '../../src/types.ts';
import { insertJsonLines } from '../../src/warehouse/insert.ts';
import { worldRow } from '../helpers/known-world.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const T0 = Date.parse('2026-01-10T10:00:00Z');
const H = 3_600_000;
const D = 24 * H;
const RANGE = { from: '2026-01-01', to: '2026-01-31' };

let stack: Stack;

const row = (id: string, type: EventRow['type'], event: string, ids: { user?: string; anon?: string; previous?: string }, at: number, props: Record<string, unknown> = {}): EventRow =>
  worldRow({ id, type, event, user: ids.user, anon: ids.anon, previous: ids.previous, at, props });

const ALICE = [
  row('a-old-received', 'track', 'mission_proposal_received', { user: 'old_alice' }, T0 - D, { mission_id: 'msn_2', category: 'bi', match_score: 0.75 }),
  row('a-start', 'track', 'freelancer_signup_started', { anon: 'anon_a1' }, T0),
  row('a-identify-1', 'identify', '', { user: 'u_alice', anon: 'anon_a1' }, T0 + 60_000),
  row('a-received', 'track', 'mission_proposal_received', { anon: 'anon_a2' }, T0 + D, { mission_id: 'msn_1', category: 'bi', match_score: 0.5 }),
  row('a-identify-2', 'identify', '', { user: 'u_alice', anon: 'anon_a2' }, T0 + D + 60_000),
  row('a-alias', 'alias', '', { user: 'u_alice', previous: 'old_alice' }, T0 + 2 * D),
  row('a-completed', 'track', 'mission_completed', { user: 'u_alice' }, T0 + 3 * D, { mission_id: 'msn_1', freelancer_id: 'fr_a', company_id: 'cmp_1' }),
];
const BOB = [
  row('b-start', 'track', 'freelancer_signup_started', { anon: 'anon_b1' }, T0 + 2 * H),
  row('b-identify', 'identify', '', { user: 'u_bob', anon: 'anon_b1' }, T0 + 3 * H),
  row('b-received', 'track', 'mission_proposal_received', { user: 'u_bob' }, T0 + 2 * D, { mission_id: 'msn_1', category: 'data_science', match_score: 0.125 }),
];
const CAROL = [row('c-start', 'track', 'freelancer_signup_started', { anon: 'anon_c1' }, T0 + 4 * H)];

const QUARANTINED: QuarantineRow = {
  message_id: 'a-quarantined',
  received_at: T0 + D + 2 * H,
  source: 'test',
  type: 'track',
  event: 'mission_proposal_received',
  plan_version: '2.0.0',
  reasons: ['required'],
  violations: JSON.stringify([{ path: '/properties/category', rule: 'required', message: 'category is required' }]),
  raw: JSON.stringify({
    type: 'track',
    messageId: 'a-quarantined',
    event: 'mission_proposal_received',
    userId: '',
    anonymousId: 'anon_a2',
    timestamp: T0 + D + 2 * H,
    properties: { mission_id: 'msn_1' },
  }),
};

/** Quarantined, then resent by the client and stored (a-completed): one event, shown once, as stored. */
const RESENT: QuarantineRow = {
  ...QUARANTINED,
  message_id: 'a-completed',
  raw: JSON.stringify({ type: 'track', messageId: 'a-completed', event: 'mission_completed', userId: 'u_alice', timestamp: T0 + 3 * D, properties: {} }),
};
/** Bob, quarantined on Alice's second device: Bob's, as the funnels and privacy attribute it, not Alice's. */
const BOB_ON_ALICE_DEVICE: QuarantineRow = {
  ...QUARANTINED,
  message_id: 'b-on-a2',
  raw: JSON.stringify({ type: 'track', messageId: 'b-on-a2', event: 'mission_proposal_received', userId: 'u_bob', anonymousId: 'anon_a2', timestamp: T0 + 2 * D, properties: {} }),
};

beforeAll(async () => {
  stack = await startStack();
  await insertJsonLines(
    stack.warehouse,
    'events',
    [...ALICE, ...BOB, ...CAROL].map((r) => JSON.stringify(r)),
  );
  await insertJsonLines(
    stack.warehouse,
    'quarantine',
    [QUARANTINED, RESENT, BOB_ON_ALICE_DEVICE].map((r) => JSON.stringify(r)),
  );
});

afterAll(async () => {
  await stack?.stop();
});

async function call<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${stack.baseUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

const ids = (t: Timeline) => t.events.map((e) => e.message_id).sort();

describe('people: a stitched timeline by any id', () => {
  const aliceIds = [...ALICE.map((r) => r.message_id), 'a-quarantined'].sort();

  it('finds Alice by her userId, either anonymous id and her alias, with exactly her events', async () => {
    for (const id of ['u_alice', 'anon_a1', 'anon_a2', 'old_alice']) {
      const { status, body } = await call<Timeline>('GET', `/api/people/${id}`);
      expect(status, id).toBe(200);
      expect(body.subject, id).toEqual({ kind: 'person', person: 'u_alice', ids: ['u_alice', 'anon_a1', 'anon_a2', 'old_alice'] });
      expect(ids(body), id).toEqual(aliceIds);
    }
  });

  it('orders the timeline by time and gives each event the plan verdict, quarantine included', async () => {
    const { body } = await call<Timeline>('GET', '/api/people/anon_a2');
    expect(body.events.map((e) => e.message_id)).toEqual(['a-old-received', 'a-start', 'a-identify-1', 'a-received', 'a-identify-2', 'a-quarantined', 'a-alias', 'a-completed']);
    const held = body.events.find((e) => e.message_id === 'a-quarantined');
    expect(held).toMatchObject({ verdict: 'quarantined', reasons: ['required'], anonymous_id: 'anon_a2', event: 'mission_proposal_received', timestamp: '2026-01-11 12:00:00.000' });
    expect(body.events.filter((e) => e.verdict === 'valid')).toHaveLength(7);
  });

  it('keeps Bob apart, and says 404 for an id nobody has', async () => {
    const { body } = await call<Timeline>('GET', '/api/people/anon_b1');
    expect(body.subject).toEqual({ kind: 'person', person: 'u_bob', ids: ['u_bob', 'anon_b1'] });
    // Found 2026-12-05: Bob's quarantined event on Alice's device was on her timeline, and a resend both quarantined and stored was listed twice.
    expect(ids(body)).toEqual([...BOB.map((r) => r.message_id), 'b-on-a2'].sort());
    const missing = await call<{ code: string }>('GET', '/api/people/nobody_at_all');
    expect(missing).toEqual({ status: 404, body: expect.objectContaining({ code: 'person_not_found' }) });
  });

  it('lists an entity by a property value, across people, quarantine included', async () => {
    const { status, body } = await call<Timeline>('GET', '/api/entities/mission_id/msn_1');
    expect(status).toBe(200);
    expect(ids(body)).toEqual(['a-completed', 'a-quarantined', 'a-received', 'b-received']);
    const unknown = await call<{ code: string }>('GET', '/api/entities/not_a_property/x');
    expect(unknown).toEqual({ status: 400, body: expect.objectContaining({ code: 'unknown_property' }) });
  });
});

describe('explore: ad-hoc trends and funnels, validated like kpis/*.yaml', () => {
  it('serves the plan catalog for the pickers: only planned track events and their properties', async () => {
    const { body } = await call<PlanCatalog>('GET', '/api/plan/catalog');
    const received = body.events.find((e) => e.name === 'mission_proposal_received');
    expect(received?.properties.map((p) => `${p.name}:${p.type}`)).toEqual(['category:string', 'freelancer_id:string', 'match_score:number', 'mission_id:string']);
    expect(body.events.map((e) => e.name)).not.toContain('');
  });

  it('sums a numeric property by day and by a breakdown', async () => {
    const definition = { id: 'score_sum', type: 'sum', event: 'mission_proposal_received', property: 'match_score', breakdown: 'mission_id', grain: 'day' };
    const { status, body } = await call<{ yaml: string; result: TrendResult }>('POST', '/api/explore/trend', { definition, ...RANGE });
    expect(status).toBe(200);
    expect(body.result.series.map((s) => [s.value, s.total])).toEqual([
      ['msn_2', 0.75],
      ['msn_1', 0.625],
    ]);
    const day = (d: string) => body.result.buckets.indexOf(d);
    expect(body.result.series[1]!.values[day('2026-01-11')]).toBe(0.5);
    expect(body.result.series[1]!.values[day('2026-01-12')]).toBe(0.125);
    expect(body.result.buckets).toHaveLength(31);
    expect(body.result.incomplete.every((x) => !x)).toBe(true);
    expect(body.yaml).toBe('metrics:\n  - id: score_sum\n    type: sum\n    event: mission_proposal_received\n    property: match_score\n    breakdown: mission_id\n    grain: day\n');
  });

  it('counts unique stitched persons (Alice once under two ids, Bob once)', async () => {
    const definition = { id: 'receivers', type: 'unique_persons', event: 'mission_proposal_received', grain: 'month' };
    const { body } = await call<{ result: TrendResult }>('POST', '/api/explore/trend', { definition, ...RANGE });
    expect(body.result.series.map((s) => s.total)).toEqual([2]);
  });

  it('refuses what plan check refuses, with every reason', async () => {
    const unknownProperty = await call<{ code: string; message: string }>('POST', '/api/explore/trend', {
      definition: { id: 'x', type: 'average', event: 'mission_proposal_received', property: 'daily_rate', grain: 'week' },
      ...RANGE,
    });
    expect(unknownProperty.status).toBe(400);
    expect(unknownProperty.body.code).toBe('kpi_definition_invalid');
    expect(unknownProperty.body.message).toContain('"daily_rate" is not a property of "mission_proposal_received"');
    const unplanned = await call<{ code: string; message: string }>('POST', '/api/explore/funnel', { definition: { id: 'f', steps: ['freelancer_signup_started', 'no_such_event'] }, ...RANGE });
    expect(unplanned.body).toMatchObject({ code: 'kpi_definition_invalid' });
    expect(unplanned.body.message).toContain('"no_such_event" is not in the tracking plan');
    const unknownKey = await call<{ code: string }>('POST', '/api/explore/trend', { definition: { id: 'x', type: 'count', event: 'mission_posted', colour: 'red' }, ...RANGE });
    expect(unknownKey).toEqual({ status: 400, body: expect.objectContaining({ code: 'explore_invalid' }) });
    const ratio = await call<{ code: string }>('POST', '/api/explore/trend', { definition: { id: 'x', type: 'ratio', numerator: 'a', denominator: 'b' }, ...RANGE });
    expect(ratio.body.code).toBe('explore_invalid');
  });

  it('runs an ad-hoc funnel on stitched persons and lists who dropped off at each step', async () => {
    const definition = {
      id: 'signup_to_mission',
      entity: 'person',
      window: '30d',
      steps: [{ event: 'freelancer_signup_started' }, { event: 'mission_proposal_received' }, { event: 'mission_completed' }],
    };
    const { status, body } = await call<{ result: FunnelResult; yaml: string }>('POST', '/api/explore/funnel', { definition, ...RANGE });
    expect(status).toBe(200);
    expect(body.result.steps.map((s) => s.count)).toEqual([3, 2, 1]);
    const step2 = await call<{ dropOffs: { entities: { entity: string }[] } }>('POST', '/api/explore/funnel', { definition, ...RANGE, dropOffStep: 2 });
    expect(step2.body.dropOffs.entities.map((e) => e.entity)).toEqual(['anon_c1']);
    const step3 = await call<{ dropOffs: { entities: { entity: string }[] } }>('POST', '/api/explore/funnel', { definition, ...RANGE, dropOffStep: 3 });
    expect(step3.body.dropOffs.entities.map((e) => e.entity)).toEqual(['u_bob']);
    const bad = await call<{ code: string }>('POST', '/api/explore/funnel', { definition, ...RANGE, dropOffStep: 1 });
    expect(bad).toEqual({ status: 400, body: expect.objectContaining({ code: 'invalid_parameter' }) });
  });
});

describe('data health honours the end of the range', () => {
  it('counts only what happened up to the end day', async () => {
    type Health = { acceptedTotal: number; quarantinedTotal: number; eventsSeen: { event: string }[] };
    // Up to 10 January: Alice's old proposal (9th) and the three sign-up starts and two identifies of the 10th.
    const early = await call<Health>('GET', '/api/health/plan?from=2026-01-01&to=2026-01-10');
    expect(early.body.acceptedTotal).toBe(6);
    expect(early.body.quarantinedTotal).toBe(0);
    expect(early.body.eventsSeen.map((e) => e.event)).not.toContain('mission_completed');
    const all = await call<Health>('GET', '/api/health/plan?from=2026-01-01&to=2026-01-31');
    expect(all.body.acceptedTotal).toBe(ALICE.length + BOB.length + CAROL.length);
    // a-quarantined and b-on-a2; a-completed, stored since, no longer.
    expect(all.body.quarantinedTotal).toBe(2);
  });
});
