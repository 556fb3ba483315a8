/**
 * The Explore page's pure parts: the YAML it offers passes `balise plan check` (run on a copy of
 * the real tracking plan with the file added), its URL state round-trips, and the range, CSV,
 * points and period helpers say what the page shows.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { definitionYaml } from '../../src/analytics/explore.ts';
import { compileFunnel } from '../../src/analytics/funnel-sql.ts';
import { compileMetric, compileTrend } from '../../src/analytics/metric-sql.ts';
import { bucketStarts, isIncomplete } from '../../src/util/periods.ts';
import { planCatalog } from '../../src/api/catalog.ts';
import { csvCell, csvFileName, plainNumber, toCsv } from '../../src/dashboard/web/csv.ts';
import { stateFromParam, stateToParam, toDefinition, type ExploreState } from '../../src/dashboard/web/explore-model.ts';
import { formatPointChange, plural } from '../../src/dashboard/web/format.ts';
import { describeRange, presetRange, rangeFromSearch, rangeToSearch } from '../../src/dashboard/web/range.ts';
import { sparkPoints } from '../../src/dashboard/web/sparkline.ts';
import { loadPlan } from '../../src/plan/load.ts';
import { REPO_ROOT } from '../helpers/stack.ts';
import { planCheckWith } from '../helpers/plan-check.ts';

const PLAN = path.join(REPO_ROOT, 'tracking-plan');

const TREND: ExploreState = {
  kind: 'trend',
  id: 'proposal_score_sum',
  title: 'Match score sent',
  type: 'sum',
  event: 'mission_proposal_sent',
  property: 'match_score',
  grain: 'week',
  where: [
    { property: 'match_score', op: 'gt', value: '0.5' },
    { property: 'company_id', op: 'in', value: 'cmp_1, cmp_2' },
  ],
  breakdown: 'company_id',
};

const FUNNEL: ExploreState = {
  kind: 'funnel',
  id: 'mission_to_completion',
  title: '',
  steps: [
    { event: 'mission_proposal_sent', where: [{ property: 'match_score', op: 'gt', value: '0.3' }], optional: false, exclude: '', within: '' },
    // Saved as code with the funnel options: an optional step, an exclusion (decision 0036).
    { event: 'mission_proposal_accepted', where: [], optional: true, exclude: '', within: '' },
    { event: 'mission_completed', where: [], optional: false, exclude: 'mission_proposal_declined', within: '30d' },
  ],
  entity: 'mission_id',
  window: '60d',
  order: 'strict',
  breakdown: 'company_id',
  cohort: 'month',
};

describe('Explore: save as code', () => {
  it('the YAML of a trend and of a funnel built from the catalog passes plan check', async () => {
    const catalog = planCatalog(await loadPlan(PLAN), 'x');
    for (const state of [TREND, FUNNEL]) {
      const yaml = definitionYaml(state.kind === 'trend' ? 'metric' : 'funnel', toDefinition(state, catalog.events));
      const { messages, errors } = await planCheckWith(yaml);
      expect(
        messages.filter((m) => m.file.includes('explored')),
        yaml,
      ).toEqual([]);
      expect(errors, yaml).toBe(0);
    }
    const yaml = definitionYaml('funnel', toDefinition(FUNNEL, catalog.events));
    expect(yaml).toContain('      - event: mission_proposal_accepted\n        optional: true\n');
    expect(yaml).toContain('      - event: mission_completed\n        within: 30d\n        exclude:\n          - mission_proposal_declined\n');
  });

  it('writes typed values: numbers for numeric properties, lists for "in"', async () => {
    const catalog = planCatalog(await loadPlan(PLAN), 'x');
    const yaml = definitionYaml('metric', toDefinition(TREND, catalog.events));
    expect(yaml).toContain('match_score:\n        gt: 0.5');
    expect(yaml).toContain('in:\n          - cmp_1\n          - cmp_2');
    expect(yaml.startsWith('metrics:\n  - id: proposal_score_sum\n    title: Match score sent\n    type: sum\n')).toBe(true);
  });

  it('plan check refuses what the page would never offer (so the check above can fail)', async () => {
    const catalog = planCatalog(await loadPlan(PLAN), 'x');
    const wrong = { ...TREND, property: 'freelancer_id' } as ExploreState; // a string, not numeric
    const { errors, messages } = await planCheckWith(definitionYaml('metric', toDefinition(wrong, catalog.events)));
    expect(errors).toBe(1);
    expect(messages.map((m) => m.rule)).toContain('kpi_not_numeric');
  });

  it('the URL state round-trips, and a mangled link falls back field by field', async () => {
    const catalog = planCatalog(await loadPlan(PLAN), 'x');
    expect(stateFromParam(stateToParam(TREND), catalog.events)).toEqual(TREND);
    expect(stateFromParam(stateToParam(FUNNEL), catalog.events)).toEqual(FUNNEL);
    const mangled = stateFromParam('{"kind":"trend","type":"median","grain":7,"event":"mission_posted"}', catalog.events);
    expect(mangled).toMatchObject({ kind: 'trend', type: 'count', grain: 'week', event: 'mission_posted', where: [] });
    expect(stateFromParam('not json', catalog.events).kind).toBe('trend');
    // A one-step funnel keeps its step; the default's second step completes it.
    const oneStep = stateFromParam('{"kind":"funnel","steps":[{"event":"mission_posted"}]}', catalog.events);
    expect(oneStep.kind === 'funnel' && oneStep.steps.map((st) => st.event)).toEqual([
      'mission_posted',
      (stateFromParam('{"kind":"funnel"}', catalog.events) as { steps: { event: string }[] }).steps[1]!.event,
    ]);
  });
});

describe('dashboard range, CSV and numbers', () => {
  const NOW = Date.parse('2026-03-18T10:00:00Z');

  it('presets and the URL', () => {
    expect(presetRange('7d', NOW)).toEqual({ from: '2026-03-12', to: '2026-03-18', preset: '7d' });
    expect(presetRange('this-month', NOW)).toEqual({ from: '2026-03-01', to: '2026-03-18', preset: 'this-month' });
    expect(presetRange('last-month', NOW)).toEqual({ from: '2026-02-01', to: '2026-02-28', preset: 'last-month' });
    expect(presetRange('this-quarter', NOW)).toEqual({ from: '2026-01-01', to: '2026-03-18', preset: 'this-quarter' });
    expect(rangeFromSearch('?range=30d', NOW)).toEqual({ from: '2026-02-17', to: '2026-03-18', preset: '30d' });
    expect(rangeFromSearch('?from=2026-01-05&to=2026-01-11', NOW)).toEqual({ from: '2026-01-05', to: '2026-01-11' });
    // Reversed, unreadable or absent: the 90-day default.
    for (const bad of ['?from=2026-01-11&to=2026-01-05', '?from=x&to=y', '', '?range=nope', '?from=2026-02-30&to=2026-03-01']) expect(rangeFromSearch(bad, NOW).preset).toBe('90d');
    // One end alone, as the API reads it: from that day to today; or the default's length up to that day.
    expect(rangeFromSearch('?from=2026-03-01', NOW)).toEqual({ from: '2026-03-01', to: '2026-03-18' });
    expect(rangeFromSearch('?to=2026-02-28', NOW)).toEqual({ from: '2025-12-01', to: '2026-02-28' });
    // An end that is no date, alone, is refused like the others (it threw a RangeError, and the page stayed empty).
    expect(rangeFromSearch('?to=xx', NOW)).toMatchObject({ preset: '90d', refused: '"xx" is not a date (YYYY-MM-DD)' });
    // ...and says why, when a range was asked for: the header shows it beside the default.
    expect(['?from=2026-01-11&to=2026-01-05', '?from=x&to=y', '', '?range=nope', '?from=2026-02-30&to=2026-03-01'].map((q) => rangeFromSearch(q, NOW).refused)).toEqual([
      '2026-01-11 is after 2026-01-05',
      '"x" is not a date (YYYY-MM-DD)',
      undefined,
      'no range is called "nope"',
      '"2026-02-30" is not a date (YYYY-MM-DD)',
    ]);
    expect(rangeToSearch({ from: '2026-01-05', to: '2026-01-11' }, new URLSearchParams('range=7d&q=1')).toString()).toBe('q=1&from=2026-01-05&to=2026-01-11');
    expect(describeRange({ from: '2026-03-12', to: '2026-03-18', preset: '7d' }, NOW)).toBe('Last 7 days: 12 Mar 2026 – 18 Mar 2026 (7 days, in UTC; the last day is not over yet)');
    expect(describeRange({ from: '2026-01-05', to: '2026-01-11' }, NOW)).toBe('5 Jan 2026 – 11 Jan 2026 (7 days, in UTC)');
  });

  it('a range entirely after today says it has not started, not that its last day is not over', () => {
    expect(describeRange({ from: '2027-01-01', to: '2027-01-31' }, NOW)).toBe('1 Jan 2027 – 31 Jan 2027 (31 days, in UTC; it has not started yet: no data, nothing to compare)');
  });

  it('counts take the singular for one, the plural otherwise', () => {
    expect([0, 1, 2].map((n) => `${n} ${plural(n, 'event')}`)).toEqual(['0 events', '1 event', '2 events']);
    expect(plural(1, 'entity', 'entities')).toBe('entity');
    expect(plural(3, 'entity', 'entities')).toBe('entities');
  });

  it('a ratio changes in points', () => {
    expect(formatPointChange(0.18, 0.254)).toBe('−7.4 pts');
    expect(formatPointChange(0.5, 0.42)).toBe('+8.0 pts');
    expect(formatPointChange(0.3, 0.3)).toBe('±0.0 pts');
    expect(formatPointChange(0.3, null)).toBe('no comparison');
  });

  it('CSV quotes, and defuses formulas from client-sent names', () => {
    expect(
      toCsv([
        ['Event', 'Events'],
        ['a,b', '1,234'],
        ['=HYPERLINK("x")', '-3.0%'],
        ['say "hi"', '+1'],
      ]),
    ).toBe('Event,Events\r\n"a,b","1,234"\r\n"\'=HYPERLINK(""x"")",-3.0%\r\n"say ""hi""",+1\r\n');
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    // Numeric cells without grouping commas, which a French spreadsheet reads as decimals.
    expect(['2,336', '1,234,567.5', '-12,000', '12.5%', '1,234%', 'a,b', '12,34', '950'].map(plainNumber)).toEqual(['2336', '1234567.5', '-12000', '12.5%', '1234%', 'a,b', '12,34', '950']);
    expect(csvFileName('Violation rate by event and rule')).toBe('violation-rate-by-event-and-rule.csv');
  });

  it('periods: buckets of a range and which are incomplete', () => {
    const range = { fromMs: Date.parse('2026-03-04T00:00:00Z'), toMs: Date.parse('2026-03-19T00:00:00Z') };
    // Weeks start on Monday (toStartOfWeek(…, 1)): 2 Mar, 9 Mar, 16 Mar.
    expect(bucketStarts(range, 'week')).toEqual(['2026-03-02', '2026-03-09', '2026-03-16']);
    expect(bucketStarts(range, 'week').map((b) => isIncomplete(b, 'week', range, NOW))).toEqual([true, false, true]);
    expect(bucketStarts({ fromMs: Date.parse('2026-01-31T00:00:00Z'), toMs: Date.parse('2026-03-01T00:00:00Z') }, 'month')).toEqual(['2026-01-01', '2026-02-01']);
  });

  it('sparkline points scale into the box, with gaps for missing values', () => {
    const pts = sparkPoints([0, 5, null, 10], 100, 20, 0);
    expect(pts).toEqual([{ x: 0, y: 20 }, { x: 100 / 3, y: 10 }, null, { x: 100, y: 0 }]);
  });
});

describe('SQL for the new options (also run on the engine in tests/integration/explore-people-api.test.ts)', () => {
  const range = { fromMs: Date.parse('2026-01-01T00:00:00Z'), toMs: Date.parse('2026-02-01T00:00:00Z') };
  const base = { kind: 'metric' as const, id: 'm', title: 'm', description: '', unit: '', file: 'f', line: 1, event: 'mission_proposal_sent', filters: [] };

  it('a sum over a property, split by a breakdown, with a whole-range total per value', () => {
    const q = compileTrend({ ...base, type: 'sum', property: 'match_score', breakdown: 'company_id', grain: 'week' }, range);
    expect(q.sql).toContain('SELECT key, bd, sum(partial_0) AS value');
    expect(q.sql).toContain('SELECT toStartOfWeek(ts, 1, {tz:String}) AS bucket, bd, sum(v) AS partial_0');
    expect(q.sql).toContain('GROUP BY bucket, bd');
    expect(q.sql).toContain("JSONExtractFloat(e.properties, 'match_score') AS v");
    expect(q.sql).toContain("if(JSONType(e.properties, 'company_id') = 'String', JSONExtractString(e.properties, 'company_id'), JSONExtractRaw(e.properties, 'company_id')) AS bd");
    expect(q.sql).toContain("ARRAY JOIN ['total', toString(bucket)] AS key");
    expect(q.params).toEqual({ from: '2026-01-01 00:00:00.000', to: '2026-02-01 00:00:00.000', tz: 'UTC' });
    expect(compileMetric({ ...base, type: 'sum', property: 'match_score', grain: 'week' }, range).sql).toContain('SELECT key, sum(partial_0) AS value');
  });

  it('a funnel lists the entities stopped at a level, and its usual SQL is unchanged by the option', () => {
    const def = {
      kind: 'funnel' as const,
      id: 'f',
      title: 'f',
      description: '',
      windowMs: 86_400_000,
      order: 'strict' as const,
      entity: { kind: 'person' as const },
      breakdown: undefined,
      attribution: 'first' as const,
      cohort: 'week' as const,
      file: 'f',
      line: 1,
      steps: [
        { event: 'a', label: 'a', filters: [], withinMs: undefined, exclude: [], optional: false, line: 1 },
        { event: 'b', label: 'b', filters: [], withinMs: undefined, exclude: [], optional: false, line: 2 },
      ],
    };
    const list = compileFunnel(def, { ...range, entitiesAtLevel: 1, limit: 10 });
    expect(list.sql).toMatch(/^SELECT entity, t0\nFROM \(\nSELECT entity, t0, toStartOfWeek\(/);
    expect(list.sql).toContain('WHERE level = {level:UInt32}\nORDER BY t0, entity\nLIMIT {limit:UInt32}');
    expect(list.params).toMatchObject({ level: 1, limit: 10 });
    expect(compileFunnel(def, range).sql).toContain('FROM (\nSELECT t0, toStartOfWeek(');
  });
});
