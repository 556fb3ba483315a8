/**
 * Compiled SQL asserted and run, in the manner of Kysely's tests: each option of the metric
 * compiler (every filter operator with each value type, every grain) and of the funnel compiler
 * (order modes, per-step window, optional steps, exclusions, entity, breakdown, cohort grain) is asserted as SQL with its
 * parameters, then run on the real engine (chDB) against a small fixture whose answer is known.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFunnel } from '../../src/analytics/funnel-sql.ts';
import { compileMetric } from '../../src/analytics/metric-sql.ts';
import { parseBreakdown, type EventMetric, type FunnelDefinition, type FunnelStep, type PropertyFilter, type TimeGrain } from '../../src/analytics/model.ts';
import type { Warehouse } from '../../src/warehouse/client.ts';
import { queryRows } from '../../src/warehouse/query.ts';
import { openTestWarehouse, type TestWarehouse } from '../helpers/engine.ts';
import { insertWorld } from '../helpers/known-world.ts';

const T0 = Date.parse('2025-03-03T10:00:00.000Z'); // a Monday
const DAY = 86_400_000;
const RANGE = { fromMs: Date.parse('2025-03-01T00:00:00.000Z'), toMs: Date.parse('2025-04-01T00:00:00.000Z') };

/** The fixture: five `order` events in March 2025 (and one other event), their properties chosen so each filter has a known count. */
const HOUR = 3_600_000;
const FIXTURE: { id: string; at: number; props: Record<string, unknown>; event?: string; user?: string }[] = [
  { id: 'o1', at: T0, props: { country: 'fr', total: 10, paid: true } },
  { id: 'o2', at: T0 + DAY, props: { country: 'de', total: 25.5, paid: false } },
  { id: 'o3', at: T0 + 8 * DAY, props: { country: 'fr', total: 40, paid: true } },
  { id: 'o4', at: T0 + 20 * DAY, props: { country: 'it', total: 5 } },
  { id: 'o5', at: T0 + 21 * DAY, props: {} },
  { id: 'x1', at: T0, props: { country: 'fr', total: 10, paid: true }, event: 'other' },
  // Funnel a → b → c. u1 in order; u2 reaches c before b; u3 reaches b after two days; u4 never
  // enters (no a); v1 and v2 are two people on one mission (m5).
  { id: 'f1', user: 'u1', event: 'a', at: T0, props: { mission_id: 'm1', plan: 'pro' } },
  { id: 'f2', user: 'u1', event: 'b', at: T0 + HOUR, props: { mission_id: 'm1' } },
  { id: 'f3', user: 'u1', event: 'c', at: T0 + 2 * HOUR, props: { mission_id: 'm1' } },
  { id: 'f4', user: 'u2', event: 'a', at: T0, props: { mission_id: 'm2', plan: 'free' } },
  { id: 'f5', user: 'u2', event: 'c', at: T0 + HOUR, props: { mission_id: 'm2' } },
  { id: 'f6', user: 'u2', event: 'b', at: T0 + 3 * HOUR, props: { mission_id: 'm2' } },
  { id: 'f7', user: 'u3', event: 'a', at: T0, props: { mission_id: 'm3' } },
  { id: 'f8', user: 'u3', event: 'b', at: T0 + 2 * DAY, props: { mission_id: 'm3' } },
  { id: 'f9', user: 'u4', event: 'b', at: T0, props: { mission_id: 'm4' } },
  { id: 'f10', user: 'v1', event: 'a', at: T0, props: { mission_id: 'm5' } },
  { id: 'f11', user: 'v2', event: 'b', at: T0 + HOUR, props: { mission_id: 'm5' } },
  // Exclusion events (only funnels that exclude `d` read them): u1 between a and b, u3 after b.
  { id: 'g1', user: 'u1', event: 'd', at: T0 + HOUR / 2, props: { mission_id: 'm1' } },
  { id: 'g2', user: 'u3', event: 'd', at: T0 + 3 * DAY, props: { mission_id: 'm3' } },
];

let warehouse: Warehouse;
let engine: TestWarehouse | undefined;
beforeAll(async () => {
  engine = await openTestWarehouse('compiled-sql');
  warehouse = engine.warehouse;
  await insertWorld(
    warehouse,
    FIXTURE.map((e) => ({ id: e.id, event: e.event ?? 'order', user: e.user ?? `u-${e.id}`, at: e.at, props: e.props })),
  );
});
afterAll(async () => {
  await engine?.close();
});

const metric = (filters: PropertyFilter[], grain: TimeGrain = 'week'): EventMetric => ({
  kind: 'metric',
  id: 'orders',
  title: 'Orders',
  description: '',
  grain,
  unit: '',
  file: 'kpis/test.yaml',
  line: 1,
  type: 'count',
  event: 'order',
  filters,
});
const DATES = { previous_from: '2025-01-29 00:00:00.000', from: '2025-03-01 00:00:00.000', to: '2025-04-01 00:00:00.000', tz: 'UTC' };

async function run(m: EventMetric, grain?: TimeGrain): Promise<Record<string, number>> {
  const { sql, params } = compileMetric(m, RANGE, grain);
  const rows = await queryRows<{ key: string; value: number }>(warehouse, sql, params);
  return Object.fromEntries(rows.map((r) => [r.key, Number(r.value)]));
}

describe('metric filters: every operator with each value type', () => {
  it.each<[string, PropertyFilter, string, Record<string, unknown>, number]>([
    ['eq string', { property: 'country', op: 'eq', value: 'fr' }, "JSONExtractString(e.properties, 'country') = {f0:String}", { f0: 'fr' }, 2],
    ['neq string', { property: 'country', op: 'neq', value: 'fr' }, "JSONExtractString(e.properties, 'country') != {f0:String}", { f0: 'fr' }, 2],
    ['eq number', { property: 'total', op: 'eq', value: 25.5 }, "JSONExtractFloat(e.properties, 'total') = {f0:Float64}", { f0: 25.5 }, 1],
    ['neq number', { property: 'total', op: 'neq', value: 10 }, "JSONExtractFloat(e.properties, 'total') != {f0:Float64}", { f0: 10 }, 3],
    ['gt number', { property: 'total', op: 'gt', value: 10 }, "JSONExtractFloat(e.properties, 'total') > {f0:Float64}", { f0: 10 }, 2],
    ['lt number', { property: 'total', op: 'lt', value: 25.5 }, "JSONExtractFloat(e.properties, 'total') < {f0:Float64}", { f0: 25.5 }, 2],
    ['eq true', { property: 'paid', op: 'eq', value: true }, "JSONExtractBool(e.properties, 'paid') = {f0:UInt8}", { f0: 1 }, 2],
    ['eq false', { property: 'paid', op: 'eq', value: false }, "JSONExtractBool(e.properties, 'paid') = {f0:UInt8}", { f0: 0 }, 1],
    ['neq true', { property: 'paid', op: 'neq', value: true }, "JSONExtractBool(e.properties, 'paid') != {f0:UInt8}", { f0: 1 }, 1],
    ['in strings', { property: 'country', op: 'in', value: ['de', 'it'] }, "has({f0:Array(String)}, JSONExtractString(e.properties, 'country'))", { f0: ['de', 'it'] }, 2],
    ['in numbers', { property: 'total', op: 'in', value: [5, 40] }, "has({f0:Array(Float64)}, JSONExtractFloat(e.properties, 'total'))", { f0: [5, 40] }, 2],
    ['in booleans', { property: 'paid', op: 'in', value: [false] }, "has({f0:Array(UInt8)}, JSONExtractBool(e.properties, 'paid'))", { f0: [0] }, 1],
  ])('%s', async (_label, filter, expression, filterParams, count) => {
    const m = metric([filter]);
    const { sql, params } = compileMetric(m, RANGE);
    // Only events that carry the property match; the comparison follows.
    expect(sql).toContain(
      `WHERE e.event = 'order' AND e.type = 'track' AND (JSONHas(e.properties, '${filter.property}') AND ${expression}) AND e.timestamp >= {previous_from:DateTime64(3, 'UTC')} AND e.timestamp < {to:DateTime64(3, 'UTC')}`,
    );
    expect(params).toEqual({ ...DATES, ...filterParams });
    expect((await run(m)).current).toBe(count);
  });

  it('joins several filters with AND, each with its own parameter', async () => {
    const m = metric([
      { property: 'country', op: 'eq', value: 'fr' },
      { property: 'total', op: 'gt', value: 20 },
    ]);
    const { sql, params } = compileMetric(m, RANGE);
    expect(sql).toContain(
      "(JSONHas(e.properties, 'country') AND JSONExtractString(e.properties, 'country') = {f0:String}) AND (JSONHas(e.properties, 'total') AND JSONExtractFloat(e.properties, 'total') > {f1:Float64})",
    );
    expect(params).toEqual({ ...DATES, f0: 'fr', f1: 20 });
    expect((await run(m)).current).toBe(1);
  });
});

describe('metric grains', () => {
  it.each<[TimeGrain, string, Record<string, number>]>([
    ['day', 'toDate(ts, {tz:String})', { '2025-03-03': 1, '2025-03-04': 1, '2025-03-11': 1, '2025-03-23': 1, '2025-03-24': 1 }],
    ['week', 'toStartOfWeek(ts, 1, {tz:String})', { '2025-03-03': 2, '2025-03-10': 1, '2025-03-17': 1, '2025-03-24': 1 }],
    ['month', 'toStartOfMonth(ts, {tz:String})', { '2025-03-01': 5 }],
  ])('%s buckets with %s', async (grain, bucket, series) => {
    const m = metric([], grain);
    const { sql, params } = compileMetric(m, RANGE);
    expect(sql).toContain(`SELECT ${bucket} AS bucket`);
    expect(sql).toContain("ARRAY JOIN if(in_period, ['current', toString(bucket)], ['previous']) AS key");
    expect(params).toEqual(DATES);
    const { current, ...buckets } = await run(m);
    expect([current, buckets]).toEqual([5, series]);
  });
});

const step = (event: string, withinMs?: number): FunnelStep => ({ event, label: event, filters: [], withinMs, exclude: [], optional: false, line: 1 });
const optional = (event: string): FunnelStep => ({ ...step(event), optional: true });
const excluding = (event: string, excluded: string): FunnelStep => ({ ...step(event), exclude: [{ event: excluded, filters: [] }] });
const funnel = (extra: Partial<FunnelDefinition> = {}): FunnelDefinition => ({
  kind: 'funnel',
  id: 'abc',
  title: 'ABC',
  description: '',
  steps: [step('a'), step('b'), step('c')],
  windowMs: 30 * DAY,
  order: 'strict',
  entity: { kind: 'person' },
  breakdown: undefined,
  attribution: 'first',
  cohort: 'week',
  file: 'kpis/test.yaml',
  line: 1,
  ...extra,
});
const FUNNEL_PARAMS = { from: '2025-03-01 00:00:00.000', to: '2025-04-01 00:00:00.000', scan_to: '2025-05-01 00:00:00.000', window_ms: 30 * DAY, tz: 'UTC' };

/** dim/value → [entered, reached_2, reached_3]. */
async function runFunnelSql(def: FunnelDefinition, breakdown?: string): Promise<Record<string, number[]>> {
  const { sql, params } = compileFunnel(def, { ...RANGE, breakdown: breakdown === undefined ? undefined : parseBreakdown(breakdown) });
  const rows = await queryRows<{ dim: string; value: string; entered: number; reached_2: number; reached_3: number }>(warehouse, sql, params);
  return Object.fromEntries(rows.map((r) => [`${r.dim}/${r.value}`, [Number(r.entered), Number(r.reached_2), Number(r.reached_3)]]));
}

describe('funnel options', () => {
  it.each<[string, FunnelDefinition, string | undefined, string[], Record<string, unknown>, Record<string, number[]>]>([
    [
      'strict order, person entity, week cohorts',
      funnel(),
      undefined,
      [
        'arrayFilter(x -> x >= t0 AND x <= t0 + {window_ms:Int64}, s1) AS r1',
        'arrayFilter(x -> x >= r1[1] AND x <= t0 + {window_ms:Int64}, s2)',
        'LEFT JOIN (SELECT l1.alias_id AS alias_id',
        'toStartOfWeek(fromUnixTimestamp64Milli(t0, {tz:String}), 1) AS cohort',
      ],
      {},
      { 'total/': [4, 3, 1], 'cohort/2025-03-03': [4, 3, 1] },
    ],
    [
      'any order',
      funnel({ order: 'any' }),
      undefined,
      ['arrayFirst(x -> x >= t0 AND x <= t0 + {window_ms:Int64}, s1) AS a1', 'if(a1 > 0 AND a2 > 0, greatest(t0, a1, a2), toInt64(0)) AS t2'],
      {},
      { 'total/': [4, 3, 2], 'cohort/2025-03-03': [4, 3, 2] },
    ],
    [
      'strict order with a per-step window (b within 1 day of a)',
      funnel({ steps: [step('a'), step('b', DAY), step('c')] }),
      undefined,
      ['arrayFilter(x -> x >= t0 AND x <= t0 + {window_ms:Int64} AND x <= t0 + {within_ms_1:Int64}, s1) AS r1'],
      { within_ms_1: DAY },
      { 'total/': [4, 2, 1], 'cohort/2025-03-03': [4, 2, 1] },
    ],
    [
      'any order with a per-step window',
      funnel({ order: 'any', steps: [step('a'), step('b', DAY), step('c')] }),
      undefined,
      ['arrayFirst(x -> x >= t0 AND x <= least(t0 + {window_ms:Int64}, t0 + {within_ms_1:Int64}), s1) AS a1'],
      { within_ms_1: DAY },
      { 'total/': [4, 2, 2], 'cohort/2025-03-03': [4, 2, 2] },
    ],
    [
      'a property as the entity (mission_id)',
      funnel({ entity: { kind: 'property', property: 'mission_id' } }),
      undefined,
      ["if(JSONType(e.properties, 'mission_id') = 'String', JSONExtractString(e.properties, 'mission_id'), JSONExtractRaw(e.properties, 'mission_id')) AS entity"],
      {},
      { 'total/': [4, 4, 1], 'cohort/2025-03-03': [4, 4, 1] },
    ],
    [
      'a breakdown by a property of the entry event',
      funnel(),
      'plan',
      ["JSONExtractRaw(e.properties, 'plan')) AS bd_value", 'argMinIf(bd_value, ts, c0 AND in_period) AS bd0', "('breakdown', if(bd = '', '(none)', bd))"],
      {},
      { 'total/': [4, 3, 1], 'breakdown/(none)': [2, 1, 0], 'breakdown/free': [1, 1, 0], 'breakdown/pro': [1, 1, 1], 'cohort/2025-03-03': [4, 3, 1] },
    ],
    ['month cohorts', funnel({ cohort: 'month' }), undefined, ['toStartOfMonth(fromUnixTimestamp64Milli(t0, {tz:String})) AS cohort'], {}, { 'total/': [4, 3, 1], 'cohort/2025-03-01': [4, 3, 1] }],
  ])('%s', async (_label, def, breakdown, fragments, extraParams, expected) => {
    const { sql, params } = compileFunnel(def, { ...RANGE, breakdown: breakdown === undefined ? undefined : parseBreakdown(breakdown) });
    for (const fragment of fragments) expect(sql).toContain(fragment);
    expect(sql).toContain("WHERE e.event IN ('a', 'b', 'c') AND e.timestamp >= {from:DateTime64(3, 'UTC')} AND e.timestamp <= {scan_to:DateTime64(3, 'UTC')}");
    expect(params).toEqual({ ...FUNNEL_PARAMS, ...extraParams });
    expect(await runFunnelSql(def, breakdown)).toEqual(expected);
  });
});

/**
 * Optional steps and exclusions (decision 0036). Hand-computed on the fixture: u1 a→b→c (d before
 * b), u2 a→c→b, u3 a→b (d after b), v1 a only; u4 and v2 never enter.
 */
describe('funnel optional steps and exclusions', () => {
  it.each<[string, FunnelDefinition, string[], Record<string, number[]>]>([
    [
      // b optional: u1 (b before c) and u3 (no c) count it; u2's b comes after its c, so u2 skipped it.
      'strict order, optional middle step',
      funnel({ steps: [step('a'), optional('b'), step('c')] }),
      [
        'arrayFilter(x -> x >= t0 AND x <= t0 + {window_ms:Int64}, s2) AS r2',
        'arrayFirst(x -> t2 = 0 OR x < t2, r1) AS t1',
        'multiIf(t2 > 0, 3, t1 > 0, 2, 1) AS level',
        'countIf(t1 > 0) AS reached_2',
        'countIf(t2 > 0) AS reached_3',
      ],
      { 'total/': [4, 2, 2], 'cohort/2025-03-03': [4, 2, 2] },
    ],
    [
      // c optional: u1 and u2 did c, but b counts for u1, u2 and u3 whether or not they did.
      'any order, optional middle step',
      funnel({ order: 'any', steps: [step('a'), optional('c'), step('b')] }),
      ['if(a1 > 0, greatest(t0, a1), toInt64(0)) AS t1', 'if(a2 > 0, greatest(t0, a2), toInt64(0)) AS t2', 'quantileExactInclusiveIf(0.5)(t2 - t0, t2 > 0) AS median_ms_3'],
      { 'total/': [4, 2, 3], 'cohort/2025-03-03': [4, 2, 3] },
    ],
    [
      // u1's d comes between a and b: b is void for u1; u3's d comes after b.
      'strict order, exclusion',
      funnel({ steps: [step('a'), excluding('b', 'd'), step('c')] }),
      ['arrayFilter(x -> NOT arrayExists(z -> z > t0 AND z < x, e1), arrayFilter(x -> x >= t0 AND x <= t0 + {window_ms:Int64}, s1)) AS r1'],
      { 'total/': [4, 2, 0], 'cohort/2025-03-03': [4, 2, 0] },
    ],
    [
      // Any order, same exclusion: between the entry and b. u2 (c then b) still converts.
      'any order, exclusion',
      funnel({ order: 'any', steps: [step('a'), excluding('b', 'd'), step('c')] }),
      ['arrayFirst(x -> x >= t0 AND x <= t0 + {window_ms:Int64} AND NOT arrayExists(z -> z > t0 AND z < x, e1), s1) AS a1', 'groupArrayIf(ts, x1) AS e1'],
      { 'total/': [4, 2, 1], 'cohort/2025-03-03': [4, 2, 1] },
    ],
  ])('%s', async (_label, def, fragments, expected) => {
    const { sql, params } = compileFunnel(def, RANGE);
    for (const fragment of fragments) expect(sql).toContain(fragment);
    const scanned = [...def.steps.map((s) => s.event), ...def.steps.flatMap((s) => s.exclude.map((x) => x.event))].map((e) => `'${e}'`).join(', ');
    expect(sql).toContain(`WHERE e.event IN (${scanned}) AND e.timestamp >= {from:DateTime64(3, 'UTC')} AND e.timestamp <= {scan_to:DateTime64(3, 'UTC')}`);
    expect(params).toEqual(FUNNEL_PARAMS);
    expect(await runFunnelSql(def)).toEqual(expected);
  });

  it('lists who dropped off before a step measured from its anchor, skipping the optional step', async () => {
    // Reached a (the anchor of c) but not c: u3 and v1, whatever they did about optional b.
    const def = funnel({ steps: [step('a'), optional('b'), step('c')] });
    const { sql, params } = compileFunnel(def, { ...RANGE, entitiesAtLevel: 2, limit: 10 });
    expect(sql).toContain('WHERE t2 = 0\nORDER BY t0, entity');
    expect(params).toEqual({ ...FUNNEL_PARAMS, limit: 10 });
    const rows = await queryRows<{ entity: string }>(warehouse, sql, params);
    expect(rows.map((r) => r.entity).sort()).toEqual(['u3', 'v1']);
  });
});
