import { describe, expect, it } from 'vitest';
import { createDevValidator } from '../src/dev.ts';
import { createBalise, type NodeBalise } from '../src/node.ts';
import { scriptedTransport } from './helpers.ts';

const planArray = {
  version: '1.2.0',
  events: [{ name: 'mission_created', kind: 'track', properties: { mission_id: { type: 'string' }, budget: { type: 'number', minimum: 0 } }, required: ['mission_id', 'budget'] }],
  traits: { properties: { role: { enum: ['client', 'freelancer'] } } },
};
const planMap = {
  events: { mission_created: { type: 'object', properties: { mission_id: { type: 'string' }, budget: { type: 'number', minimum: 0 } }, required: ['mission_id', 'budget'] } },
};

describe.each([
  ['compiled plan (events array)', planArray],
  ['event name → JSON Schema map', planMap],
])('dev validator from a %s', (_, plan) => {
  const run = (f: (b: NodeBalise) => void) => {
    const warnings: string[] = [];
    const t = scriptedTransport();
    const sdk = createBalise({ writeKey: 'k', transport: t.transport, flushOnExit: false, devValidator: createDevValidator(plan, { warn: (m) => warnings.push(m) }) });
    f(sdk);
    return { warnings, queued: sdk.stats().queued };
  };

  it('is silent for a valid event', () => {
    expect(run((b) => b.track('mission_created', { mission_id: 'm', budget: 3 })).warnings).toEqual([]);
  });

  it('warns with the property and the rule, and still queues the event', () => {
    const { warnings, queued } = run((b) => b.track('mission_created', { mission_id: 'm', budget: -1 }));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/track "mission_created".*budget must be >= 0/);
    expect(queued).toBe(1);
  });

  it('warns about a missing required property and an unplanned event', () => {
    const { warnings } = run((b) => {
      b.track('mission_created', { mission_id: 'm' });
      b.track('mision_created', {});
    });
    expect(warnings[0]).toMatch(/budget/);
    expect(warnings[1]).toMatch(/"mision_created" is not in the tracking plan/);
  });
});
