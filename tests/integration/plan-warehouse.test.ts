import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_LINE_COLUMNS, eventRowLine, toEventRow, toMalformedRow, toQuarantineRow } from '../../src/warehouse/rows.ts';
import { loadPlanValidator } from '../../src/plan/compile.ts';
import { loadPlan } from '../../src/plan/load.ts';
import type { JsonObject, NormalizedEvent } from '../../src/types.ts';
import { openWarehouse, type Warehouse } from '../../src/warehouse/client.ts';
import { insertJsonLines } from '../../src/warehouse/insert.ts';
import { migrate } from '../../src/warehouse/migrations.ts';
import { replayQuarantine } from '../../src/queue/replay-quarantine.ts';
import { applyViews } from '../../src/warehouse/views.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';

let dataDir: string;
/** The ingest's default per-event limit (BALISE_MAX_EVENT_BYTES). */
const MAX_EVENT_BYTES = 32 * 1024;

const opened: Warehouse[] = [];

function ev(messageId: string, event: string, properties: JsonObject, declaredPlanVersion?: string): NormalizedEvent {
  return {
    type: 'track',
    messageId,
    event,
    userId: 'fr_42',
    anonymousId: 'anon_1',
    groupId: '',
    previousId: '',
    timestamp: Date.UTC(2024, 2, 1, 10),
    sentAt: null,
    receivedAt: Date.UTC(2024, 2, 1, 10, 0, 1),
    properties,
    traits: {},
    context: { library: { name: 'balise-js', version: '1.0.0' } },
    declaredPlanVersion,
    source: 'web',
  };
}

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'balise-plan-it-'));
});

afterAll(async () => {
  for (const w of opened) await w.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

/** Each test gets its own copy of the example plan and its own database: any one runs alone. */
async function fresh(name: string) {
  const planDir = path.join(dataDir, `plan-${name}`);
  await fs.cp(FIXTURE_PLAN, planDir, { recursive: true });
  const warehouse = await openWarehouse({ clickhouse: { url: undefined, user: 'default', password: '', database: `plan_it_${name}`, cluster: undefined }, dataDir });
  opened.push(warehouse);
  await migrate(warehouse);
  const rows = async <T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> => (await warehouse.client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
  return { planDir, warehouse, rows };
}

/** The fix of the tests' quarantined declines: `reason` optional again, in 2.1.0 (a minor bump); the validator of the fixed plan. */
async function reasonMadeOptional(planDir: string) {
  const file = path.join(planDir, 'events/mission_proposal_declined.yaml');
  await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('  - freelancer_id\n  - reason\n', '  - freelancer_id\n'));
  await fs.writeFile(path.join(planDir, 'plan.yaml'), (await fs.readFile(path.join(planDir, 'plan.yaml'), 'utf8')).replace('version: 2.0.0', 'version: 2.1.0'));
  return loadPlanValidator(planDir);
}

describe('plan versions, views and quarantine replay on the real engine', () => {
  const declined = { mission_id: 'msn_7', freelancer_id: 'fr_42' };

  it('accepts an event valid under the version it declares and quarantines it under the latest, with its violations', async () => {
    const { planDir, warehouse, rows } = await fresh('versions');
    const validator = await loadPlanValidator(planDir);
    const old = ev('m-old', 'mission_proposal_declined', declined, '1.1.0');
    const current = ev('m-new', 'mission_proposal_declined', declined);
    const oldVerdict = validator.validate(old);
    const newVerdict = validator.validate(current);
    expect(oldVerdict).toEqual({ status: 'valid', planVersion: '1.1.0', violations: [] });
    expect(newVerdict).toEqual({
      status: 'quarantined',
      planVersion: '2.0.0',
      violations: [{ path: '/properties/reason', rule: 'required', message: 'required property "reason" is missing' }],
    });
    await insertJsonLines(warehouse, 'events', [JSON.stringify(toEventRow(old, oldVerdict))]);
    await insertJsonLines(warehouse, 'quarantine', [JSON.stringify(toQuarantineRow(current, newVerdict))]);
    expect(await rows('SELECT message_id, plan_version, plan_status FROM events')).toEqual([{ message_id: 'm-old', plan_version: '1.1.0', plan_status: 'valid' }]);
    const [q] = await rows<{ plan_version: string; reasons: string[]; violations: string }>('SELECT plan_version, reasons, violations FROM quarantine');
    expect(q!.plan_version).toBe('2.0.0');
    expect(q!.reasons).toEqual(['required']);
    expect(JSON.parse(q!.violations)).toEqual(newVerdict.violations);
  });

  it('creates typed views that analysts query without JSON functions', async () => {
    const { planDir, warehouse, rows } = await fresh('views');
    const plan = await loadPlan(planDir);
    const names = await applyViews(warehouse, plan);
    expect(names).toContain('ev_freelancer_profile_completed');
    const validator = await loadPlanValidator(planDir);
    const old = ev('m-old', 'mission_proposal_declined', declined, '1.1.0');
    await insertJsonLines(warehouse, 'events', [JSON.stringify(toEventRow(old, validator.validate(old)))]);
    const profile = ev('m-profile', 'freelancer_profile_completed', {
      freelancer_id: 'fr_42',
      skills: ['python', 'dbt'],
      community: 'data',
      category: 'data_engineering',
      daily_rate: 650.5,
      remote_preference: 'hybrid',
      available_from: '2024-04-15',
    });
    const verdict = validator.validate(profile);
    expect(verdict.status).toBe('valid');
    await insertJsonLines(warehouse, 'events', [JSON.stringify(toEventRow(profile, verdict))]);

    const [row] = await rows<Record<string, unknown>>(
      'SELECT message_id, user_id, plan_version, skills, daily_rate, available_from, category, toTypeName(skills) AS t_skills, toTypeName(daily_rate) AS t_rate, toTypeName(available_from) AS t_from FROM ev_freelancer_profile_completed',
    );
    expect(row).toEqual({
      message_id: 'm-profile',
      user_id: 'fr_42',
      plan_version: '2.0.0',
      skills: ['python', 'dbt'],
      daily_rate: 650.5,
      available_from: '2024-04-15',
      category: 'data_engineering',
      t_skills: 'Array(String)',
      t_rate: 'Nullable(Float64)',
      t_from: 'Nullable(Date32)',
    });
    // An optional text property not sent is NULL, not '' (industry is optional); a copy sent twice is one row.
    const bare = ev('m-bare', 'company_signed_up', { company_id: 'cmp_43', company_size: 'startup' });
    expect(validator.validate(bare).status).toBe('valid');
    await insertJsonLines(warehouse, 'events', [JSON.stringify(toEventRow(bare, validator.validate(bare)))]);
    await insertJsonLines(warehouse, 'events', [JSON.stringify(toEventRow(bare, validator.validate(bare)))]);
    expect(await rows('SELECT message_id, industry, company_size FROM ev_company_signed_up')).toEqual([{ message_id: 'm-bare', industry: null, company_size: 'startup' }]);
    // Rows of other events stay out of the view; a reapply is idempotent.
    // m-old was written before `reason` became required: it has none, so NULL, not ''.
    expect(await rows('SELECT message_id, reason FROM ev_mission_proposal_declined')).toEqual([{ message_id: 'm-old', reason: null }]);
    await applyViews(warehouse, plan);
  });

  it('keeps an event over the per-event limit in quarantine at replay, and counts what the client resent as already stored', async () => {
    const { planDir, warehouse, rows } = await fresh('replay_limits');
    const validator = await loadPlanValidator(planDir);
    // Both lack `reason`, required in 2.0.0. One is 40 KB; the other the client resent, fixed, and live ingest stored it.
    const big = ev('m-big', 'mission_proposal_declined', { ...declined, note: 'x'.repeat(40 * 1024) });
    const resent = ev('m-resent', 'mission_proposal_declined', declined);
    await insertJsonLines(
      warehouse,
      'quarantine',
      [big, resent].map((e) => JSON.stringify(toQuarantineRow(e, validator.validate(e)))),
    );
    const fixedByClient = ev('m-resent', 'mission_proposal_declined', { ...declined, reason: 'budget' });
    await insertJsonLines(warehouse, 'events', [JSON.stringify(toEventRow(fixedByClient, validator.validate(fixedByClient)))]);
    // And a payload that is no event at all: counted apart, never replayed (found 2026-12-05: not mentioned at all).
    const notAnEvent = toMalformedRow('just a string', { code: 'not_an_object', message: 'an event must be a JSON object' }, Date.now(), 'test', '"just a string"');
    await insertJsonLines(warehouse, 'quarantine', [JSON.stringify({ ...notAnEvent, message_id: 'm-malformed' })]);

    const fixed = await reasonMadeOptional(planDir);

    const limited = await replayQuarantine(warehouse, fixed, { maxEventBytes: MAX_EVENT_BYTES });
    expect(limited).toMatchObject({ examined: 1, moved: 0, stillInvalid: 1, alreadyStored: 1, malformed: 1 });
    expect(limited.stays.map((s) => s.messageId)).toEqual(['m-big']);
    expect(limited.stays[0]!.why).toMatch(/^event is larger than 32768 bytes once stored \(4\d{4} with the fields Balise adds\): over the per-event limit, BALISE_MAX_EVENT_BYTES$/);
    expect(await rows("SELECT message_id FROM events WHERE message_id = 'm-big'")).toEqual([]);

    // Under a larger limit it moves; the resent event is not moved again: the first run recorded it as resolved.
    expect(await replayQuarantine(warehouse, fixed, { maxEventBytes: 64 * 1024 })).toMatchObject({ examined: 1, moved: 1, stillInvalid: 0, alreadyStored: 0 });
    expect(await rows("SELECT message_id FROM quarantine_replays FINAL WHERE message_id = 'm-resent'")).toEqual([{ message_id: 'm-resent' }]);
    expect(await rows('SELECT message_id, count() AS n FROM events FINAL GROUP BY message_id ORDER BY message_id')).toEqual([
      { message_id: 'm-big', n: 1 },
      { message_id: 'm-resent', n: 1 },
    ]);
  });

  it('replays a quarantined event into events once the plan is fixed, exactly once', async () => {
    const { planDir, warehouse, rows } = await fresh('replay');
    await applyViews(warehouse, await loadPlan(planDir));
    const validator = await loadPlanValidator(planDir);
    const old = ev('m-old', 'mission_proposal_declined', declined, '1.1.0');
    const current = ev('m-new', 'mission_proposal_declined', declined);
    await insertJsonLines(warehouse, 'events', [JSON.stringify(toEventRow(old, validator.validate(old)))]);
    await insertJsonLines(warehouse, 'quarantine', [JSON.stringify(toQuarantineRow(current, validator.validate(current)))]);

    const before = await replayQuarantine(warehouse, await loadPlanValidator(planDir), { maxEventBytes: MAX_EVENT_BYTES });
    expect(before).toMatchObject({ examined: 1, moved: 0, stillInvalid: 1, alreadyStored: 0, movedUnderCurrent: 0, staysNotExplained: 0 });
    expect(before.stays.map((s) => [s.messageId, s.why])).toEqual([['m-new', 'version 2.0.0: required property "reason" is missing']]);

    const fixed = await reasonMadeOptional(planDir);
    expect(fixed.latestVersion).toBe('2.1.0');

    expect(await replayQuarantine(warehouse, fixed, { maxEventBytes: MAX_EVENT_BYTES, event: 'mission_rated' })).toEqual({
      examined: 0,
      moved: 0,
      stillInvalid: 0,
      alreadyStored: 0,
      malformed: 0,
      movedUnderCurrent: 0,
      stays: [],
      staysNotExplained: 0,
    });
    expect(await replayQuarantine(warehouse, fixed, { maxEventBytes: MAX_EVENT_BYTES, since: Date.UTC(2025, 0, 1) })).toEqual({
      examined: 0,
      moved: 0,
      stillInvalid: 0,
      alreadyStored: 0,
      malformed: 0,
      movedUnderCurrent: 0,
      stays: [],
      staysNotExplained: 0,
    });
    expect(await replayQuarantine(warehouse, fixed, { maxEventBytes: MAX_EVENT_BYTES, event: 'mission_proposal_declined', since: Date.UTC(2024, 0, 1) })).toEqual({
      examined: 1,
      moved: 1,
      stillInvalid: 0,
      alreadyStored: 0,
      malformed: 0,
      movedUnderCurrent: 0,
      stays: [],
      staysNotExplained: 0,
    });
    expect(await replayQuarantine(warehouse, fixed, { maxEventBytes: MAX_EVENT_BYTES })).toEqual({
      examined: 0,
      moved: 0,
      stillInvalid: 0,
      alreadyStored: 0,
      malformed: 0,
      movedUnderCurrent: 0,
      stays: [],
      staysNotExplained: 0,
    });

    expect(
      await rows('SELECT message_id, plan_version, plan_status, library_name, toString(toUnixTimestamp64Milli(timestamp)) AS ts FROM events WHERE message_id = {id:String}', { id: 'm-new' }),
    ).toEqual([{ message_id: 'm-new', plan_version: '2.1.0', plan_status: 'valid', library_name: 'balise-js', ts: String(Date.UTC(2024, 2, 1, 10)) }]);
    expect(await rows('SELECT message_id, plan_version FROM quarantine_replays')).toEqual([{ message_id: 'm-new', plan_version: '2.1.0' }]);
    // The replayed event now shows up in its typed view too.
    expect(await rows('SELECT message_id FROM ev_mission_proposal_declined ORDER BY message_id')).toEqual([{ message_id: 'm-new' }, { message_id: 'm-old' }]);
  });
});

describe('rows encoded once', () => {
  // The ingest's line keeps properties, traits and context as JSON objects (no second
  // stringify, no escaped quotes): the engine must store exactly the text toEventRow would.
  it('stores the same text for properties, traits and context as the row stringified twice', async () => {
    const { warehouse, rows } = await fresh('encoded_once');
    const tricky: JsonObject = {
      quote: 'say "hi"',
      backslash: 'a\\b\\',
      unicode: 'é 漢 \u2028 \u0000',
      lone: '\ud800x',
      big: 1e21,
      small: 5e-7,
      nested: { empty: {}, list: [1, null, true, 'q', { k: [] }] },
    };
    const event = {
      ...ev('m-once', 'mission_proposal_declined', tricky),
      traits: { name: 'Zoë "Z"' },
      context: { library: { name: 'balise-js', version: '1.0.0' }, page: { url: 'https://x.test/?a=1&b="2"' } },
    };
    const verdict = { status: 'unplanned' as const, planVersion: '2.0.0', violations: [] };
    const line = eventRowLine(event, verdict);
    const twice = toEventRow(event, verdict);
    expect(line.length).toBeLessThan(JSON.stringify(twice).length);
    await insertJsonLines(warehouse, 'events', [line], EVENT_LINE_COLUMNS);
    const [stored] = await rows<{ properties: string; traits: string; context: string; library_name: string }>(
      "SELECT properties, traits, context, library_name FROM events WHERE message_id = 'm-once'",
    );
    expect(stored).toEqual({ properties: twice.properties, traits: twice.traits, context: twice.context, library_name: 'balise-js' });
  });

  // The queued line is a JSONCompactEachRow array (decision 0041): every column must land as the
  // same event's JSONEachRow object does, and jobs queued as objects by an older API still load.
  it('stores every column of a compact line as the same row written as an object', async () => {
    const { warehouse, rows } = await fresh('compact_line');
    const base = { ...ev('m-compact', 'mission_proposal_declined', { note: 'a "b" \\ é', n: 1.5 }), sentAt: Date.UTC(2024, 2, 1, 10, 0, 5), originalTimestamp: Date.UTC(2024, 2, 1, 9, 59) };
    const verdict = { status: 'warned' as const, planVersion: '2.0.0', violations: [{ path: '/properties/n', rule: 'type', message: 'must be integer' }] };
    const compact = eventRowLine(base, verdict);
    expect(JSON.parse(compact)).toHaveLength(EVENT_LINE_COLUMNS.length);
    await insertJsonLines(warehouse, 'events', [compact], EVENT_LINE_COLUMNS);
    await insertJsonLines(warehouse, 'events', [JSON.stringify(toEventRow({ ...base, messageId: 'm-object' }, verdict))]);
    const stored = await rows<Record<string, unknown>>("SELECT * EXCEPT (message_id, inserted_at) FROM events WHERE message_id IN ('m-compact', 'm-object') ORDER BY message_id");
    expect(stored).toHaveLength(2);
    expect(stored[0]).toEqual(stored[1]);
    expect(stored[0]).toMatchObject({ plan_status: 'warned', message_date: '2024-03-01', properties: JSON.stringify(base.properties), violations: JSON.stringify(verdict.violations) });
  });
});
