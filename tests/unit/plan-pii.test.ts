import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyPii, piiRules, truncateIp } from '../../src/ingest/pii.ts';
import { diff } from '../../src/plan/diff.ts';
import { docs } from '../../src/plan/docs.ts';
import { lintPlanDir, loadPlan } from '../../src/plan/load.ts';
import type { PlanEvent, PropertySchema, TrackingPlan } from '../../src/plan/model.ts';
import { piiActionFor, piiSummary } from '../../src/plan/pii.ts';
import type { NormalizedEvent } from '../../src/types.ts';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/pii-plan');

function event(properties: Record<string, PropertySchema>): PlanEvent {
  return { name: 'signed_up', kind: 'track', description: 'd', owner: 'o', status: 'active', properties, required: [], kpis: [], file: 'events/signed_up.yaml' };
}
function plan(version: string, properties: Record<string, PropertySchema>, extra: Partial<TrackingPlan> = {}): TrackingPlan {
  return {
    name: 'p',
    version,
    description: 'd',
    sources: ['web', 'backend'],
    defaults: { mode: 'enforce', unplanned: 'allow' },
    events: [event(properties)],
    traits: { properties: {}, required: [] },
    ...extra,
  };
}

/** A normalised event with every field set, these given. */
function normalized(fields: Partial<NormalizedEvent>): NormalizedEvent {
  const base: NormalizedEvent = {
    type: 'track',
    messageId: 'm',
    event: '',
    userId: 'u',
    anonymousId: '',
    groupId: '',
    previousId: '',
    timestamp: 0,
    sentAt: null,
    receivedAt: 0,
    properties: {},
    traits: {},
    context: {},
    declaredPlanVersion: undefined,
    source: 'web',
  };
  return { ...base, ...fields };
}

describe('PII rules', () => {
  it.each([
    [{ type: 'string' }, 'web', undefined],
    [{ type: 'string', pii: true }, 'web', 'hash'],
    [{ type: 'string', pii: true, pii_action: 'drop' }, 'web', 'drop'],
    [{ type: 'string', pii: true, pii_action: { default: 'drop', backend: 'keep' } }, 'backend', 'keep'],
    [{ type: 'string', pii: true, pii_action: { default: 'drop', backend: 'keep' } }, 'web', 'drop'],
    [{ type: 'string', pii: true, pii_action: { backend: 'keep' } }, 'web', 'hash'],
  ] as const)('%j from %s → %s', (schema, source, action) => {
    expect(piiActionFor(schema as PropertySchema, source, 'hash')).toBe(action);
  });

  it.each([
    ['203.0.113.77', '203.0.113.0'],
    ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3::'],
    ['2001:db8::1', '2001:db8:0::'],
    ['::ffff:198.51.100.23', '::ffff:198.51.100.0'],
    ['not an ip', undefined],
  ])('truncates the IP %s to %s', (ip, expected) => {
    expect(truncateIp(ip)).toBe(expected);
  });

  it('leaves an event without personal data as it is (same object)', async () => {
    const p = await loadPlan(FIXTURE);
    const e = normalized({ event: 'unplanned', properties: { a: 1 } });
    expect(applyPii(e, piiRules(p), 'k'.repeat(32))).toBe(e);
  });

  it("applies the plan's trait rules to a person's traits, not to a group's (a company's billing email)", () => {
    const p = plan('1.0.0', {}, { traits: { properties: { email: { type: 'string', pii: true, pii_action: 'hash' } }, required: [] } });
    const call = (type: 'identify' | 'group') => normalized({ type, groupId: type === 'group' ? 'g1' : '', traits: { email: 'billing@acme.test' } });
    expect(applyPii(call('identify'), piiRules(p), 'k'.repeat(32)).traits.email).not.toBe('billing@acme.test');
    expect(applyPii(call('group'), piiRules(p), 'k'.repeat(32)).traits).toEqual({ email: 'billing@acme.test' });
  });

  it.each([[['203.0.113.77']], [{ v4: '203.0.113.77' }], [203]])('drops an ip it cannot truncate (%j), never stores it as sent', (ip) => {
    const p = plan('1.0.0', { a: { type: 'number' } }, { privacy: { piiAction: 'hash', ip: 'truncate', userAgent: 'keep' } });
    const e = normalized({ event: 'signed_up', context: { ip } });
    expect(applyPii(e, piiRules(p), 'k'.repeat(32)).context).toEqual({});
  });
});

describe('plan files with PII', () => {
  it('load, lint clean, and show the rules in the docs', async () => {
    const { messages } = await lintPlanDir(FIXTURE);
    expect(messages.filter((m) => m.severity === 'error')).toEqual([]);
    const p = await loadPlan(FIXTURE);
    expect(p.privacy).toEqual({ piiAction: 'hash', ip: 'truncate', userAgent: 'drop' });
    const pages = docs(p);
    expect(pages['events/order_placed.md']).toContain('**personal data: drop; backend: keep**');
    expect(pages['events/order_placed.md']).toContain('**personal data: hash**');
    expect(pages['README.md']).toContain('context.ip: truncate; user agent: drop');
  });

  it.each([
    ['pii_action: drop', 'pii_action_without_pii'],
    ['pii: true\n    pii_action:\n      ios: keep', 'pii_unknown_source'],
    ['pii: true\n    pii_action: encrypt', 'structure'],
  ])('lint refuses %j (%s)', async (yaml, rule) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'balise-pii-'));
    await fs.cp(FIXTURE, dir, { recursive: true });
    await fs.writeFile(
      path.join(dir, 'events/signed_up.yaml'),
      `name: signed_up\nkind: track\ndescription: d\nowner: o\nstatus: active\nproperties:\n  email:\n    type: string\n    description: e\n    ${yaml}\n`,
    );
    const { messages } = await lintPlanDir(dir);
    const errors = messages.filter((m) => m.severity === 'error' && m.file === 'events/signed_up.yaml');
    expect(errors.length).toBeGreaterThan(0);
    if (rule !== 'structure') expect(errors.map((m) => m.rule)).toContain(rule);
  });
});

describe('plan diff and PII', () => {
  const email = { type: 'string', pii: true };
  it.each([
    ['hash → keep', { email }, { email: { ...email, pii_action: 'keep' } }],
    ['marked personal', { email: { type: 'string' } }, { email }],
    ['a per-source override', { email }, { email: { ...email, pii_action: { backend: 'drop' } } }],
  ])('%s is a breaking change', (_what, before, after) => {
    const report = diff(plan('1.0.0', before as Record<string, PropertySchema>), plan('1.1.0', after as Record<string, PropertySchema>));
    expect(report.changes.map((c) => [c.code, c.level])).toEqual([['pii_action_changed', 'breaking']]);
    expect(report.ok).toBe(false);
  });

  it('a change of the default action shows on the properties it applies to, and IP handling on the plan', () => {
    const before = plan('1.0.0', { email });
    const after = plan('2.0.0', { email }, { privacy: { piiAction: 'drop', ip: 'drop', userAgent: 'keep' } });
    expect(diff(before, after).changes.map((c) => `${c.code} ${c.target}`)).toEqual(['pii_action_changed events/signed_up/properties/email', 'privacy_policy_changed plan']);
    expect(piiSummary(email, 'drop')).toBe('drop');
  });
});
