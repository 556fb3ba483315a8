/**
 * A planned page or screen under a strict `undeclared` policy is judged on its own properties:
 * the ones the Segment spec gives every page and screen call (the call's name and category,
 * which normalize copies into the properties; the page's path, url... that analytics.js copies
 * there) are never undeclared, on the server and in the SDK's dev validator alike.
 */
import { describe, expect, it } from 'vitest';
import { createDevValidator } from '../../sdk/src/dev.ts';
import type { WireEvent } from '../../sdk/src/types.ts';
import { processEvents } from '../../src/ingest/process.ts';
import { SPEC_PROPERTIES, type PlanEvent } from '../../src/plan/model.ts';
import { inMemoryPlan } from '../helpers/plans.ts';

const NOW = Date.UTC(2026, 0, 15, 12);
const planned = (kind: 'page' | 'screen'): PlanEvent => ({
  name: 'mission_detail',
  kind,
  description: 'd',
  owner: 'o',
  status: 'active',
  undeclared: 'quarantine',
  properties: { mission_id: { type: 'string' } },
  required: ['mission_id'],
  kpis: [],
  file: `events/${kind}.yaml`,
});
const { plan: PLAN, validator } = inMemoryPlan([planned('page'), planned('screen')]);
const options = { receivedAt: NOW, source: 'web', maxEventBytes: 32 * 1024, piiKey: 'spec-properties-test-key-0123456789', newId: () => 'generated' };

/** Every property the spec gives the kind, with a value of the shape an SDK sends. */
const specValues = (kind: 'page' | 'screen') => Object.fromEntries(SPEC_PROPERTIES[kind].map((name) => [name, name === 'url' ? 'https://example.com/m/1?a=1' : `${name} text`]));

describe.each(['page', 'screen'] as const)('a planned %s under undeclared: quarantine', (kind) => {
  const call = (messageId: string, properties: Record<string, unknown>) => ({ type: kind, name: 'mission_detail', category: 'missions', userId: 'u1', messageId, properties });

  it('is valid with the name and category of its call and every property the spec gives it', () => {
    expect(SPEC_PROPERTIES[kind]).toContain('name');
    const out = processEvents([call(`${kind}-spec`, { mission_id: 'msn_1', ...specValues(kind) }), call(`${kind}-bare`, { mission_id: 'msn_1' })], validator, options);
    expect(out.outcomes).toEqual([
      { index: 0, messageId: `${kind}-spec`, status: 'accepted', planStatus: 'valid' },
      { index: 1, messageId: `${kind}-bare`, status: 'accepted', planStatus: 'valid' },
    ]);
  });

  it('is still quarantined for a property neither the plan nor the spec declares, and only that one is named', () => {
    const out = processEvents([call(`${kind}-extra`, { mission_id: 'msn_1', ...specValues(kind), campaign: 'x' })], validator, options);
    expect(out.outcomes).toEqual([expect.objectContaining({ status: 'quarantined', code: 'plan_violation', violations: [expect.objectContaining({ path: '/properties/campaign' })] })]);
  });

  it("is silent in the SDK's dev validator, which warns about the same extra property", () => {
    const warnings: string[] = [];
    const check = createDevValidator({ version: '1.0.0', defaults: { undeclared: 'allow' }, events: PLAN.events }, { warn: (m) => warnings.push(m) });
    const wire = (properties: Record<string, unknown>): WireEvent => ({
      type: kind,
      name: 'mission_detail',
      properties,
      anonymousId: 'a1',
      messageId: 'm',
      timestamp: new Date(NOW).toISOString(),
      context: {},
    });
    check(wire({ mission_id: 'msn_1', ...specValues(kind) }));
    expect(warnings).toEqual([]);
    check(wire({ mission_id: 'msn_1', ...specValues(kind), campaign: 'x' }));
    expect(warnings).toEqual([expect.stringMatching(/property "campaign" is not declared/)]);
  });
});
