import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunnelResult } from '../../src/analytics/results.ts';
import { generateMarketplace } from '../../src/demo/generate.ts';
import { sendDemoCalls } from '../../src/demo/send.ts';
import { EXAMPLE_PLAN } from '../helpers/plans.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  // The demo is written for the example plan: it runs against tracking-plan/ as shipped.
  stack = await startStack({ planDir: EXAMPLE_PLAN });
});
afterAll(async () => {
  await stack?.stop();
});

describe('the demo marketplace, end to end', () => {
  it('goes through the real SDK, API, queue and worker, and the funnel API returns exactly its ground truth', async () => {
    const { events, truth } = generateMarketplace({ seed: 7, freelancers: 300 });
    const report = await sendDemoCalls(events, { host: stack.baseUrl, writeKey: stack.writeKey });
    expect(report).toMatchObject({ sent: events.length, dropped: 0, rejected: 0 });
    await stack.waitForRows('events', events.length, 60_000);
    const [quarantined] = await stack.query<{ n: string }>('SELECT count() AS n FROM quarantine');
    expect(Number(quarantined!.n)).toBe(0);

    const response = await fetch(`${stack.baseUrl}/api/funnels/freelancer_activation`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    expect(response.status).toBe(200);
    const funnel = (await response.json()) as FunnelResult;
    expect(funnel.steps.map((s) => s.count)).toEqual([truth.entered, truth.receivedProposal, truth.completedMission]);
    // A healthy marketplace: most signed-up freelancers get a proposal, a small share complete a mission.
    expect(truth.receivedProposal / truth.entered).toBeGreaterThan(0.5);
    expect(truth.completedMission / truth.entered).toBeGreaterThan(0);
    expect(truth.completedMission / truth.entered).toBeLessThan(0.3);
  });

  it("run twice, it counts once: the SDK sends the generator's deterministic messageIds", async () => {
    // A world that ended a year before the other test's: the two share person ids, and the other
    // test's funnel (the default range, up to today) must see its own world only, in any order.
    const { events, truth } = generateMarketplace({ seed: 11, freelancers: 60, endMs: Math.floor(Date.now() / 86_400_000 - 365) * 86_400_000 });
    const ids = events.map((e) => e.messageId);
    const stored = async () => Number((await stack.query<{ n: string }>('SELECT count() AS n FROM events WHERE message_id IN {ids:Array(String)}', { ids }))[0]!.n);
    const duplicatesDropped = async () => {
      const text = await (await fetch(`${stack.baseUrl}/metrics`)).text();
      return Number(/^balise_duplicates_dropped_total (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const first = await sendDemoCalls(events, { host: stack.baseUrl, writeKey: stack.writeKey });
    expect(first).toMatchObject({ sent: events.length, dropped: 0 });
    const deadline = Date.now() + 60_000;
    while ((await stored()) < events.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await stored()).toBe(events.length);

    const droppedBefore = await duplicatesDropped();
    const second = await sendDemoCalls(events, { host: stack.baseUrl, writeKey: stack.writeKey });
    expect(second).toMatchObject({ sent: events.length, dropped: 0 });
    // Every event of the second run reaches the worker and is recognised as already stored.
    while ((await duplicatesDropped()) - droppedBefore < events.length && Date.now() < deadline + 60_000) await new Promise((r) => setTimeout(r, 100));
    expect((await duplicatesDropped()) - droppedBefore).toBe(events.length);
    expect(await stored()).toBe(events.length);
    // The messageIds are the generator's, so `balise demo` can be re-run without doubling the KPIs.
    const [sample] = await stack.query<{ message_id: string }>('SELECT message_id FROM events WHERE message_id IN {ids:Array(String)} LIMIT 1', { ids });
    expect(sample!.message_id).toMatch(/^demo-11-/);
    expect(truth.entered).toBeGreaterThan(0);
  });
});
