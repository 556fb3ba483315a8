/**
 * Against a real Balise (redis-server, embedded ClickHouse, API + worker):
 * - strict timestamps: a non-ISO timestamp is quarantined per event, never read as a date; the
 *   client's own timestamp is stored beside the corrected one (migration 002);
 * - resends are resends everywhere: a resent event the plan rejects is one quarantine row, and a
 *   quarantined event replayed into `events` then resent by its client is stored once.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processEvents } from '../../src/ingest/process.ts';
import { loadPlanValidator } from '../../src/plan/compile.ts';
import { insertJsonLines } from '../../src/warehouse/insert.ts';
import { migrate, readMigrations, renderStatement } from '../../src/warehouse/migrations.ts';
import { EVENT_LINE_COLUMNS } from '../../src/warehouse/rows.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { post, REPO_ROOT, startStack, tempDir, type Stack } from '../helpers/stack.ts';

let stack: Stack;
let planDir: string;
beforeAll(async () => {
  planDir = path.join(tempDir('balise-resends-plan-'), 'plan');
  await fs.cp(FIXTURE_PLAN, planDir, { recursive: true });
  stack = await startStack({ planDir });
});
afterAll(async () => {
  await stack?.stop();
});

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await f();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const countOf = async (table: string, id: string) => Number((await stack.query<{ n: string }>(`SELECT count() AS n FROM ${table} WHERE message_id = {id:String}`, { id }))[0]!.n);
const arrived = (table: string, id: string) => waitFor(`${id} in ${table}`, async () => ((await countOf(table, id)) > 0 ? true : undefined));

// Rated 9 of 5: the example plan rejects it (maximum 5), and no test here changes that rule.
const badRating = (messageId: string) => ({ type: 'track', event: 'mission_rated', userId: 'fr_1', messageId, properties: { mission_id: 'msn_1', rater_side: 'company', rating: 9 } });
// Declined without a reason: rejected until the replay test makes `reason` optional.
const declined = (messageId: string) => ({ type: 'track', event: 'mission_proposal_declined', userId: 'fr_1', messageId, properties: { mission_id: 'msn_1', freelancer_id: 'fr_1' } });
const sentinel = (messageId: string) => ({ type: 'track', event: 'resend_sentinel', userId: 'fr_1', messageId });

describe('strict timestamps', () => {
  it('"12" and "Dec 1 2026" are quarantined with invalid_timestamp; the good event keeps its original timestamp', async () => {
    const now = Date.now();
    const deviceNow = now + 3_600_000; // the device clock is an hour fast
    const res = await post(stack, '/v1/batch', {
      sentAt: new Date(deviceNow).toISOString(),
      batch: [
        { type: 'track', event: 'ts_good', userId: 'u1', messageId: 'ts-good', timestamp: new Date(deviceNow - 60_000).toISOString() },
        { type: 'track', event: 'ts_bad', userId: 'u1', messageId: 'ts-twelve', timestamp: '12' },
        { type: 'track', event: 'ts_bad', userId: 'u1', messageId: 'ts-month', timestamp: 'Dec 1 2026' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 1, quarantined: 2 });
    const results = res.body.results as { messageId: string; status: string; code?: string }[];
    expect(results.map((r) => [r.messageId, r.status, r.code])).toEqual([
      ['ts-good', 'accepted', undefined],
      ['ts-twelve', 'quarantined', 'invalid_timestamp'],
      ['ts-month', 'quarantined', 'invalid_timestamp'],
    ]);

    await arrived('events', 'ts-good');
    const [row] = await stack.query<{ ts: string; original: string; received: string }>(
      "SELECT toString(toUnixTimestamp64Milli(timestamp)) AS ts, toString(toUnixTimestamp64Milli(assumeNotNull(original_timestamp))) AS original, toString(toUnixTimestamp64Milli(received_at)) AS received FROM events WHERE message_id = 'ts-good'",
    );
    expect(Number(row!.original)).toBe(deviceNow - 60_000);
    expect(Number(row!.ts)).toBe(Number(row!.received) - 60_000);

    await arrived('quarantine', 'ts-month');
    const kept = await stack.query<{ message_id: string; reasons: string[]; raw: string }>(
      "SELECT message_id, reasons, raw FROM quarantine WHERE message_id IN ('ts-twelve', 'ts-month') ORDER BY message_id",
    );
    expect(kept.map((k) => [k.message_id, k.reasons, (JSON.parse(k.raw) as { timestamp: string }).timestamp])).toEqual([
      ['ts-month', ['malformed:invalid_timestamp'], 'Dec 1 2026'],
      ['ts-twelve', ['malformed:invalid_timestamp'], '12'],
    ]);
    expect(await countOf('events', 'ts-twelve')).toBe(0);
  });

  it('migration 002 adds original_timestamp idempotently, and renders ON CLUSTER for a cluster', async () => {
    const [column] = await stack.query<{ type: string }>("SELECT type FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'original_timestamp'");
    expect(column).toEqual({ type: "Nullable(DateTime64(3, 'UTC'))" });
    const again = await migrate(stack.warehouse);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toContain('002_original_timestamp.sql');
    const m002 = (await readMigrations(path.join(REPO_ROOT, 'migrations'))).find((m) => m.version === 2)!;
    // Re-running the statement itself (a node that already has the column) is harmless.
    for (const statement of m002.statements) await stack.warehouse.client.command({ query: renderStatement(statement, undefined) });
    expect(m002.statements.map((s) => renderStatement(s, 'prod'))).toEqual([
      "ALTER TABLE events ON CLUSTER prod ADD COLUMN IF NOT EXISTS original_timestamp Nullable(DateTime64(3, 'UTC')) AFTER timestamp",
    ]);
  });
});

describe('resends are resends everywhere', () => {
  it('a resent event that the plan rejects is one quarantine row, not two', async () => {
    expect((await post(stack, '/v1/batch', { batch: [badRating('rs-q1')] })).body).toMatchObject({ quarantined: 1 });
    await arrived('quarantine', 'rs-q1');
    // The client retries (twice in one batch, as a retry of a partly sent queue can), with a marker
    // in the same request: once the marker is stored, so would be any second copy.
    expect((await post(stack, '/v1/batch', { batch: [badRating('rs-q1'), badRating('rs-q1'), badRating('rs-q1-marker')] })).body).toMatchObject({ quarantined: 3 });
    await arrived('quarantine', 'rs-q1-marker');
    expect(await countOf('quarantine', 'rs-q1')).toBe(1);
  });

  it('two copies in one insert are kept until a merge (optimize_on_insert = 0) and read as one row', async () => {
    const validator = await loadPlanValidator(planDir);
    const [line] = processEvents([sentinel('rs-in1')], validator, { receivedAt: Date.now(), source: 'test', maxEventBytes: 32_768, piiKey: 'k' }).job.events;
    await insertJsonLines(stack.warehouse, 'events', [line!, line!], EVENT_LINE_COLUMNS);
    // Decision 0046: the engine no longer folds an insert's own copies as it writes them…
    expect(await countOf('events', 'rs-in1')).toBe(2);
    // …and what every reader does, FINAL, folds them as it folds copies across inserts.
    const [folded] = await stack.query<{ n: string }>(`SELECT count() AS n FROM events FINAL WHERE message_id = 'rs-in1'`);
    expect(Number(folded!.n)).toBe(1);
  });

  it('a quarantined event replayed into events, then resent by its client, is stored once', async () => {
    expect((await post(stack, '/v1/batch', { batch: [declined('rs-r1')] })).body).toMatchObject({ quarantined: 1 });
    await arrived('quarantine', 'rs-r1');

    // The plan is fixed (reason becomes optional, a minor bump) and the quarantine replayed.
    const file = path.join(planDir, 'events/mission_proposal_declined.yaml');
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('  - freelancer_id\n  - reason\n', '  - freelancer_id\n'));
    await fs.writeFile(path.join(planDir, 'plan.yaml'), (await fs.readFile(path.join(planDir, 'plan.yaml'), 'utf8')).replace('version: 2.0.0', 'version: 2.1.0'));
    const replay = await fetch(`${stack.baseUrl}/api/admin/replay/quarantine`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'mission_proposal_declined' }),
    });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ moved: 1, alreadyStored: 0 });
    expect(await countOf('events', 'rs-r1')).toBe(1);

    // The client, which never saw its 200 (say), resends: the live worker knows it is stored.
    expect((await post(stack, '/v1/batch', { batch: [declined('rs-r1'), sentinel('rs-r1-marker')] })).body).toMatchObject({ accepted: 2 });
    await arrived('events', 'rs-r1-marker');
    expect(await countOf('events', 'rs-r1')).toBe(1);
  });
});
