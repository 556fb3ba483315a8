import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateMarketplace } from '../../src/demo/generate.ts';
import { loadPlanValidator } from '../../src/plan/compile.ts';
import { demoCallToEvent } from '../../src/demo/rows.ts';

const PLAN_DIR = path.resolve(import.meta.dirname, '../../tracking-plan');
const END = Date.parse('2025-06-01T00:00:00Z');

describe('demo marketplace generator', () => {
  it('is deterministic under a seed and differs across seeds', () => {
    const a = generateMarketplace({ seed: 11, freelancers: 200, endMs: END });
    const b = generateMarketplace({ seed: 11, freelancers: 200, endMs: END });
    const c = generateMarketplace({ seed: 12, freelancers: 200, endMs: END });
    expect(b).toEqual(a);
    expect(c.events).not.toEqual(a.events);
  });

  it('looks like a healthy marketplace: most get a proposal, a small fraction complete a mission', () => {
    const { truth, events } = generateMarketplace({ seed: 1, freelancers: 2000, endMs: END });
    // Entries are counted over the default range (the last 90 of 180 days): sign-ups grow, so most are in it.
    expect(truth.fromMs).toBe(END - 89 * 86_400_000);
    expect(truth.entered).toBeGreaterThan(1000);
    expect(truth.entered).toBeLessThan(2000);
    expect(truth.receivedProposal / truth.entered).toBeGreaterThan(0.6);
    expect(truth.completedMission / truth.entered).toBeGreaterThan(0.02);
    expect(truth.completedMission / truth.entered).toBeLessThan(0.2);
    expect(Math.max(...events.map((e) => e.timestamp))).toBeLessThan(END);
    expect(new Set(events.map((e) => e.messageId)).size).toBe(events.length);
  });

  it('sends only events the tracking plan accepts', async () => {
    const validator = await loadPlanValidator(PLAN_DIR);
    const { events } = generateMarketplace({ seed: 5, freelancers: 300, endMs: END });
    const problems = events
      .map((call) => ({ call, verdict: validator.validate(demoCallToEvent(call)) }))
      .filter(({ verdict }) => verdict.status !== 'valid')
      .map(({ call, verdict }) => `${call.type} ${call.event}: ${verdict.status} ${JSON.stringify(verdict.violations)}`);
    expect(problems).toEqual([]);
  });
});
