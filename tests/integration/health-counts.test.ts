/**
 * Data health's totals count events, not the rules they broke (found 2026-12-05: an event that
 * broke three rules was three quarantined events on the dashboard's tile and in the API).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('data health totals', () => {
  it('counts a quarantined event once, however many rules it broke, as SQL on quarantine FINAL does', async () => {
    const proposal = (messageId: string, properties: Record<string, unknown>) => ({ type: 'track', event: 'mission_proposal_received', userId: 'fr_h1', messageId, properties });
    const batch = [
      proposal('hc-three-rules', { category: 42 }),
      { type: 'track', event: 'mission_posted', userId: 'co_h1', messageId: 'hc-bad-time', timestamp: 'Dec 1 2026', properties: {} },
      proposal('hc-valid', { mission_id: 'msn_h1', category: 'bi' }),
    ];
    const res = await post(stack, '/v1/batch', { batch });
    expect(res.body).toMatchObject({ accepted: 1, quarantined: 2 });
    await stack.waitForDrained();
    await stack.waitForRows('quarantine', 2);

    const health = await fetch(`${stack.baseUrl}/api/health/plan`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    const body = (await health.json()) as {
      quarantinedTotal: number;
      acceptedTotal: number;
      violationsByRule: { event: string; rule: string; count: number }[];
      quarantinedByEvent: { event: string; type: string; count: number }[];
    };
    const byRule = body.violationsByRule.filter((v) => v.event === 'mission_proposal_received');
    // The event broke more than one rule: the per-rule rows add up to more than one event.
    expect(byRule.length).toBeGreaterThan(1);
    const [sql] = await stack.query<{ n: string }>('SELECT count() AS n FROM quarantine FINAL');
    expect(Number(sql!.n)).toBe(2);
    expect({ quarantined: body.quarantinedTotal, accepted: body.acceptedTotal }).toEqual({ quarantined: 2, accepted: 1 });
    // Per event too, the denominator of a violation rate: once each, not once per rule.
    expect(body.quarantinedByEvent).toEqual(
      expect.arrayContaining([
        { event: 'mission_proposal_received', type: 'track', count: 1 },
        { event: 'mission_posted', type: 'track', count: 1 },
      ]),
    );
    expect(body.quarantinedByEvent).toHaveLength(2);
  }, 60_000);
});

describe('data health of a backfill', () => {
  // Found 2026-12-05: stored events were counted by their timestamp and quarantined ones by when
  // they arrived, so a backfill of old events received today showed today's rate as 100 %.
  it('counts what was received in the range on both sides of a violation rate, whatever time the events carry', async () => {
    const old = new Date(Date.now() - 200 * 86_400_000).toISOString();
    const started = (messageId: string, properties: Record<string, unknown>) => ({ type: 'track', event: 'mission_started', userId: 'fr_bf', messageId, timestamp: old, properties });
    const batch = [
      ...Array.from({ length: 9 }, (_, i) => started(`bf-ok-${i}`, { mission_id: `msn_bf${i}`, freelancer_id: 'fr_bf', company_id: 'cmp_bf' })),
      started('bf-bad', { mission_id: 42, freelancer_id: 'fr_bf', company_id: 'cmp_bf' }),
    ];
    const res = await post(stack, '/v1/import', { batch });
    expect(res.body).toMatchObject({ accepted: 9, quarantined: 1 });
    await stack.waitForDrained();
    await stack.waitForRows("events WHERE message_id LIKE 'bf-ok-%'", 9);

    const today = new Date().toISOString().slice(0, 10);
    const health = await fetch(`${stack.baseUrl}/api/health/plan?from=${today}&to=${today}&tz=UTC`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    const body = (await health.json()) as { eventsSeen: { event: string; events: number }[]; quarantinedByEvent: { event: string; count: number }[] };
    expect(body.eventsSeen.find((e) => e.event === 'mission_started')?.events).toBe(9);
    expect(body.quarantinedByEvent.find((e) => e.event === 'mission_started')?.count).toBe(1);
  }, 60_000);
});

describe('data health of what was quarantined, then resolved or never stored', () => {
  // Found 2026-12-05: a quarantined event whose client then resent it right was counted both
  // quarantined and stored; an event whose every copy was quarantined was "never seen".
  it("stops counting a quarantined event once the client's resend is stored; an event only ever quarantined was seen", async () => {
    const base = { mission_id: 'msn_rs', company_id: 'cmp_rs', category: 'bi', remote: 'remote' };
    const posted = (messageId: string, properties: Record<string, unknown>) => ({ type: 'track', event: 'mission_posted', userId: 'co_rs', messageId, properties: { ...base, ...properties } });
    expect((await post(stack, '/v1/batch', { batch: [posted('rs-1', { daily_rate_max: '500' })] })).body).toMatchObject({ quarantined: 1 });
    await stack.waitForDrained();
    await stack.waitForRows("quarantine WHERE message_id = 'rs-1'", 1);
    expect((await post(stack, '/v1/batch', { batch: [posted('rs-1', { daily_rate_max: 500 })] })).body).toMatchObject({ accepted: 1 });
    const signup = { type: 'track', event: 'company_signed_up', userId: 'co_rs', messageId: 'rs-2', properties: { company_size: 'huge' } };
    expect((await post(stack, '/v1/batch', { batch: [signup] })).body).toMatchObject({ quarantined: 1 });
    await stack.waitForDrained();
    await stack.waitForRows("events WHERE message_id = 'rs-1'", 1);
    await stack.waitForRows("quarantine WHERE message_id = 'rs-2'", 1);

    const health = await fetch(`${stack.baseUrl}/api/health/plan`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    const body = (await health.json()) as { quarantineExamples: { message_id: string }[]; quarantinedByEvent: { event: string; count: number }[]; plannedNeverSeen: string[] };
    expect(body.quarantineExamples.map((q) => q.message_id)).not.toContain('rs-1');
    // Only the other mission_posted events quarantined (by other tests, when run together): not rs-1.
    const [others] = await stack.query<{ n: string }>("SELECT count() AS n FROM quarantine FINAL WHERE event = 'mission_posted' AND message_id != 'rs-1'");
    expect(body.quarantinedByEvent.find((q) => q.event === 'mission_posted')?.count ?? 0).toBe(Number(others!.n));
    expect(body.quarantinedByEvent.find((q) => q.event === 'company_signed_up')?.count).toBe(1);
    expect(body.plannedNeverSeen).not.toContain('company_signed_up');
  }, 60_000);

  // Found 2026-12-05: "Events by plan version" counted unnamed page views as unplanned, and
  // "Unplanned events seen" said there were none (it listed track events only).
  it('lists an unplanned page view among the unplanned events seen, as it is counted', async () => {
    expect((await post(stack, '/v1/page', { userId: 'co_pv', messageId: 'pv-1', name: 'Pricing' })).status).toBe(200);
    await stack.waitForDrained();
    await stack.waitForRows("events WHERE message_id = 'pv-1'", 1);
    const health = await fetch(`${stack.baseUrl}/api/health/plan`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    const body = (await health.json()) as { unplannedSeen: { event: string; type: string }[] };
    expect(body.unplannedSeen).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'Pricing', type: 'page' })]));
  }, 60_000);
});

describe('the data health range', () => {
  it("is Balise's 90-day default when none is given, and says so; an unreadable date is refused", async () => {
    const get = (query: string) => fetch(`${stack.baseUrl}/api/health/plan${query}`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    const body = (await (await get('')).json()) as { range: { from: string; to: string; isDefault: boolean; defaultDays: number } };
    expect(body.range).toMatchObject({ isDefault: true, defaultDays: 90 });
    expect((Date.parse(body.range.to) - Date.parse(body.range.from)) / 86_400_000).toBe(90);
    // Event trends describe the same default range in the same shape, instants included.
    const trends = (await (await fetch(`${stack.baseUrl}/api/trends`, { headers: { authorization: `Bearer ${stack.adminToken}` } })).json()) as { range: unknown };
    expect(trends.range).toEqual(body.range);
    const given = (await (await get('?from=2026-01-01&to=2026-01-31')).json()) as { range: { isDefault: boolean } };
    expect(given.range.isDefault).toBe(false);
    const bad = await get('?from=2026-02-30');
    expect(bad.status).toBe(400);
    // The API names its query parameters, not the CLI's options.
    expect(await bad.json()).toMatchObject({ code: 'invalid_date', message: expect.stringMatching(/^from: "2026-02-30" is not a date/) });
    const empty = await get('?from=2026-02-01&to=2026-01-01');
    expect(empty.status).toBe(400);
    // Said with the dates as given (found 2026-12-05: it quoted the midnight after the end date, in UTC ISO).
    expect(await empty.json()).toMatchObject({ code: 'invalid_range', message: 'the range is empty: from 2026-02-01 comes after to 2026-01-01' });
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const today = new Date().toISOString().slice(0, 10);
    expect(await (await get(`?from=${tomorrow}`)).json()).toMatchObject({ code: 'invalid_range', message: `the range is empty: from ${tomorrow} comes after to today, ${today} (the default end)` });
  });
});
