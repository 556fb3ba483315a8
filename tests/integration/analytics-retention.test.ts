/**
 * Retention on the real embedded engine: a generated world whose weekly retention is computed
 * independently (tests/helpers/known-world.ts), plus hand-worked edge cases: filters, entity
 * retention, incomplete and future periods.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Warehouse } from '../../src/warehouse/client.ts';
import { runRetention } from '../../src/analytics/run.ts';
import { parseKpiFile } from '../../src/analytics/kpi-parse.ts';
import type { KpiDefinitions } from '../../src/analytics/model.ts';
import { retentionQuestion } from '../../src/metabase/questions.ts';
import { DAY, generateWorld, insertWorld, weeklyRetentionTruth, WORLD_START } from '../helpers/known-world.ts';
import { clearEvents, openTestWarehouse, type TestWarehouse } from '../helpers/engine.ts';

let warehouse: Warehouse;
let engine: TestWarehouse | undefined;

beforeAll(async () => {
  engine = await openTestWarehouse('retention');
  warehouse = engine.warehouse;
});

afterAll(async () => {
  await engine?.close();
});

beforeEach(() => clearEvents(warehouse));

function defs(yaml: string): KpiDefinitions {
  const parsed = parseKpiFile('test.yaml', yaml);
  expect(parsed.messages).toEqual([]);
  return parsed.definitions;
}

const DEFS = defs(`
retention:
  - id: weekly
    start: freelancer_signup_completed
    return: mission_proposal_accepted
    grain: week
    periods: 8
  - id: data_only
    start: { event: freelancer_signup_completed, where: { community: data } }
    return: mission_proposal_accepted
    grain: week
    periods: 3
  - id: daily
    start: freelancer_signup_completed
    return: mission_proposal_accepted
    grain: day
    periods: 4
  - id: missions
    entity: mission_id
    start: mission_posted
    return: { event: mission_proposal_sent, where: { match_score: { gt: 0.5 } } }
    grain: month
    periods: 3
`);

const RANGE = { from: '2025-03-03', to: '2025-03-30' };

describe('retention on a generated world', () => {
  it('matches the independently computed weekly cohorts, with stitching, duplicates and early returns', async () => {
    const world = generateWorld(21, 150);
    await insertWorld(warehouse, world.events);
    const now = WORLD_START + 40 * DAY + 12 * 3_600_000; // a Wednesday noon: week 5 under way
    const result = await runRetention(warehouse, DEFS, 'weekly', { ...RANGE, now });
    const truth = weeklyRetentionTruth(world, WORLD_START, WORLD_START + 28 * DAY, now, 8);
    expect(result.cohorts.map((c) => c.cohort)).toEqual([...truth.cohorts.keys()].sort());
    expect(result.entered).toBe(150);
    for (const c of result.cohorts) {
      const expected = truth.cohorts.get(c.cohort)!;
      expect(c.entered).toBe(expected.entered);
      const cohortMs = Date.parse(`${c.cohort}T00:00:00Z`);
      c.cells.forEach((cell, k) => {
        const start = cohortMs + 7 * k * DAY;
        if (start >= now) expect(cell).toMatchObject({ status: 'future', entities: null, rate: null });
        else {
          expect(cell.status).toBe(start + 7 * DAY <= now ? 'complete' : 'incomplete');
          expect(cell.entities).toBe(expected.returned[k]);
        }
      });
    }
    // Enough happened for the comparison to mean something.
    expect(result.cohorts).toHaveLength(4);
    expect(result.cohorts.flatMap((c) => c.cells).filter((cell) => (cell.entities ?? 0) > 0).length).toBeGreaterThan(10);
    // The curve weighs only cohorts that lived each period to its end.
    const p4 = result.curve[4]!;
    const complete = result.cohorts.filter((c) => c.cells[4]!.status === 'complete');
    expect(p4.cohorts).toBe(complete.length);
    expect(p4.entered).toBe(complete.reduce((s, c) => s + c.entered, 0));
    expect(p4.retained).toBe(complete.reduce((s, c) => s + c.cells[4]!.entities!, 0));
    expect(result.curve[7]).toMatchObject({ cohorts: 0, entered: 0, rate: null });
  });
});

const U = 'freelancer_signup_completed';
const A = 'mission_proposal_accepted';
const MON = WORLD_START;

describe('retention edges', () => {
  it('marks a period under way as incomplete (count so far), one not started as future, never 0%', async () => {
    await insertWorld(warehouse, [
      { event: U, user: 'u1', at: MON + 3_600_000 },
      { event: A, user: 'u1', at: MON + 2 * DAY },
      { event: A, user: 'u1', at: MON + 3 * DAY }, // day 3: under way at `now`
      { event: U, user: 'u2', at: MON + DAY + 3_600_000 },
    ]);
    const now = MON + 3 * DAY + 12 * 3_600_000; // Thursday noon
    const result = await runRetention(warehouse, DEFS, 'daily', { from: '2025-03-03', to: '2025-03-03', now });
    expect(result.cohorts).toEqual([
      {
        cohort: '2025-03-03',
        entered: 1,
        cut: false,
        cells: [
          { period: 0, start: '2025-03-03', status: 'complete', entities: 0, rate: 0 },
          { period: 1, start: '2025-03-04', status: 'complete', entities: 0, rate: 0 },
          { period: 2, start: '2025-03-05', status: 'complete', entities: 1, rate: 1 },
          { period: 3, start: '2025-03-06', status: 'incomplete', entities: 1, rate: 1 },
        ],
      },
    ]);
    const later = await runRetention(warehouse, DEFS, 'daily', { from: '2025-03-04', to: '2025-03-04', now });
    expect(later.cohorts[0]?.cells.map((c) => [c.status, c.entities])).toEqual([
      ['complete', 0],
      ['complete', 0],
      ['incomplete', 0],
      ['future', null],
    ]);
    expect(later.curve.map((p) => p.rate)).toEqual([0, 0, null, null]);
  });

  it('applies start filters, and counts a return only after the entry', async () => {
    await insertWorld(warehouse, [
      { event: U, user: 'd1', at: MON, props: { community: 'data' } },
      { event: A, user: 'd1', at: MON + 8 * DAY },
      { event: U, user: 'd2', at: MON, props: { community: 'data' } },
      { event: A, user: 'd2', at: MON - DAY }, // before entry: not a return
      { event: U, user: 't1', at: MON, props: { community: 'tech' } },
      { event: A, user: 't1', at: MON + 8 * DAY },
    ]);
    const result = await runRetention(warehouse, DEFS, 'data_only', { ...RANGE, now: MON + 60 * DAY });
    expect(result.cohorts.map((c) => [c.cohort, c.entered, c.cells.map((x) => x.entities)])).toEqual([['2025-03-03', 2, [0, 1, 0]]]);
  });

  it('follows an entity (mission_id) by month, with return filters', async () => {
    await insertWorld(warehouse, [
      { event: 'mission_posted', user: 'c1', at: MON, props: { mission_id: 'm1' } },
      { event: 'mission_proposal_sent', user: 'c1', at: MON + DAY, props: { mission_id: 'm1', match_score: 0.9 } },
      { event: 'mission_proposal_sent', user: 'c2', at: MON + 35 * DAY, props: { mission_id: 'm1', match_score: 0.9 } },
      { event: 'mission_posted', user: 'c1', at: MON, props: { mission_id: 'm2' } },
      { event: 'mission_proposal_sent', user: 'c1', at: MON + DAY, props: { mission_id: 'm2', match_score: 0.2 } },
    ]);
    const result = await runRetention(warehouse, DEFS, 'missions', { ...RANGE, now: Date.parse('2025-06-15T00:00:00Z') });
    expect(result.cohorts).toEqual([
      {
        cohort: '2025-03-01',
        entered: 2,
        // The range (3 to 30 March) starts and ends inside March: a part of that month's cohort.
        cut: true,
        cells: [
          { period: 0, start: '2025-03-01', status: 'complete', entities: 1, rate: 0.5 },
          { period: 1, start: '2025-04-01', status: 'complete', entities: 1, rate: 0.5 },
          { period: 2, start: '2025-05-01', status: 'complete', entities: 0, rate: 0 },
        ],
      },
    ]);
  });

  it('the Metabase question (SQL relative to now) gives the same cells as the API', async () => {
    const now = Date.now();
    // A Wednesday four weeks back (1970-01-01 was a Thursday): every event lands mid-week, so
    // the cells are the same whatever day the test runs on (it failed on some, with `now - 30 days`).
    const today = Math.floor(now / DAY);
    const start = (today - ((today + 3) % 7) - 28 + 2) * DAY + 10 * 3_600_000;
    await insertWorld(warehouse, [
      { event: U, user: 'q1', at: start },
      { event: A, user: 'q1', at: start + 7 * DAY },
      { event: A, user: 'q1', at: start + 14 * DAY },
      { event: U, user: 'q2', at: start + 1000 },
      // This week's cell, still incomplete.
      { event: A, user: 'q2', at: now - 1 },
      { event: U, user: 'q3', at: start + 2 * DAY },
    ]);
    const def = DEFS.retention.find((r) => r.id === 'weekly')!;
    const rows = await (await warehouse.client.query({ query: retentionQuestion(def).sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();
    const api = await runRetention(warehouse, DEFS, 'weekly', { from: new Date(now - 84 * DAY).toISOString(), to: new Date(now).toISOString(), now });
    const expected = api.cohorts.flatMap((c) => c.cells.filter((x) => (x.entities ?? 0) > 0).map((x) => [c.cohort, x.period, c.entered, x.entities, x.status]));
    expect(rows.map((r) => [String(r.cohort), Number(r.period), Number(r.entered), Number(r.retained), r.status])).toEqual(expected);
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(expected.some((row) => row[4] === 'incomplete')).toBe(true);
  });

  it('refuses an unknown retention id with a stable code', async () => {
    await expect(runRetention(warehouse, DEFS, 'nope')).rejects.toMatchObject({ code: 'retention_not_found' });
  });
});
