/**
 * The project time zone (decision 0038), asserted as compiled SQL with its parameters and run on
 * the real engine (chDB) against a fixture whose answer was worked out by hand: events at 23:30
 * UTC land on the next day in Europe/Paris, and the week of 24 March 2025 holds the change to
 * summer time (Sunday 30 March, 02:00 → 03:00), so a fixed +1 h offset would get it wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrend } from '../../src/analytics/explore.ts';
import { compileFunnel } from '../../src/analytics/funnel-sql.ts';
import { compileMetric, compileTrend } from '../../src/analytics/metric-sql.ts';
import type { EventMetric, FunnelDefinition, RetentionDefinition } from '../../src/analytics/model.ts';
import { compileRetention } from '../../src/analytics/retention-sql.ts';
import { runRetentionDefinition } from '../../src/analytics/run.ts';
import { resolveRange } from '../../src/analytics/sql-common.ts';
import type { Warehouse } from '../../src/warehouse/client.ts';
import { queryRows } from '../../src/warehouse/query.ts';
import { metricQuestion, retentionQuestion } from '../../src/metabase/questions.ts';
import { addDays, zonedDate, zonedMidnight } from '../../src/util/zone.ts';
import { openTestWarehouse, type TestWarehouse } from '../helpers/engine.ts';
import { insertWorld } from '../helpers/known-world.ts';

const PARIS = 'Europe/Paris';
const at = (iso: string) => Date.parse(iso);

/**
 * `order` events, with their day in UTC and in Paris (CET = UTC+1 until 30 March 01:00 UTC, CEST = UTC+2 after):
 * o0 2025-03-02 23:30Z  UTC Sun 2 Mar  | Paris Mon 3 Mar 00:30  (inside a Paris range from 3 Mar, outside a UTC one)
 * o1 2025-03-03 23:30Z  UTC Mon 3 Mar  | Paris Tue 4 Mar 00:30
 * o2 2025-03-09 23:30Z  UTC Sun 9 Mar  | Paris Mon 10 Mar 00:30 (next week)
 * o3 2025-03-30 21:30Z  UTC Sun 30 Mar | Paris Sun 30 Mar 23:30 CEST (same day, week of 24 Mar)
 * o4 2025-03-30 22:30Z  UTC Sun 30 Mar | Paris Mon 31 Mar 00:30 CEST (a fixed +1 h would say Sun 23:30)
 * o5 2025-03-31 22:30Z  UTC Mon 31 Mar | Paris Tue 1 Apr 00:30 CEST (next month)
 */
const ORDERS = [
  ['o0', '2025-03-02T23:30:00Z'],
  ['o1', '2025-03-03T23:30:00Z'],
  ['o2', '2025-03-09T23:30:00Z'],
  ['o3', '2025-03-30T21:30:00Z'],
  ['o4', '2025-03-30T22:30:00Z'],
  ['o5', '2025-03-31T22:30:00Z'],
] as const;

/**
 * Sign-ups and visits for retention and funnel cohorts:
 * p1 signs up 2025-03-23 23:30Z (Paris Mon 24 Mar 00:30 → Paris cohort 24 Mar; UTC cohort 17 Mar),
 *    visits 2025-03-30 22:30Z (Paris Mon 31 Mar → Paris period 1; UTC Sun 30 Mar → UTC period 1 of cohort 17 Mar).
 * p2 signs up 2025-03-24 08:00Z (cohort 24 Mar in both), visits 2025-03-30 22:30Z (Paris period 1; UTC period 0).
 */
const PEOPLE = [
  { id: 's1', user: 'p1', event: 'signup', at: at('2025-03-23T23:30:00Z') },
  { id: 'v1', user: 'p1', event: 'visit', at: at('2025-03-30T22:30:00Z') },
  { id: 's2', user: 'p2', event: 'signup', at: at('2025-03-24T08:00:00Z') },
  { id: 'v2', user: 'p2', event: 'visit', at: at('2025-03-30T22:30:00Z') },
];

/** The range a person types: 3 March to 6 April, read in Paris (its midnights: 23:00Z in winter, 22:00Z in summer). */
const PARIS_RANGE = resolveRange({ from: '2025-03-03', to: '2025-04-06', timeZone: PARIS });
const UTC_RANGE = resolveRange({ from: '2025-03-03', to: '2025-04-06' });
const AS_OF = at('2025-05-01T00:00:00Z');

let warehouse: Warehouse;
let engine: TestWarehouse | undefined;
beforeAll(async () => {
  engine = await openTestWarehouse('time-zone');
  warehouse = engine.warehouse;
  await insertWorld(warehouse, [...ORDERS.map(([id, iso]) => ({ id, event: 'order', user: `u-${id}`, at: at(iso) })), ...PEOPLE]);
});
afterAll(async () => {
  await engine?.close();
});

const orders = (grain: EventMetric['grain']): EventMetric => ({
  kind: 'metric',
  id: 'orders',
  title: 'Orders',
  description: '',
  grain,
  unit: '',
  file: 'kpis/t.yaml',
  line: 1,
  type: 'count',
  event: 'order',
  filters: [],
});

async function series(grain: EventMetric['grain'], range: typeof PARIS_RANGE): Promise<Record<string, number>> {
  const { sql, params } = compileMetric(orders(grain), range, grain);
  const rows = await queryRows<{ key: string; value: number }>(warehouse, sql, params);
  return Object.fromEntries(rows.map((r) => [r.key.slice(0, 10), Number(r.value)]));
}

describe('a range typed as dates is read in the project zone', () => {
  it('starts and ends at Paris midnights, one of them after the change to summer time', () => {
    expect(new Date(PARIS_RANGE.fromMs).toISOString()).toBe('2025-03-02T23:00:00.000Z');
    expect(new Date(PARIS_RANGE.toMs).toISOString()).toBe('2025-04-06T22:00:00.000Z');
    expect(new Date(UTC_RANGE.fromMs).toISOString()).toBe('2025-03-03T00:00:00.000Z');
    // A date-time without an offset is a Paris wall-clock time too; one with an offset is taken as written.
    expect(new Date(resolveRange({ from: '2025-03-30T03:30', to: '2025-04-01T00:00:00+00:00', timeZone: PARIS }).fromMs).toISOString()).toBe('2025-03-30T01:30:00.000Z');
  });

  it('refuses an unknown zone with invalid_time_zone', () => {
    expect(() => resolveRange({ timeZone: 'Europe/Pariss' })).toThrow(expect.objectContaining({ code: 'invalid_time_zone' }));
    expect(() => resolveRange({ timeZone: "UTC'); DROP TABLE events; --" })).toThrow(expect.objectContaining({ code: 'invalid_time_zone' }));
  });
});

describe('metric buckets follow the zone', () => {
  it('compiles the zone as the {tz:String} parameter of every calendar function', () => {
    const q = compileMetric(orders('week'), PARIS_RANGE, 'week');
    expect(q.sql).toContain('SELECT toStartOfWeek(ts, 1, {tz:String}) AS bucket');
    // The previous period is as many local days before (35): it starts at a Paris midnight too, not
    // an hour off for the hour summer time took from the range.
    expect(q.params).toEqual({ previous_from: '2025-01-26 23:00:00.000', from: '2025-03-02 23:00:00.000', to: '2025-04-06 22:00:00.000', tz: PARIS });
    expect(compileMetric(orders('day'), PARIS_RANGE, 'day').sql).toContain('SELECT toDate(ts, {tz:String}) AS bucket');
    expect(compileMetric(orders('month'), PARIS_RANGE, 'month').sql).toContain('SELECT toStartOfMonth(ts, {tz:String}) AS bucket');
    expect(compileTrend(orders('week'), PARIS_RANGE).sql).toContain('SELECT toStartOfWeek(ts, 1, {tz:String}) AS bucket');
  });

  it.each([
    // Paris: o0 3 Mar, o1 4 Mar, o2 10 Mar, o3 30 Mar, o4 31 Mar, o5 1 Apr.
    ['day', PARIS, { current: 6, '2025-03-03': 1, '2025-03-04': 1, '2025-03-10': 1, '2025-03-30': 1, '2025-03-31': 1, '2025-04-01': 1 }],
    // Paris weeks: 3 Mar (o0, o1), 10 Mar (o2), 24 Mar (o3), 31 Mar (o4, o5).
    ['week', PARIS, { current: 6, '2025-03-03': 2, '2025-03-10': 1, '2025-03-24': 1, '2025-03-31': 2 }],
    ['month', PARIS, { current: 6, '2025-03-01': 5, '2025-04-01': 1 }],
    // UTC, same dates typed: o0 falls before the range (it is the previous period's); weeks 3 Mar (o1, o2), 24 Mar (o3, o4), 31 Mar (o5).
    ['week', 'UTC', { previous: 1, current: 5, '2025-03-03': 2, '2025-03-24': 2, '2025-03-31': 1 }],
    ['month', 'UTC', { previous: 1, current: 5, '2025-03-01': 5 }],
  ] as const)('by %s in %s', async (grain, zone, expected) => {
    expect(await series(grain, zone === PARIS ? PARIS_RANGE : UTC_RANGE)).toEqual(expected);
  });

  it('an ad-hoc trend lists every local bucket and marks the ones the range cuts', async () => {
    const trend = await runTrend(warehouse, orders('week'), PARIS_RANGE, AS_OF);
    expect(trend.timeZone).toBe(PARIS);
    expect(trend.buckets).toEqual(['2025-03-03', '2025-03-10', '2025-03-17', '2025-03-24', '2025-03-31']);
    expect(trend.series[0]?.values).toEqual([2, 1, 0, 1, 2]);
    expect(trend.incomplete).toEqual([false, false, false, false, false]);
    // The week of 31 March runs to Paris's midnight of 7 April: a range ending on the 5th cuts it.
    const cut = await runTrend(warehouse, orders('week'), resolveRange({ from: '2025-03-03', to: '2025-04-05', timeZone: PARIS }), AS_OF);
    expect(cut.incomplete).toEqual([false, false, false, false, true]);
  });
});

const retention: RetentionDefinition = {
  kind: 'retention',
  id: 'visits',
  title: 'Visits',
  description: '',
  start: { event: 'signup', filters: [] },
  return: { event: 'visit', filters: [] },
  grain: 'week',
  periods: 3,
  entity: { kind: 'person' },
  file: 'kpis/t.yaml',
  line: 1,
};

describe('retention cohorts and periods follow the zone', () => {
  it('compiles the zone into the cohort and the period buckets', () => {
    const q = compileRetention(retention, { ...PARIS_RANGE, asOfMs: AS_OF });
    expect(q.sql).toContain('SELECT toStartOfWeek(fromUnixTimestamp64Milli(t0, {tz:String}), 1) AS cohort,');
    expect(q.sql).toContain("arrayMap(x -> intDiv(dateDiff('day', cohort, toStartOfWeek(fromUnixTimestamp64Milli(x, {tz:String}), 1)), 7)");
    expect(q.params).toEqual({ from: '2025-03-02 23:00:00.000', to: '2025-04-06 22:00:00.000', as_of: '2025-05-01 00:00:00.000', periods: 3, tz: PARIS });
  });

  it('counts p1 and p2 in the Paris week of 24 March, both back in period 1; UTC splits them', async () => {
    const paris = await runRetentionDefinition(warehouse, retention, { from: '2025-03-03', to: '2025-04-06', timeZone: PARIS, now: AS_OF });
    expect(paris.range.timeZone).toBe(PARIS);
    expect(paris.cohorts.map((c) => [c.cohort, c.entered, c.cells.map((x) => x.entities)])).toEqual([['2025-03-24', 2, [0, 2, 0]]]);
    const utc = await runRetentionDefinition(warehouse, retention, { from: '2025-03-03', to: '2025-04-06', now: AS_OF });
    expect(utc.cohorts.map((c) => [c.cohort, c.entered, c.cells.map((x) => x.entities)])).toEqual([
      ['2025-03-17', 1, [0, 1, 0]],
      ['2025-03-24', 1, [1, 0, 0]],
    ]);
  });

  it('marks a period incomplete until the Paris midnight that ends it', async () => {
    // Period 1 of the 24 March cohort ends at Paris midnight of 7 April = 2025-04-06T22:00Z.
    const before = await runRetentionDefinition(warehouse, retention, { from: '2025-03-03', to: '2025-04-06', timeZone: PARIS, now: at('2025-04-06T21:59:00Z') });
    expect(before.cohorts[0]?.cells.map((c) => c.status)).toEqual(['complete', 'incomplete', 'future']);
    const after = await runRetentionDefinition(warehouse, retention, { from: '2025-03-03', to: '2025-04-06', timeZone: PARIS, now: at('2025-04-06T22:01:00Z') });
    expect(after.cohorts[0]?.cells.map((c) => c.status)).toEqual(['complete', 'complete', 'incomplete']);
  });
});

const funnel: FunnelDefinition = {
  kind: 'funnel',
  id: 'signup_visit',
  title: 'Sign-up to visit',
  description: '',
  steps: [
    { event: 'signup', label: 'Sign-up', filters: [], withinMs: undefined, exclude: [], optional: false, line: 1 },
    { event: 'visit', label: 'Visit', filters: [], withinMs: undefined, exclude: [], optional: false, line: 1 },
  ],
  windowMs: 30 * 86_400_000,
  order: 'strict',
  entity: { kind: 'person' },
  breakdown: undefined,
  attribution: 'first',
  cohort: 'week',
  file: 'kpis/t.yaml',
  line: 1,
};

describe('funnel cohorts follow the zone', () => {
  it.each([
    [PARIS, PARIS_RANGE, { '2025-03-24': [2, 2] }],
    ['UTC', UTC_RANGE, { '2025-03-17': [1, 1], '2025-03-24': [1, 1] }],
  ] as const)('in %s', async (zone, range, expected) => {
    const q = compileFunnel(funnel, range);
    expect(q.sql).toContain('SELECT t0, toStartOfWeek(fromUnixTimestamp64Milli(t0, {tz:String}), 1) AS cohort,');
    expect(q.params.tz).toBe(zone);
    const rows = await queryRows<{ dim: string; value: string; entered: number; reached_2: number }>(warehouse, q.sql, q.params);
    const cohorts = Object.fromEntries(rows.filter((r) => r.dim === 'cohort').map((r) => [r.value, [Number(r.entered), Number(r.reached_2)]]));
    expect(cohorts).toEqual(expected);
  });
});

describe('Metabase questions follow the zone', () => {
  it('inlines the zone as a literal and counts a Paris day that UTC would call the day before', async () => {
    // An event at 00:30 in Paris three days ago is, in UTC, still on the day before.
    const day = zonedDate(Date.now() - 3 * 86_400_000, PARIS);
    const instant = zonedMidnight(day, PARIS) + 30 * 60_000;
    expect(zonedDate(instant, 'UTC')).toBe(addDays(day, -1));
    await insertWorld(warehouse, [{ id: 'mb1', event: 'mb_order', user: 'mb', at: instant }]);
    const metric = { ...orders('day'), id: 'mb_orders', event: 'mb_order' };
    const paris = metricQuestion(metric, [metric], PARIS);
    expect(paris.sql).toContain("toDate(ts, 'Europe/Paris') AS bucket");
    expect(paris.description).toContain('per day (Europe/Paris)');
    const run = async (sql: string) => (await queryRows<{ period: string; value: number }>(warehouse, sql)).map((r) => [String(r.period).slice(0, 10), Number(r.value)]);
    // Every day of the last 30 is there (a day without an order is 0); the order is on the Paris day.
    const parisRows = await run(paris.sql);
    expect(parisRows).toHaveLength(31);
    expect(parisRows.filter(([, v]) => v !== 0)).toEqual([[day, 1]]);
    expect((await run(metricQuestion(metric, [metric], 'UTC').sql)).filter(([, v]) => v !== 0)).toEqual([[addDays(day, -1), 1]]);
    const retentionSql = retentionQuestion(retention, PARIS).sql;
    expect(retentionSql).toContain("toStartOfWeek(fromUnixTimestamp64Milli(t0, 'Europe/Paris'), 1) AS cohort");
    expect(retentionSql).toContain("<= toDate(now64(3, 'UTC'), 'Europe/Paris'), 'complete', 'incomplete') AS status");
  });
});
