import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lintKpiDefinitions, loadKpiDefinitions } from '../../src/analytics/definitions.ts';
import { parseDuration, parseKpiFile } from '../../src/analytics/kpi-parse.ts';
import { compileFunnel } from '../../src/analytics/funnel-sql.ts';
import { compileMetric } from '../../src/analytics/metric-sql.ts';
import type { EventMetric, KpiDefinitions } from '../../src/analytics/model.ts';
import { checkSingleQuery, wrapReadOnly } from '../../src/analytics/readonly-sql.ts';
import { parseDateInput } from '../../src/analytics/sql-common.ts';
import { loadPlan } from '../../src/plan/load.ts';
import type { TrackingPlan } from '../../src/plan/model.ts';
import { EXAMPLE_PLAN, FIXTURE_PLAN } from '../helpers/plans.ts';

const PLAN_DIR = FIXTURE_PLAN;
const JAN = { fromMs: Date.parse('2025-01-01T00:00:00Z'), toMs: Date.parse('2025-02-01T00:00:00Z') };

function defs(yaml: string): KpiDefinitions {
  const parsed = parseKpiFile('kpis/test.yaml', yaml);
  expect(parsed.messages).toEqual([]);
  return parsed.definitions;
}

const FUNNEL = defs(`
funnels:
  - id: f
    window: 30d
    steps:
      - event: freelancer_signup_completed
        where: { community: data }
      - mission_proposal_received
`).funnels[0]!;

const METRIC = defs(`
metrics:
  - { id: m, type: average, event: mission_rated, property: rating, where: { rater_side: company }, grain: month }
`).metrics[0] as EventMetric;

const FUNNEL_SQL = `SELECT g.1 AS dim, g.2 AS value,
  count() AS entered,
  countIf(level >= 2) AS reached_2,
  quantileExactInclusiveIf(0.5)(t1 - t0, level >= 2) AS median_ms_2,
  quantilesExactInclusiveIf(0.1, 0.25, 0.5, 0.75, 0.9)(t1 - t0, level >= 2) AS ttc
FROM (
SELECT t0, toStartOfWeek(fromUnixTimestamp64Milli(t0, {tz:String}), 1) AS cohort,
  arrayFilter(x -> x >= t0 AND x <= t0 + {window_ms:Int64}, s1) AS r1,
  if(empty(r1), toInt64(0), r1[1]) AS t1,
  bd0 AS bd,
  1 + (t1 > 0) AS level
FROM (
  SELECT entity, minIf(ts, c0 AND in_period) AS t0, arraySort(groupArrayIf(ts, c1)) AS s1, argMinIf(bd_value, ts, c0 AND in_period) AS bd0
  FROM (
    SELECT if(links.linked_user != '', links.linked_user, if(e.user_id != '', e.user_id, e.anonymous_id)) AS entity,
      toUnixTimestamp64Milli(e.timestamp) AS ts,
      (e.timestamp >= {from:DateTime64(3, 'UTC')} AND e.timestamp < {to:DateTime64(3, 'UTC')}) AS in_period,
      (e.event = 'freelancer_signup_completed' AND e.type = 'track' AND (JSONHas(e.properties, 'community') AND JSONExtractString(e.properties, 'community') = {f0:String})) AS c0,
      (e.event = 'mission_proposal_received' AND e.type = 'track') AS c1,
      if(JSONType(e.properties, 'category') = 'String', JSONExtractString(e.properties, 'category'), JSONExtractRaw(e.properties, 'category')) AS bd_value
    FROM events AS e FINAL
    LEFT JOIN (SELECT l1.alias_id AS alias_id, multiIf(l2.linked_user = '' OR l2.linked_user IN (l1.alias_id, l1.linked_user), l1.linked_user, l3.linked_user = '' OR l3.linked_user IN (l1.alias_id, l1.linked_user, l2.linked_user), l2.linked_user, l3.linked_user) AS linked_user FROM (SELECT alias_id, argMin(user_id, (first_seen, user_id)) AS linked_user FROM identity_links WHERE alias_id != user_id GROUP BY alias_id) AS l1 LEFT JOIN (SELECT previous_id AS alias_id, argMin(user_id, (timestamp, user_id)) AS linked_user FROM events WHERE event = '' AND type = 'alias' AND previous_id != '' AND user_id != '' AND previous_id != user_id GROUP BY previous_id) AS l2 ON l2.alias_id = l1.linked_user LEFT JOIN (SELECT previous_id AS alias_id, argMin(user_id, (timestamp, user_id)) AS linked_user FROM events WHERE event = '' AND type = 'alias' AND previous_id != '' AND user_id != '' AND previous_id != user_id GROUP BY previous_id) AS l3 ON l3.alias_id = l2.linked_user) AS links ON links.alias_id = if(e.user_id != '', e.user_id, e.anonymous_id)
    WHERE e.event IN ('freelancer_signup_completed', 'mission_proposal_received') AND e.timestamp >= {from:DateTime64(3, 'UTC')} AND e.timestamp <= {scan_to:DateTime64(3, 'UTC')}
  )
  WHERE entity != ''
  GROUP BY entity
  HAVING countIf(c0 AND in_period) > 0
) AS pe
)
ARRAY JOIN [('total', ''), ('breakdown', if(bd = '', '(none)', bd)), ('cohort', toString(cohort))] AS g
GROUP BY dim, value
ORDER BY dim, value
SETTINGS join_use_nulls = 0`;

const METRIC_SQL = `SELECT key, avgMerge(partial_0) AS value
FROM (
  SELECT toStartOfMonth(ts, {tz:String}) AS bucket, ts >= {from:DateTime64(3, 'UTC')} AS in_period, avgState(v) AS partial_0
  FROM (
    SELECT e.message_id AS message_id, e.timestamp AS ts, JSONExtract(e.properties, 'rating', 'Nullable(Float64)') AS v
    FROM events AS e FINAL
    WHERE e.event = 'mission_rated' AND e.type = 'track' AND (JSONHas(e.properties, 'rater_side') AND JSONExtractString(e.properties, 'rater_side') = {f0:String}) AND e.timestamp >= {previous_from:DateTime64(3, 'UTC')} AND e.timestamp < {to:DateTime64(3, 'UTC')}
    LIMIT 1 BY message_id
  ) AS folded
  GROUP BY bucket, in_period
)
ARRAY JOIN if(in_period, ['current', toString(bucket)], ['previous']) AS key
GROUP BY key
ORDER BY key
SETTINGS join_use_nulls = 0`;

describe('SQL compilation', () => {
  it.each([
    [
      'a two-step person funnel with a filter and a breakdown',
      () => compileFunnel(FUNNEL, { ...JAN, breakdown: { source: 'event', property: 'category' } }),
      FUNNEL_SQL,
      { from: '2025-01-01 00:00:00.000', to: '2025-02-01 00:00:00.000', scan_to: '2025-03-03 00:00:00.000', window_ms: 2_592_000_000, f0: 'data', tz: 'UTC' },
    ],
    [
      'an average metric with a filter over a month grain',
      () => compileMetric(METRIC, JAN),
      METRIC_SQL,
      { previous_from: '2024-12-01 00:00:00.000', from: '2025-01-01 00:00:00.000', to: '2025-02-01 00:00:00.000', tz: 'UTC', f0: 'company' },
    ],
  ])('%s', (_name, compile, sql, params) => {
    const compiled = compile();
    expect(compiled.sql).toBe(sql);
    expect(compiled.params).toEqual(params);
  });

  it('keeps values out of the SQL text: they travel as parameters', () => {
    const hostile = "data' OR 1=1 --";
    const funnel = defs(`
funnels:
  - id: f
    steps:
      - event: freelancer_signup_completed
        where: { community: { in: ["${hostile.replace(/"/g, '\\"')}", tech] } }
      - mission_proposal_received
`).funnels[0]!;
    const compiled = compileFunnel(funnel, JAN);
    expect(compiled.sql).not.toContain(hostile);
    expect(compiled.params.f0).toEqual([hostile, 'tech']);
  });

  it.each(["category'); DROP TABLE events; --", 'a b', '1abc', ''])('refuses the breakdown %j as an identifier', (breakdown) => {
    expect(() => compileFunnel(FUNNEL, { ...JAN, breakdown: { source: 'event', property: breakdown || ' ' } })).toThrow(/not a valid identifier/);
  });

  it('compiles an exclusion as "no excluded event between the previous step and this one"', () => {
    const [f] = defs(`
funnels:
  - id: x
    steps:
      - mission_proposal_received
      - event: mission_proposal_accepted
        exclude: [{ event: mission_proposal_declined, where: { reason: other } }]
      - event: mission_started
        exclude: mission_proposal_declined
`).funnels;
    const q = compileFunnel(f!, JAN);
    expect(q.sql).toContain("WHERE e.event IN ('mission_proposal_received', 'mission_proposal_accepted', 'mission_started', 'mission_proposal_declined')");
    expect(q.sql).toContain("((e.event = 'mission_proposal_declined' AND e.type = 'track' AND (JSONHas(e.properties, 'reason') AND JSONExtractString(e.properties, 'reason') = {f0:String}))) AS x1");
    expect(q.sql).toContain('groupArrayIf(ts, x1) AS e1, groupArrayIf(ts, x2) AS e2');
    expect(q.sql).toContain('arrayFilter(x -> NOT arrayExists(z -> z > t0 AND z < x, e1), arrayFilter(x -> x >= t0 AND x <= t0 + {window_ms:Int64}, s1)) AS r1');
    expect(q.sql).toContain('NOT arrayExists(z -> z > t1 AND z < x, e2)');
    expect(q.params.f0).toBe('other');
  });

  it('compiles per-step windows and any-order funnels into different matching', () => {
    const [strict, any] = defs(`
funnels:
  - id: s
    steps: [a_event, { event: b_event, within: 2d }, c_event]
  - id: y
    order: any
    steps: [a_event, b_event, c_event]
`).funnels;
    const s = compileFunnel(strict!, JAN);
    expect(s.params.within_ms_1).toBe(2 * 86_400_000);
    expect(s.sql).toContain('x <= t0 + {within_ms_1:Int64}');
    const y = compileFunnel(any!, JAN);
    expect(y.sql).toContain('arrayFirst(x -> x >= t0 AND x <= t0 + {window_ms:Int64}, s2) AS a2');
    expect(y.sql).toContain('if(a1 > 0 AND a2 > 0, greatest(t0, a1, a2), toInt64(0)) AS t2');
  });
});

describe('definitions', () => {
  it.each([
    ['funnels:\n  - id: Bad-Id\n    steps: [a, b]\n', 2, 'kpi_id'],
    // The plan's snake_case: an event could not list `a__b` or `a_` under its `kpis:`.
    ['funnels:\n  - id: a__b\n    steps: [a, b]\n', 2, 'kpi_id'],
    ['metrics:\n  - id: m_\n    type: count\n    event: a\n', 2, 'kpi_id'],
    [`metrics:\n  - id: ${'m'.repeat(65)}\n    type: count\n    event: a\n`, 2, 'kpi_id'],
    ['funnels:\n  - id: f\n    steps: [a]\n', 2, 'kpi_steps'],
    ['funnels:\n  - id: f\n    window: soon\n    steps: [a, b]\n', 2, 'kpi_window'],
    ['funnels:\n  - id: f\n    steps:\n      - a\n      - event: b\n        where: { x: { like: "%" } }\n', 5, 'kpi_filter'],
    ['funnels:\n  - id: f\n    entity: "mission id"\n    steps: [a, b]\n', 2, 'kpi_entity'],
    ['funnels:\n  - id: f\n    steps:\n      - { event: a, exclude: [c] }\n      - b\n', 4, 'kpi_exclude'],
    // Optional steps: never the entry, never the conversion step, and a boolean.
    ['funnels:\n  - id: f\n    steps:\n      - { event: a, optional: true }\n      - b\n', 4, 'kpi_optional'],
    ['funnels:\n  - id: f\n    steps:\n      - a\n      - b\n      - { event: c, optional: true }\n', 6, 'kpi_optional'],
    ['funnels:\n  - id: f\n    steps:\n      - a\n      - { event: b, optional: "yes" }\n      - c\n', 5, 'kpi_optional'],
    ['funnels:\n  - id: f\n    steps:\n      - a\n      - { event: b, exclude: [{ where: { x: 1 } }] }\n', 5, 'kpi_step'],
    ['metrics:\n  - id: m\n    type: median\n    event: a\n', 2, 'kpi_metric_type'],
    ['metrics:\n  - id: r\n    type: ratio\n    numerator: x\n', 2, 'kpi_ratio'],
    ['dashboards: []\n', 1, 'kpi_structure'],
    // Unknown keys, at their own line: ignored, `filters:` made a filtered KPI count everything.
    ['metrics:\n  - id: m\n    type: count\n    event: a\n    filters: { by: company }\n', 5, 'kpi_unknown_key'],
    ['metrics:\n  - id: m\n    type: count\n    event: a\n    property: rating\n', 5, 'kpi_unknown_key'],
    ['metrics:\n  - id: r\n    type: ratio\n    numerator: x\n    denominator: y\n    event: a\n', 6, 'kpi_unknown_key'],
    ['funnels:\n  - id: f\n    windw: 7d\n    steps: [a, b]\n', 3, 'kpi_unknown_key'],
    ['funnels:\n  - id: f\n    steps:\n      - a\n      - event: b\n        filter: { x: 1 }\n', 6, 'kpi_unknown_key'],
    ['funnels:\n  - id: f\n    steps:\n      - a\n      - { event: b, exclude: [{ event: c, filters: { x: 1 } }] }\n', 5, 'kpi_unknown_key'],
    ['retention:\n  - id: r\n    start: a\n    return:\n      event: b\n      filters: { x: 1 }\n', 6, 'kpi_unknown_key'],
    ['retention:\n  - id: r\n    start: a\n    return: b\n    cohorts: 8\n', 5, 'kpi_unknown_key'],
    ['funnels:\n  - id: f\n   bad: [\n', 3, 'yaml_syntax'],
  ])('reports %j at line %i as %s', (yaml, line, rule) => {
    const { messages } = parseKpiFile('kpis/x.yaml', yaml);
    expect(messages).toContainEqual(expect.objectContaining({ file: 'kpis/x.yaml', line, rule, severity: 'error' }));
  });

  it('names what an unknown key most likely meant', () => {
    const { messages } = parseKpiFile('kpis/x.yaml', 'metrics:\n  - id: m\n    type: count\n    event: a\n    filters: { by: company }\n    colour: red\n');
    expect(messages.map((m) => m.message)).toEqual([
      'metric m: unknown key "filters": did you mean "where"?',
      'metric m: unknown key "colour" (known: id, title, description, type, event, where, breakdown, grain, unit)',
    ]);
  });

  it('accepts an optional middle step, and exclusions in any order (decision 0036)', () => {
    const { definitions, messages } = parseKpiFile(
      'kpis/x.yaml',
      'funnels:\n  - id: f\n    order: any\n    steps:\n      - a\n      - { event: b, optional: true }\n      - { event: c, exclude: [d] }\n',
    );
    expect(messages).toEqual([]);
    expect(definitions.funnels[0]?.steps.map((s) => [s.event, s.optional, s.exclude.map((x) => x.event)])).toEqual([
      ['a', false, []],
      ['b', true, []],
      ['c', false, ['d']],
    ]);
  });

  it.each([
    ['30d', 30 * 86_400_000],
    ['12h', 12 * 3_600_000],
    ['2w', 14 * 86_400_000],
    ['0d', undefined],
    ['30 days', undefined],
  ])('parses the duration %j', (raw, ms) => {
    expect(parseDuration(raw)).toBe(ms);
  });

  it.each([
    ['2025-03-01', 'from', Date.parse('2025-03-01T00:00:00Z')],
    ['2025-03-31', 'to', Date.parse('2025-04-01T00:00:00Z')],
    ['2025-03-31T12:00:00Z', 'to', Date.parse('2025-03-31T12:00:00Z')],
  ] as const)('reads the date %j as --%s', (raw, role, ms) => {
    expect(parseDateInput(raw, role)).toBe(ms);
  });

  it('rejects a date that is not one', () => {
    expect(() => parseDateInput("2025-01-01' OR 1=1", 'from')).toThrow(expect.objectContaining({ code: 'invalid_date' }));
  });
});

describe('lint against the tracking plan', () => {
  let plan: TrackingPlan;
  it('finds nothing wrong with the shipped KPIs and funnels', async () => {
    expect(await lintKpiDefinitions(await loadPlan(EXAMPLE_PLAN), EXAMPLE_PLAN)).toEqual([]);
    plan = await loadPlan(PLAN_DIR);
    expect(await lintKpiDefinitions(plan, PLAN_DIR)).toEqual([]);
    const loaded = await loadKpiDefinitions(PLAN_DIR);
    expect(loaded.funnels.map((f) => f.id)).toContain('freelancer_activation');
  });

  it('names KPI files relative to the plan directory, as plan messages are, so `plan check` prints a path that exists', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-kpi-lint-'));
    fs.cpSync(PLAN_DIR, dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'kpis', 'broken.yaml'), 'funnels:\n  - id: Bad-Id\n    steps: [freelancer_signup_completed, mission_completed]\n');
    plan ??= await loadPlan(PLAN_DIR);
    const messages = await lintKpiDefinitions(plan, dir);
    const problem = messages.find((m) => m.rule === 'kpi_id');
    expect(problem?.file).toBe('kpis/broken.yaml');
    expect(fs.existsSync(path.join(dir, problem!.file))).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('points at unplanned events and unknown properties with file:line', async () => {
    plan ??= await loadPlan(PLAN_DIR);
    const { lintDefinitionsAgainstPlan } = await import('../../src/analytics/kpi-lint.ts');
    const parsed = parseKpiFile(
      'kpis/bad.yaml',
      `funnels:
  - id: f
    entity: mission_id
    breakdown: shoe_size
    steps:
      - freelancer_signup_completed
      - event: mission_proposal_recieved
      - event: mission_completed
        where: { colour: blue }
metrics:
  - { id: r, type: average, event: mission_posted, property: category }
`,
    );
    const messages = lintDefinitionsAgainstPlan(plan, parsed.definitions).map((m) => `${m.line} ${m.rule} ${m.message}`);
    expect(messages).toEqual([
      '6 kpi_unknown_property funnel f step 1: entity property "mission_id" is not a property of "freelancer_signup_completed"',
      '7 kpi_unplanned_event funnel f step 2: event "mission_proposal_recieved" is not in the tracking plan',
      '8 kpi_unknown_property funnel f step 3: filter property "colour" is not a property of "mission_completed"',
      '2 kpi_unknown_property funnel f: breakdown property "shoe_size" is not a property of the entry event "freelancer_signup_completed"',
      '11 kpi_not_numeric metric r: "category" is not numeric ("string")',
    ]);
  });
});

describe('read-only SQL guard', () => {
  it.each([
    ['SELECT 1', 'SELECT 1'],
    ['  select count() from events ;  ', 'select count() from events'],
    ["SELECT ';' AS s, '(' AS p", "SELECT ';' AS s, '(' AS p"],
    ['WITH x AS (SELECT 1) SELECT * FROM x', 'WITH x AS (SELECT 1) SELECT * FROM x'],
    ['SELECT 1 -- why: a note\n', 'SELECT 1'],
    ["/* lead */ SELECT '--not a comment' AS s /* tail */;  -- after", "SELECT '--not a comment' AS s"],
    ['SELECT 1 UNION ALL SELECT 2', 'SELECT 1 UNION ALL SELECT 2'],
    ['(SELECT 1) UNION DISTINCT (SELECT 2)', '(SELECT 1) UNION DISTINCT (SELECT 2)'],
    ["SELECT JSONExtractString(properties, 'format') AS format FROM events", "SELECT JSONExtractString(properties, 'format') AS format FROM events"],
    ["SELECT formatDateTime(timestamp, '%F') AS day, settings FROM t ORDER BY format", "SELECT formatDateTime(timestamp, '%F') AS day, settings FROM t ORDER BY format"],
    ['EXPLAIN SELECT 1', 'EXPLAIN SELECT 1'],
    ['explain syntax select 1', 'explain syntax select 1'],
    [
      'DESCRIBE TABLE events',
      "SELECT name, type, default_kind AS default_type, default_expression, comment FROM system.columns WHERE database = currentDatabase() AND table = 'events' ORDER BY position",
    ],
    ['desc balise.events;', "SELECT name, type, default_kind AS default_type, default_expression, comment FROM system.columns WHERE database = 'balise' AND table = 'events' ORDER BY position"],
    ['SHOW TABLES', 'SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name'],
    ['show create table events', "SELECT create_table_query AS statement FROM system.tables WHERE database = currentDatabase() AND name = 'events'"],
  ])('accepts %j', (sql, statement) => {
    expect(checkSingleQuery(sql)).toBe(statement);
  });

  it.each([
    ['SELECT 1; SELECT 2', /one statement/],
    ['INSERT INTO events VALUES (1)', /only SELECT/],
    ['ALTER TABLE events DELETE WHERE 1', /only SELECT/],
    ['SELECT 1 /* open', /unterminated/],
    ['SELECT 1; -- fine\nSELECT 2', /one statement/],
    ['EXPLAIN INSERT INTO events VALUES (1)', /EXPLAIN/],
    ['SHOW GRANTS', /accepted: DESCRIBE/],
    ["DESCRIBE events'; DROP", /unterminated|accepted/],
    ['SELECT 1 FORMAT JSONEachRow', /FORMAT/],
    ['SELECT format FORMAT CSV', /FORMAT/],
    ['SELECT * FROM (SELECT 1 SETTINGS max_threads = 64)', /SETTINGS/],
    ["SELECT 1 INTO OUTFILE '/tmp/x'", /OUTFILE/],
    ['SELECT (1', /parentheses/],
    ['SELECT 1) UNION ALL (SELECT 2', /parentheses/],
    ["SELECT 'open", /unterminated/],
    ['SELECT 1 FORMAT CSV', /FORMAT/],
    ['SELECT 1 SETTINGS readonly=0', /SETTINGS/],
    ['', /empty/],
  ])('rejects %j', (sql, reason) => {
    expect(() => checkSingleQuery(sql)).toThrow(reason);
  });

  it('wraps the query with readonly=1 and its bounds', () => {
    expect(wrapReadOnly('SELECT 1', { maxRows: 100, maxSeconds: 10 })).toBe(
      "SELECT * FROM (\nSELECT 1\n)\nLIMIT 101\nSETTINGS readonly = 1, max_execution_time = 10, max_result_rows = 101, result_overflow_mode = 'break', max_memory_usage = 2000000000, output_format_json_quote_64bit_integers = 1",
    );
  });
});
