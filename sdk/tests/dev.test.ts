import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDevValidator, type BuiltPlanFile } from '../src/dev.ts';
import { createBalise, type NodeBalise } from '../src/node.ts';
import { scriptedTransport, forUser } from './helpers.ts';

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
    const sdk = forUser(createBalise({ writeKey: 'k', transport: t.transport, flushOnExit: false, devValidator: createDevValidator(plan, { warn: (m) => warnings.push(m) }) }));
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

describe('dev validator from what `balise plan build` writes', () => {
  // A committed build artifact (of the fixture plan, a copy of the example's 2.0.0): { format: 'balise-plan@1', plan: {...} }.
  const built = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../tests/fixtures/plans/marketplace/build/plan-2.0.0.json'), 'utf8')) as BuiltPlanFile;

  it('accepts the { format, plan } file as written, checking track events and planned pages', () => {
    expect(built.format).toMatch(/^balise-plan@/);
    const warnings: string[] = [];
    const validate = createDevValidator(built, { warn: (m) => warnings.push(m) });
    const t = scriptedTransport();
    const sdk = forUser(createBalise({ writeKey: 'k', transport: t.transport, flushOnExit: false, devValidator: validate }));
    sdk.track('mission_rated', { mission_id: 'msn_1', rater_side: 'company', rating: 5 });
    sdk.page('mission_detail', { mission_id: 'msn_1' });
    expect(warnings).toEqual([]);
    sdk.track('mission_rated', { mission_id: 'msn_1', rater_side: 'company', rating: 9 });
    sdk.page('mission_detail', {});
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/track "mission_rated" \(plan 2\.0\.0\): rating must be <= 5/);
    expect(warnings[1]).toMatch(/page "mission_detail" \(plan 2\.0\.0\).*mission_id/);
  });
});

describe('dev validator and the plan policy for undeclared properties', () => {
  const plan = (undeclared?: string, eventPolicy?: string) => ({
    version: '1.0.0',
    ...(undeclared ? { defaults: { undeclared } } : {}),
    events: [{ name: 'order_placed', kind: 'track', properties: { total: { type: 'number' } }, required: ['total'], ...(eventPolicy ? { undeclared: eventPolicy } : {}) }],
  });
  const warningsFor = (p: ReturnType<typeof plan>) => {
    const warnings: string[] = [];
    createDevValidator(p, { warn: (m) => warnings.push(m) })({ type: 'track', event: 'order_placed', properties: { total: 1, foo: 2 }, messageId: 'm', timestamp: '', anonymousId: 'a' } as never);
    return warnings;
  };

  it('says nothing under allow (the default), as the server does', () => {
    expect(warningsFor(plan())).toEqual([]);
  });

  it.each([
    ['the plan default', plan('strip'), 'strip'],
    ['the event, over the default', plan('allow', 'quarantine'), 'quarantine'],
  ])('names the undeclared property and the policy from %s', (_label, p, policy) => {
    expect(warningsFor(p)).toEqual([`track "order_placed" (plan 1.0.0): property "foo" is not declared (the plan's policy: ${policy})`]);
  });
});
