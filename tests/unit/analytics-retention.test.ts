import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseKpiFile } from '../../src/analytics/kpi-parse.ts';
import { lintDefinitionsAgainstPlan } from '../../src/analytics/kpi-lint.ts';
import { formatRetention } from '../../src/analytics/format.ts';
import { compileRetention } from '../../src/analytics/retention-sql.ts';
import { addGrains, shapeRetention } from '../../src/analytics/retention-shape.ts';
import { IDENTITY_LINKS_SUBQUERY } from '../../src/analytics/sql-common.ts';
import { resolveRange } from '../../src/analytics/sql-common.ts';
import { loadPlan } from '../../src/plan/load.ts';
import { defaultRangeDates, defaultRangeMs } from '../../src/util/default-range.ts';

const PLAN_DIR = path.resolve(import.meta.dirname, '../../tracking-plan');
const RANGE = { fromMs: Date.parse('2025-01-01T00:00:00Z'), toMs: Date.parse('2025-02-01T00:00:00Z') };

function retention(yaml: string) {
  const parsed = parseKpiFile('kpis/r.yaml', yaml);
  expect(parsed.messages).toEqual([]);
  return parsed.definitions.retention[0]!;
}

const WEEKLY = retention(`retention:
  - id: r
    start: { event: freelancer_signup_completed, where: { community: data } }
    return: mission_proposal_accepted
    grain: week
    periods: 4
`);

describe('retention SQL', () => {
  it('compiles cohorts, periods and returns into one query with every value as a parameter', () => {
    const q = compileRetention(WEEKLY, { ...RANGE, asOfMs: Date.parse('2025-03-01T00:00:00Z') });
    expect(q.params).toEqual({ from: '2025-01-01 00:00:00.000', to: '2025-02-01 00:00:00.000', as_of: '2025-03-01 00:00:00.000', periods: 4, tz: 'UTC', f0: 'data' });
    expect(q.sql).toContain(`SELECT toStartOfWeek(fromUnixTimestamp64Milli(t0, {tz:String}), 1) AS cohort,
  arrayDistinct(arrayFilter(p -> p < {periods:Int64}, arrayMap(x -> intDiv(dateDiff('day', cohort, toStartOfWeek(fromUnixTimestamp64Milli(x, {tz:String}), 1)), 7), arrayFilter(x -> x > t0, returns)))) AS retained`);
    expect(q.sql).toContain(
      `(e.event = 'freelancer_signup_completed' AND e.type = 'track' AND (JSONHas(e.properties, 'community') AND JSONExtractString(e.properties, 'community') = {f0:String})) AND e.timestamp < {to:DateTime64(3, 'UTC')} AS is_start`,
    );
    expect(q.sql).toContain(
      `WHERE e.event IN ('freelancer_signup_completed', 'mission_proposal_accepted') AND e.timestamp >= {from:DateTime64(3, 'UTC')} AND e.timestamp < {as_of:DateTime64(3, 'UTC')}`,
    );
    expect(q.sql).toContain(`LEFT JOIN ${IDENTITY_LINKS_SUBQUERY} AS links`);
    expect(q.sql).toContain('ARRAY JOIN arrayConcat([toInt64(-1)], arrayMap(p -> toInt64(p), retained)) AS period');
  });

  it('uses calendar buckets per grain, and no identity join for an entity property', () => {
    const monthly = retention(`retention:\n  - id: m\n    entity: mission_id\n    start: mission_posted\n    return: mission_started\n    grain: month\n`);
    const q = compileRetention(monthly, { ...RANGE, asOfMs: RANGE.toMs });
    expect(q.sql).toContain(`dateDiff('month', cohort, toStartOfMonth(fromUnixTimestamp64Milli(x, {tz:String})))`);
    expect(q.sql).toContain(`if(JSONType(e.properties, 'mission_id') = 'String', JSONExtractString(e.properties, 'mission_id'), JSONExtractRaw(e.properties, 'mission_id')) AS entity`);
    expect(q.sql).not.toContain('identity_links');
    expect(q.params.periods).toBe(8); // the default
    const daily = retention(`retention:\n  - id: d\n    start: mission_posted\n    return: mission_started\n    grain: day\n`);
    expect(compileRetention(daily, { ...RANGE, asOfMs: RANGE.toMs }).sql).toContain(`dateDiff('day', cohort, toDate(fromUnixTimestamp64Milli(x, {tz:String})))`);
  });
});

describe('retention definitions', () => {
  it.each([
    ['retention:\n  - id: r\n    return: a\n', 'kpi_step'],
    ['retention:\n  - id: r\n    start: a\n    return: { where: { x: 1 } }\n', 'kpi_step'],
    ['retention:\n  - id: r\n    start: a\n    return: b\n    grain: year\n', 'kpi_grain'],
    ['retention:\n  - id: r\n    start: a\n    return: b\n    periods: 0\n', 'kpi_periods'],
    ['retention:\n  - id: r\n    start: a\n    return: b\n    periods: 2.5\n', 'kpi_periods'],
    ['retention:\n  - id: R\n    start: a\n    return: b\n', 'kpi_id'],
  ])('reports %j as %s', (yaml, rule) => {
    expect(parseKpiFile('kpis/x.yaml', yaml).messages).toContainEqual(expect.objectContaining({ rule, severity: 'error' }));
  });

  it('is linted against the plan like funnels (plan check)', async () => {
    const plan = await loadPlan(PLAN_DIR);
    const parsed = parseKpiFile(
      'kpis/r.yaml',
      `retention:
  - id: r
    entity: mission_id
    start: { event: freelancer_signup_completed, where: { shoe: 1 } }
    return: mission_proposal_acepted
`,
    );
    expect(lintDefinitionsAgainstPlan(plan, parsed.definitions).map((m) => m.message)).toEqual([
      'retention r start: filter property "shoe" is not a property of "freelancer_signup_completed"',
      'retention r start: entity property "mission_id" is not a property of "freelancer_signup_completed"',
      'retention r return: event "mission_proposal_acepted" is not in the tracking plan',
    ]);
  });
});

describe('retention results', () => {
  it('adds calendar months and weeks to local dates', () => {
    expect(addGrains('2025-01-01', 'month', 13)).toBe('2026-02-01');
    expect(addGrains('2025-03-03', 'week', 2)).toBe('2025-03-17');
  });

  it('prints incomplete periods with "…" and future ones blank, never as 0%', () => {
    const asOf = Date.parse('2025-01-15T12:00:00Z');
    const result = shapeRetention(WEEKLY, { ...RANGE, isDefault: false }, asOf, [
      { cohort: '2025-01-06', period: -1, entities: 4 },
      { cohort: '2025-01-06', period: 0, entities: 2 },
      { cohort: '2025-01-06', period: 1, entities: '1' },
    ]);
    expect(result.cohorts[0]?.cells.map((c) => [c.status, c.entities])).toEqual([
      ['complete', 2],
      ['incomplete', 1],
      ['future', null],
      ['future', null],
    ]);
    const text = formatRetention(result);
    expect(text).toContain('│ 2025-01-06    │ 4       │ 50.0% │ 25.0%… │    │    │');
    expect(text).toContain('│ All complete  │         │ 50.0% │        │    │    │');
  });
});

describe('retention cohorts cut by the range', () => {
  // Found 2026-12-05: a range starting on a Tuesday made the first weekly cohort a six-day one,
  // shown and exported like the whole weeks beside it.
  it('marks a cohort whose bucket the range starts or ends inside as a part, in the result and the CLI', () => {
    const range = { fromMs: Date.parse('2025-01-07T00:00:00Z'), toMs: Date.parse('2025-01-23T00:00:00Z'), isDefault: false }; // Tuesday → Wednesday
    const rows = ['2025-01-06', '2025-01-13', '2025-01-20'].flatMap((cohort) => [{ cohort, period: -1, entities: 3 }]);
    const result = shapeRetention(WEEKLY, range, Date.parse('2025-03-01T00:00:00Z'), rows);
    expect(result.cohorts.map((c) => [c.cohort, c.cut])).toEqual([
      ['2025-01-06', true],
      ['2025-01-13', false],
      ['2025-01-20', true],
    ]);
    const text = formatRetention(result);
    expect(text).toContain('2025-01-06 (part)');
    expect(text).not.toContain('2025-01-13 (part)');
    expect(text).toContain('(part) = the range cuts this week');
  });
});

describe('the one default range', () => {
  it('is the last 90 whole UTC days, today included, for the API and the dashboard alike', () => {
    const now = Date.parse('2026-12-02T01:30:00Z');
    expect(defaultRangeDates(now)).toEqual({ from: '2026-09-04', to: '2026-12-02' });
    expect(defaultRangeMs(now)).toEqual({ fromMs: Date.parse('2026-09-04T00:00:00Z'), toMs: Date.parse('2026-12-03T00:00:00Z') });
    // What the dashboard sends (its default dates) resolves to exactly what no dates resolve to.
    const sent = resolveRange(defaultRangeDates(now), now);
    const omitted = resolveRange({}, now);
    expect([sent.fromMs, sent.toMs]).toEqual([omitted.fromMs, omitted.toMs]);
    expect([sent.isDefault, omitted.isDefault]).toEqual([false, true]);
    // A bare --to keeps the default length before it.
    const toOnly = resolveRange({ to: '2025-03-31' }, now);
    expect((toOnly.toMs - toOnly.fromMs) / 86_400_000).toBe(90);
  });
});
