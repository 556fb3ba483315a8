import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunnelResult } from '../../src/analytics/results.ts';
import { generateMarketplace } from '../../src/demo/generate.ts';
import { sendDemoCalls } from '../../src/demo/send.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
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
});
