/**
 * A body resent after the dedupe window is one event everywhere (issue 12, item 6).
 *
 * The body says the event happened 1.5 s before the last UTC midnight and was sent now. Clock-
 * skew correction dates each copy from its own arrival, so the first copy lands just before
 * that midnight and the resend, a few seconds later, just after it: under the old key
 * (event, toDate(timestamp), message_id) they were two rows even with FINAL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKpiDefinitions } from '../../src/analytics/definitions.ts';
import { parseKpiFile } from '../../src/analytics/kpi-parse.ts';
import { runFunnel, runKpis } from '../../src/analytics/run.ts';
import { post, REPO_ROOT, startStack, type Stack } from '../helpers/stack.ts';

const DAY = 86_400_000;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { BALISE_DEDUPE_WINDOW_SECONDS: '1' } });
});
afterAll(async () => {
  await stack?.stop();
});

async function insertedRows(): Promise<number> {
  const metric = await stack.balise.metrics.eventsInserted.get();
  return metric.values.filter((v) => v.labels.table === 'events').reduce((sum, v) => sum + v.value, 0);
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a late duplicate (resent after the dedupe window)', () => {
  it('is stored once and counted once by FINAL, typed views, KPIs and funnels, keeping the first copy', { timeout: 60_000 }, async () => {
    const now = Date.now();
    const midnight = Math.floor(now / DAY) * DAY;
    const messageId = `late-${now}`;
    const body = {
      batch: [
        {
          type: 'track',
          event: 'mission_posted',
          userId: 'cmp_user_late',
          messageId,
          timestamp: new Date(midnight - 1500).toISOString(),
          properties: { mission_id: 'msn_late1', company_id: 'cmp_late1', category: 'bi', remote: 'remote' },
        },
      ],
      sentAt: new Date(now).toISOString(),
    };
    const first = await post(stack, '/v1/batch', body);
    expect(first.body).toMatchObject({ success: true, accepted: 1 });
    await waitUntil(async () => (await insertedRows()) >= 1, 'the first copy');
    // Past the 1 s window and across midnight for the corrected timestamp of the resend.
    await new Promise((r) => setTimeout(r, 3000));
    const again = await post(stack, '/v1/batch', body);
    expect(again.body).toMatchObject({ success: true, accepted: 1 });
    // The resend really reached the table: the Redis window had expired.
    await waitUntil(async () => (await insertedRows()) >= 2, 'the resend to be inserted');
    expect(Number((await stack.balise.metrics.duplicatesDropped.get()).values[0]?.value ?? 0)).toBe(0);

    // SQL, as the README shows it.
    const final = await stack.query<{ n: string; ts: string }>(`SELECT count() AS n, toString(toUnixTimestamp64Milli(any(timestamp))) AS ts FROM events FINAL WHERE message_id = {id:String}`, {
      id: messageId,
    });
    expect(Number(final[0]!.n)).toBe(1);
    // The first copy is kept: its corrected time is before midnight, the resend's after.
    expect(Number(final[0]!.ts)).toBeLessThan(midnight);
    expect(Number(final[0]!.ts)).toBeGreaterThan(midnight - 1500 - 1000);

    // The typed view of the plan's event.
    const view = await stack.query<{ n: string }>(`SELECT count() AS n FROM ev_mission_posted WHERE message_id = {id:String}`, { id: messageId });
    expect(Number(view[0]!.n)).toBe(1);

    // A KPI (a count by day) over the day after midnight: the event belongs to the day before.
    const { definitions } = parseKpiFile(
      'late.yaml',
      [
        'metrics:',
        '  - id: late_posted',
        '    title: Late posted',
        '    type: count',
        '    event: mission_posted',
        '    grain: day',
        '    where:',
        '      mission_id: msn_late1',
        'funnels:',
        '  - id: late_funnel',
        '    title: Late funnel',
        '    entity: mission_id',
        '    order: strict',
        '    window: 1d',
        '    cohort: week',
        '    steps:',
        '      - event: mission_posted',
        '        where:',
        '          mission_id: msn_late1',
        '      - event: mission_started',
      ].join('\n'),
    );
    expect(definitions.metrics).toHaveLength(1);
    const iso = (ms: number) => new Date(ms).toISOString();
    const [kpi] = await runKpis(stack.warehouse, definitions, { from: iso(midnight), to: iso(midnight + DAY) });
    expect([kpi!.value, kpi!.previous]).toEqual([0, 1]);
    const [both] = await runKpis(stack.warehouse, definitions, { from: iso(midnight - DAY), to: iso(midnight + DAY) });
    expect(both!.value).toBe(1);

    // A funnel entered by this event: once over both days, not at all from midnight on.
    expect((await runFunnel(stack.warehouse, definitions, 'late_funnel', { from: iso(midnight - DAY), to: iso(midnight + DAY) })).entered).toBe(1);
    expect((await runFunnel(stack.warehouse, definitions, 'late_funnel', { from: iso(midnight), to: iso(midnight + DAY) })).entered).toBe(0);

    // The shipped KPI definitions read the same table the same way.
    const shipped = await loadKpiDefinitions(`${REPO_ROOT}/tracking-plan`);
    const posted = (await runKpis(stack.warehouse, shipped, { from: iso(midnight - 7 * DAY), to: iso(midnight + DAY) })).find((k) => k.id === 'weekly_missions_posted');
    expect(posted!.value).toBe(1);
  });

  it('a quarantined event resent after the window is one quarantine row for FINAL and for data health', { timeout: 60_000 }, async () => {
    // The plan rejects a rating of 9; the same body is sent twice, past the worker's 1 s window,
    // so both copies reach the table (migration 005 folds them under one key).
    const messageId = `late-q-${Date.now()}`;
    const body = { batch: [{ type: 'track', event: 'mission_rated', userId: 'fr_late', messageId, properties: { mission_id: 'msn_lq', rater_side: 'company', rating: 9 } }] };
    const quarantineRows = async () => {
      const metric = await stack.balise.metrics.eventsInserted.get();
      return metric.values.filter((v) => v.labels.table === 'quarantine').reduce((sum, v) => sum + v.value, 0);
    };
    const before = await quarantineRows();
    expect((await post(stack, '/v1/batch', body)).body).toMatchObject({ quarantined: 1 });
    await waitUntil(async () => (await quarantineRows()) >= before + 1, 'the first copy');
    await new Promise((r) => setTimeout(r, 3000));
    expect((await post(stack, '/v1/batch', body)).body).toMatchObject({ quarantined: 1 });
    await waitUntil(async () => (await quarantineRows()) >= before + 2, 'the resend to be inserted');

    const [raw] = await stack.query<{ n: string }>(`SELECT count() AS n FROM quarantine WHERE message_id = {id:String}`, { id: messageId });
    const [final] = await stack.query<{ n: string }>(`SELECT count() AS n FROM quarantine FINAL WHERE message_id = {id:String}`, { id: messageId });
    // Two rows stored (unless a merge already folded them), one counted.
    expect(Number(raw!.n)).toBeGreaterThanOrEqual(1);
    expect(Number(final!.n)).toBe(1);

    // Data health (the dashboard's violations and examples) counts it once.
    const res = await fetch(`${stack.baseUrl}/api/health/plan`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    const health = (await res.json()) as { violationsByRule: { event: string; rule: string; count: number }[]; quarantineExamples: { message_id: string }[] };
    const rated = health.violationsByRule.filter((v) => v.event === 'mission_rated');
    expect(rated.length).toBeGreaterThan(0);
    expect(rated.reduce((n, v) => n + v.count, 0)).toBe(rated.length);
    expect(health.quarantineExamples.filter((e) => e.message_id === messageId)).toHaveLength(1);
  });
});
