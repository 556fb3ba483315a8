/**
 * JSON Schema as a plan owner means it, on the server and in the SDK's dev validator alike: a
 * property named like an Object.prototype member (`constructor`, `toString`) is an ordinary
 * optional property, and `multipleOf: 0.01` accepts prices in cents despite binary floating point.
 */
import { describe, expect, it } from 'vitest';
import { createDevValidator } from '../../sdk/src/dev.ts';
import type { WireEvent } from '../../sdk/src/types.ts';
import { processEvents } from '../../src/ingest/process.ts';
import { compilePlanValidator } from '../../src/plan/compile.ts';
import type { PlanEvent, TrackingPlan } from '../../src/plan/model.ts';
import { inMemoryPlan } from '../helpers/plans.ts';

const EVENT: PlanEvent = {
  name: 'widget_clicked',
  kind: 'track',
  description: 'd',
  owner: 'o',
  status: 'active',
  undeclared: 'allow',
  properties: {
    widget_id: { type: 'string' },
    constructor: { type: 'string' },
    toString: { type: 'string' },
    price: { type: 'number', multipleOf: 0.01 },
    address: { type: 'object', properties: { valueOf: { type: 'string' } } },
  },
  required: ['widget_id'],
  kpis: [],
  file: 'events/widget_clicked.yaml',
};
const { plan: PLAN, validator } = inMemoryPlan([EVENT]);
const options = { receivedAt: Date.UTC(2026, 0, 15), source: 'web', maxEventBytes: 32 * 1024, piiKey: 'schema-semantics-test-key-0123456789', newId: () => 'generated' };

const CASES: [string, Record<string, unknown> | undefined, boolean][] = [
  ['without the optional constructor and toString', { widget_id: 'w1' }, true],
  ['without properties at all but the required one', { widget_id: 'w1', address: {} }, true],
  ['with a string constructor', { widget_id: 'w1', constructor: 'acme' }, true],
  ['with a number constructor', { widget_id: 'w1', constructor: 3 }, false],
  ['with prices in cents', { widget_id: 'w1', price: 19.99 }, true],
  ['with another price in cents', { widget_id: 'w1', price: 4.35 }, true],
  ['with a tenth of a cent', { widget_id: 'w1', price: 19.995 }, false],
];

describe.each(CASES)('an event %s', (_, properties, valid) => {
  it(`is ${valid ? 'valid' : 'refused'} on the server`, () => {
    const out = processEvents([{ type: 'track', event: 'widget_clicked', userId: 'u1', messageId: 'm1', properties }], validator, options);
    expect(out.outcomes[0]!.status).toBe(valid ? 'accepted' : 'quarantined');
  });

  it(`is ${valid ? 'silent' : 'warned about'} in the SDK's dev validator`, () => {
    const warnings: string[] = [];
    const validate = createDevValidator({ version: '1.0.0', events: [{ name: EVENT.name, kind: 'track', properties: EVENT.properties, required: EVENT.required }] }, { warn: (m) => warnings.push(m) });
    validate({ type: 'track', event: 'widget_clicked', properties, messageId: 'm1', timestamp: new Date(0).toISOString(), anonymousId: 'a', context: {} } as WireEvent);
    expect(warnings).toHaveLength(valid ? 0 : 1);
  });
});

describe('a violation of const', () => {
  it('names the value the plan asks for, as enum violations name theirs', () => {
    const { validator: withConst } = inMemoryPlan([{ ...EVENT, properties: { ...EVENT.properties, channel: { const: 'retail' } } }]);
    const out = processEvents([{ type: 'track', event: 'widget_clicked', userId: 'u1', messageId: 'm1', properties: { widget_id: 'w1', channel: 'web' } }], withConst, options);
    expect(out.outcomes[0]).toMatchObject({ status: 'quarantined', violations: [{ path: '/properties/channel', rule: 'const', message: 'channel must be equal to constant: "retail"' }] });
  });
});

describe('a personal-data mark below the top level', () => {
  it('is refused when the plan is loaded, rather than leaving the value in clear', () => {
    const nested: TrackingPlan = {
      ...PLAN,
      events: [{ ...EVENT, properties: { ...EVENT.properties, address: { type: 'object', properties: { street: { type: 'string', pii: true, pii_action: 'drop' } } } } }],
    };
    expect(() => compilePlanValidator({ latest: nested, versions: [nested] })).toThrow(/marks nested values pii \(widget_clicked address\/properties\/street\)/);
  });
});
