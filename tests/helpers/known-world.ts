/**
 * A small generated marketplace whose answers are known exactly, computed here in plain
 * TypeScript from the simulation itself (never from Balise's SQL): retention by weekly
 * cohort, first- and last-touch breakdowns, exclusions. Deterministic under a seed.
 */
import { Readable } from 'node:stream';
import { createRng } from '../../src/demo/prng.ts';
import type { EventRow, EventType } from '../../src/types.ts';
import type { Warehouse } from '../../src/warehouse/client.ts';

export const DAY = 86_400_000;
/** A Monday: cohorts are the four weeks that start here. */
export const WORLD_START = Date.parse('2025-03-03T00:00:00.000Z');

export interface WorldEvent {
  event: string;
  at: number;
  user?: string;
  anon?: string;
  props?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  id?: string;
  type?: EventType;
  previous?: string;
  groupId?: string;
}

let counter = 0;
export function worldRow(e: WorldEvent): EventRow {
  return {
    message_id: e.id ?? `w${++counter}`,
    type: e.type ?? 'track',
    event: e.event,
    user_id: e.user ?? '',
    anonymous_id: e.anon ?? '',
    group_id: e.groupId ?? '',
    previous_id: e.previous ?? '',
    timestamp: e.at,
    sent_at: null,
    received_at: e.at,
    properties: JSON.stringify(e.props ?? {}),
    traits: JSON.stringify(e.traits ?? {}),
    context: '{}',
    source: 'test',
    library_name: 'test',
    library_version: '0',
    plan_version: '2.0.0',
    plan_status: 'valid',
    violations: '[]',
  };
}

export async function insertWorld(warehouse: Warehouse, events: WorldEvent[]): Promise<void> {
  const ndjson = events.map((e) => JSON.stringify(worldRow(e))).join('\n');
  await warehouse.client.exec({ query: 'INSERT INTO events FORMAT JSONEachRow', values: Readable.from([ndjson]) });
}

export interface WorldPerson {
  id: string;
  anon: string;
  community: 'tech' | 'data';
  /** The person's category trait (identify), which a proposal's own category need not match. */
  category: string;
  signupAt: number;
  /** Accepted proposals (epoch ms), some before sign-up, some sent twice. */
  accepts: number[];
  /** hours_to_answer carried by each accept (same order as accepts). */
  hours: number[];
  /** The category of the mission behind each accept: a proposal received one hour before carries it. */
  missionCategories: string[];
  /** The group (company) the person last joined. */
  group: string;
}

export interface World {
  persons: WorldPerson[];
  events: WorldEvent[];
}

const CATEGORIES = ['front', 'back', 'bi', 'data_science'] as const;

/** Sign-ups over four weeks from WORLD_START; accepted proposals from 3 days before to 70 days after. */
export function generateWorld(seed: number, size = 120): World {
  const rng = createRng(seed);
  const persons: WorldPerson[] = [];
  const events: WorldEvent[] = [];
  for (let i = 0; i < size; i++) {
    const p: WorldPerson = {
      id: `fr_w${seed}x${i}`,
      anon: `anon-w${seed}-${i}`,
      community: rng.chance(0.5) ? 'tech' : 'data',
      category: rng.pick(CATEGORIES),
      signupAt: WORLD_START + rng.int(0, 28 * 24 - 1) * 3_600_000 + rng.int(0, 59) * 60_000,
      accepts: [],
      hours: [],
      missionCategories: [],
      group: `grp_${i % 4}`,
    };
    persons.push(p);
    // Anonymous sign-up, then identify: only stitching ties it to the later accepts.
    events.push({ event: 'freelancer_signup_completed', anon: p.anon, at: p.signupAt, props: { freelancer_id: p.id, community: p.community, signup_method: 'email' } });
    events.push({ event: '', type: 'identify', user: p.id, anon: p.anon, at: p.signupAt + 1000, traits: { role: 'freelancer', community: p.community, category: p.category } });
    events.push({ event: '', type: 'group', user: p.id, at: p.signupAt + 2000, props: {}, groupId: p.group });
    const n = rng.int(0, 4);
    for (let k = 0; k < n; k++) {
      const at = p.signupAt + rng.int(-3 * 24, 70 * 24) * 3_600_000 + rng.int(1, 59) * 60_000;
      const hours = rng.int(1, 72);
      const missionCategory = rng.pick(CATEGORIES);
      p.accepts.push(at);
      p.hours.push(hours);
      p.missionCategories.push(missionCategory);
      const id = `acc-${seed}-${i}-${k}`;
      const props = { mission_id: `msn_w${i}k${k}`, freelancer_id: p.id, hours_to_answer: hours };
      // Accepts before the identify are made under the anonymous id, the others under the user id.
      const who = at < p.signupAt + 1000 ? { anon: p.anon } : { user: p.id };
      const before = at - 3_600_000 < p.signupAt + 1000 ? { anon: p.anon } : { user: p.id };
      events.push({ event: 'mission_proposal_received', ...before, at: at - 3_600_000, props: { mission_id: `msn_w${i}k${k}`, freelancer_id: p.id, category: missionCategory, match_score: 0.8 } });
      events.push({ event: 'mission_proposal_accepted', ...who, at, props, id });
      if (rng.chance(0.2)) events.push({ event: 'mission_proposal_accepted', ...who, at, props, id }); // resent: same message_id
    }
  }
  // Group traits: grp_0 starts free and is upgraded later (latest wins), grp_3 never says.
  events.push({ event: '', type: 'group', user: 'admin', at: WORLD_START - DAY, groupId: 'grp_0', traits: { tier: 'free' } });
  events.push({ event: '', type: 'group', user: 'admin', at: WORLD_START + 40 * DAY, groupId: 'grp_0', traits: { tier: 'pro' } });
  events.push({ event: '', type: 'group', user: 'admin', at: WORLD_START - DAY, groupId: 'grp_1', traits: { tier: 'free' } });
  events.push({ event: '', type: 'group', user: 'admin', at: WORLD_START - DAY, groupId: 'grp_2', traits: { tier: 'pro' } });
  return { persons, events };
}

export const GROUP_TIER: Record<string, string> = { grp_0: 'pro', grp_1: 'free', grp_2: 'pro', grp_3: '(none)' };

/** A funnel answer per breakdown value: [value, entered, reached step 2]. */
export type BreakdownTruth = [string, number, number][];

/**
 * sign-up → accepted proposal within `windowMs` (strict order), entries in [fromMs, toMs),
 * broken down by `valueOf(person, firstAccept)` (firstAccept: index of the accept that converted, or −1).
 */
export function signupToAcceptTruth(world: World, fromMs: number, toMs: number, windowMs: number, valueOf: (p: WorldPerson, converting: number) => string): BreakdownTruth {
  const groups = new Map<string, [number, number]>();
  for (const p of world.persons) {
    if (p.signupAt < fromMs || p.signupAt >= toMs) continue;
    let converting = -1;
    p.accepts.forEach((at, k) => {
      if (at > p.signupAt && at <= p.signupAt + windowMs && (converting === -1 || at < p.accepts[converting]!)) converting = k;
    });
    const value = valueOf(p, converting);
    const g = groups.get(value) ?? [0, 0];
    g[0]++;
    if (converting >= 0) g[1]++;
    groups.set(value, g);
  }
  return [...groups.entries()].map(([v, [e, c]]): [string, number, number] => [v, e, c]).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

const monday = (ms: number): number => {
  const day = Math.floor(ms / DAY) * DAY;
  const weekday = (new Date(day).getUTCDay() + 6) % 7; // Monday = 0
  return day - weekday * DAY;
};

export interface RetentionTruth {
  /** cohort (YYYY-MM-DD) → entered, and per period how many returned (up to asOf). */
  cohorts: Map<string, { entered: number; returned: number[] }>;
}

/** Weekly retention of sign-up → accepted proposal, entries in [fromMs, toMs), returns seen before asOfMs. */
export function weeklyRetentionTruth(world: World, fromMs: number, toMs: number, asOfMs: number, periods: number): RetentionTruth {
  const cohorts = new Map<string, { entered: number; returned: number[] }>();
  for (const p of world.persons) {
    if (p.signupAt < fromMs || p.signupAt >= toMs) continue;
    const cohortMs = monday(p.signupAt);
    const key = new Date(cohortMs).toISOString().slice(0, 10);
    let c = cohorts.get(key);
    if (!c) cohorts.set(key, (c = { entered: 0, returned: Array.from({ length: periods }, () => 0) }));
    c.entered++;
    const hit = new Set<number>();
    for (const at of p.accepts) {
      if (at <= p.signupAt || at >= asOfMs) continue;
      const period = Math.round((monday(at) - cohortMs) / (7 * DAY));
      if (period < periods) hit.add(period);
    }
    for (const period of hit) c.returned[period]!++;
  }
  return { cohorts };
}
