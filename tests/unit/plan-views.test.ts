import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/load.ts';
import type { PlanEvent, PropertySchema } from '../../src/plan/model.ts';
import { columnFor, viewFor, views, viewsSql } from '../../src/plan/views.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';

describe('typed SQL views', () => {
  it.each<[string, PropertySchema, string, string]>([
    ['s', { type: 'string' }, "if(JSONHas(properties, 's'), JSONExtractString(properties, 's'), NULL)", 'Nullable(String)'],
    ['n', { type: 'number' }, "JSONExtract(properties, 'n', 'Nullable(Float64)')", 'Nullable(Float64)'],
    ['i', { type: 'integer' }, "JSONExtract(properties, 'i', 'Nullable(Int64)')", 'Nullable(Int64)'],
    ['b', { type: 'boolean' }, "JSONExtract(properties, 'b', 'Nullable(Bool)')", 'Nullable(Bool)'],
    ['a', { type: 'array', items: { type: 'string' } }, "JSONExtract(properties, 'a', 'Array(String)')", 'Array(String)'],
    ['d', { type: 'string', format: 'date' }, "toDate32OrNull(JSONExtractString(properties, 'd'))", 'Nullable(Date32)'],
    ['t', { type: 'string', format: 'date-time' }, "parseDateTime64BestEffortOrNull(JSONExtractString(properties, 't'), 3, 'UTC')", "Nullable(DateTime64(3, 'UTC'))"],
    ['e', { enum: ['x', 'y'] }, "if(JSONHas(properties, 'e'), JSONExtractString(properties, 'e'), NULL)", 'Nullable(String)'],
    ['o', { type: 'object' }, "if(JSONHas(properties, 'o'), JSONExtractRaw(properties, 'o'), NULL)", 'Nullable(String)'],
    ["it's", { type: 'string' }, "if(JSONHas(properties, 'it\\'s'), JSONExtractString(properties, 'it\\'s'), NULL)", 'Nullable(String)'],
    // No usable type: the raw JSON, NULL when absent.
    ['u', {}, "if(JSONHas(properties, 'u'), JSONExtractRaw(properties, 'u'), NULL)", 'Nullable(String)'],
  ])('%s → %s (an absent text property is NULL, not an empty string, required or not)', (name, schema, expr, type) => {
    expect(columnFor(name, schema)).toEqual({ expr, type });
  });

  it('builds one view per event with the common columns first', () => {
    const event: PlanEvent = {
      name: 'mission_rated',
      kind: 'track',
      description: '',
      owner: '',
      status: 'active',
      kpis: [],
      file: '',
      properties: { rating: { type: 'integer' }, mission_id: { type: 'string' }, timestamp: { type: 'string' } },
      required: ['mission_id', 'timestamp'],
    };
    const v = viewFor(event);
    expect(v.name).toBe('ev_mission_rated');
    expect(v.columns.map((c) => c.name)).toEqual(['message_id', 'timestamp', 'user_id', 'anonymous_id', 'source', 'plan_version', 'plan_status', 'mission_id', 'rating', 'prop_timestamp']);
    expect(v.sql).toMatch(/^CREATE OR REPLACE VIEW `ev_mission_rated` AS\nSELECT\n/);
    expect(v.sql).toContain("WHERE type = 'track' AND event = 'mission_rated'\nLIMIT 1 BY message_id");
    expect(v.sql).toContain("CAST(JSONExtract(properties, 'rating', 'Nullable(Int64)'), 'Nullable(Int64)') AS `rating`");
    expect(viewFor({ ...event, kind: 'page', name: 'mission_list' }).name).toBe('ev_page_mission_list');
    expect(viewFor(event, { cluster: 'prod' }).sql).toContain('VIEW `ev_mission_rated` ON CLUSTER prod AS');
    expect(viewFor(event, { cluster: 'prod-eu.1' }).sql).toContain('VIEW `ev_mission_rated` ON CLUSTER `prod-eu.1` AS');
  });

  it('covers every event of a plan', async () => {
    const plan = await loadPlan(FIXTURE_PLAN);
    const defs = views(plan);
    expect(defs).toHaveLength(plan.events.length);
    expect(defs.find((d) => d.name === 'ev_freelancer_profile_completed')!.columns).toEqual(
      expect.arrayContaining([
        { name: 'skills', type: 'Array(String)' },
        { name: 'daily_rate', type: 'Nullable(Float64)' },
        { name: 'available_from', type: 'Nullable(Date32)' },
      ]),
    );
    expect(viewsSql(plan).match(/CREATE OR REPLACE VIEW/g)).toHaveLength(plan.events.length);
  });
});
