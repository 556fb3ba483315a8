import { describe, expect, it } from 'vitest';
import { diff, type PlanChange } from '../../src/plan/diff.ts';
import type { PlanEvent, PropertySchema, TrackingPlan } from '../../src/plan/model.ts';

function event(name: string, properties: Record<string, PropertySchema>, required: string[] = [], extra: Partial<PlanEvent> = {}): PlanEvent {
  return { name, kind: 'track', description: `${name} happened`, owner: 'team-a', status: 'active', properties, required, kpis: [], file: `events/${name}.yaml`, ...extra };
}

function plan(version: string, events: PlanEvent[], extra: Partial<TrackingPlan> = {}): TrackingPlan {
  return {
    name: 'p',
    version,
    description: 'd',
    sources: ['web'],
    defaults: { mode: 'enforce', unplanned: 'allow' },
    events,
    traits: { properties: {}, required: [] },
    ...extra,
  };
}

const rate: PropertySchema = { type: 'number', minimum: 100, maximum: 3000 };
const remote: PropertySchema = { type: 'string', enum: ['remote', 'hybrid', 'on_site'] };
const base = [event('mission_posted', { mission_id: { type: 'string' }, remote, daily_rate_max: rate }, ['mission_id'])];
const withProps = (props: Record<string, PropertySchema>, required = ['mission_id'], extra: Partial<PlanEvent> = {}): PlanEvent[] => [
  event('mission_posted', { mission_id: { type: 'string' }, remote, daily_rate_max: rate, ...props }, required, extra),
];

type Case = [label: string, after: PlanEvent[], code: string, level: PlanChange['level'], before?: PlanEvent[]];
const cases: Case[] = [
  ['event removed', [], 'event_removed', 'breaking'],
  ['event added', [...base, event('mission_started', { mission_id: { type: 'string' } })], 'event_added', 'non_breaking'],
  ['event renamed', [event('mission_published', base[0]!.properties, ['mission_id'])], 'event_renamed', 'breaking'],
  ['property removed', [event('mission_posted', { mission_id: { type: 'string' }, remote }, ['mission_id'])], 'property_removed', 'breaking'],
  ['optional property added', withProps({ duration_days: { type: 'integer' } }), 'property_added', 'non_breaking'],
  ['required property added', withProps({ duration_days: { type: 'integer' } }, ['mission_id', 'duration_days']), 'required_property_added', 'breaking'],
  ['property made required', withProps({}, ['mission_id', 'remote']), 'property_made_required', 'breaking'],
  ['property made optional', withProps({}, []), 'property_made_optional', 'non_breaking'],
  ['type changed', withProps({ daily_rate_max: { type: 'string' } }), 'type_changed', 'breaking'],
  ['type narrowed number → integer', withProps({ daily_rate_max: { ...rate, type: 'integer' } }), 'type_changed', 'breaking'],
  ['enum narrowed', withProps({ remote: { type: 'string', enum: ['remote', 'hybrid'] } }), 'enum_narrowed', 'breaking'],
  ['enum widened', withProps({ remote: { type: 'string', enum: ['remote', 'hybrid', 'on_site', 'flexible'] } }), 'enum_widened', 'non_breaking'],
  ['enum added to a free string', withProps({ mission_id: { type: 'string', enum: ['a'] } }), 'enum_added', 'breaking'],
  ['minimum raised', withProps({ daily_rate_max: { ...rate, minimum: 200 } }), 'range_narrowed', 'breaking'],
  ['maximum lowered', withProps({ daily_rate_max: { ...rate, maximum: 2000 } }), 'range_narrowed', 'breaking'],
  ['maximum raised', withProps({ daily_rate_max: { ...rate, maximum: 5000 } }), 'range_widened', 'non_breaking'],
  ['pattern added', withProps({ mission_id: { type: 'string', pattern: '^msn_' } }), 'pattern_added', 'breaking'],
  ['format added', withProps({ mission_id: { type: 'string', format: 'uuid' } }), 'format_added', 'breaking'],
  ['description changed', withProps({ remote: { ...remote, description: 'where' } }), 'description_changed', 'non_breaking'],
  ['owner changed', withProps({}, ['mission_id'], { owner: 'team-b' }), 'owner_changed', 'non_breaking'],
  ['event deprecated', withProps({}, ['mission_id'], { status: 'deprecated' }), 'event_deprecated', 'non_breaking'],
  ['mode enforce → warn', withProps({}, ['mission_id'], { mode: 'warn' }), 'mode_relaxed', 'non_breaking'],
  ['pattern removed', base, 'pattern_removed', 'non_breaking', withProps({ mission_id: { type: 'string', pattern: '^msn_' } })],
  ['type widened integer → number', base, 'type_widened', 'non_breaking', withProps({ daily_rate_max: { ...rate, type: 'integer' } })],
  ['mode warn → enforce', base, 'mode_enforced', 'breaking', withProps({}, ['mission_id'], { mode: 'warn' })],
];

describe('plan diff classification', () => {
  it.each(cases)('%s → %s', (_label, after, code, level, before = base) => {
    const report = diff(plan('1.0.0', before), plan('1.0.0', after));
    const change = report.changes.find((c) => c.code === code);
    expect(change, JSON.stringify(report.changes)).toBeDefined();
    expect(change!.level).toBe(level);
    expect(report.breaking).toBe(level === 'breaking');
  });

  it('reads a type list as a set: reordered, or one type as a one-item list, is no change', () => {
    const typed = (type: unknown) => plan('1.0.0', [event('p', { coupon: { type } as PropertySchema })]);
    expect(diff(typed(['string', 'null']), typed(['null', 'string'])).changes).toEqual([]);
    expect(diff(typed('string'), typed(['string'])).changes).toEqual([]);
    expect(diff(typed('string'), typed(['string', 'null'])).changes.map((c) => c.code)).toEqual(['type_widened']);
  });

  it('reports a change of the project time zone (a minor bump) and an event file moved (a patch)', () => {
    const zoned = diff(plan('1.0.0', base), plan('1.0.0', base, { timezone: 'Europe/Paris' }));
    expect(zoned.changes.map((c) => [c.code, c.bump])).toEqual([['time_zone_changed', 'minor']]);
    expect(zoned.ok).toBe(false);
    // It names the version to set (found 2026-12-05: a reviewer had to work it out).
    expect(zoned.summary).toBe('1 change(s) need a minor bump, but 1.0.0 → 1.0.0 is no bump: set `version: 1.1.0` in plan.yaml');
    const moved = diff(plan('1.0.0', base), plan('1.0.1', [{ ...base[0]!, file: 'events/posted.yml' }]));
    expect(moved.changes.map((c) => [c.code, c.bump])).toEqual([['event_file_moved', 'patch']]);
  });

  it('looks inside nested objects as it does at the top level', () => {
    const address = (extra: Record<string, unknown> = {}, city: Record<string, unknown> = {}) =>
      plan('1.0.0', [event('p', { address: { type: 'object', properties: { city: { type: 'string', description: 'City.', ...city } }, required: ['city'], ...extra } as PropertySchema })]);
    const codes = (before: TrackingPlan, after: TrackingPlan) => diff(before, after).changes.map((c) => [c.code, c.bump, c.target]);
    expect(codes(address(), address({}, { description: 'Town.' }))).toEqual([['description_changed', 'patch', 'events/p/properties/address/properties/city']]);
    expect(codes(address(), address({ properties: { city: { type: 'string', description: 'City.' }, zip: { type: 'string' } } }))).toEqual([
      ['property_added', 'minor', 'events/p/properties/address/properties/zip'],
    ]);
    expect(codes(address(), address({ required: [] }))).toEqual([['property_made_optional', 'minor', 'events/p/properties/address/properties/city']]);
    expect(codes(address({ required: [] }), address())).toEqual([['property_made_required', 'major', 'events/p/properties/address/properties/city']]);
    expect(codes(address(), address({ additionalProperties: false }))).toEqual([['additional_properties_closed', 'major', 'events/p/properties/address']]);
    expect(codes(address({ additionalProperties: false }), address())).toEqual([['additional_properties_allowed', 'minor', 'events/p/properties/address']]);
  });

  it('reads the removal of a restricting keyword (multipleOf, uniqueItems, const) as a loosening', () => {
    const prop = (schema: Record<string, unknown>) => plan('1.0.0', [event('p', { x: schema as PropertySchema })]);
    for (const [before, after] of [
      [{ type: 'number', multipleOf: 0.01 }, { type: 'number' }],
      [
        { type: 'array', items: { type: 'string' }, uniqueItems: true },
        { type: 'array', items: { type: 'string' } },
      ],
      [{ type: 'string', const: 'retail' }, { type: 'string' }],
    ]) {
      expect(diff(prop(before!), prop(after!)).changes.map((c) => [c.code, c.bump])).toEqual([['constraint_removed', 'minor']]);
      expect(diff(prop(after!), prop(before!)).breaking).toBe(true);
    }
  });

  it('says a kind changed (a track event made a page) as one breaking change', () => {
    const page = [{ ...base[0]!, kind: 'page' as const }];
    expect(diff(plan('1.0.0', base), plan('2.0.0', page)).changes.map((c) => [c.code, c.message])).toEqual([['kind_changed', 'kind changed from track to page']]);
  });

  it('reports the exact target of a property change', () => {
    const report = diff(plan('1.0.0', base), plan('2.0.0', withProps({ remote: { type: 'string', enum: ['remote'] } })));
    expect(report.changes).toEqual([expect.objectContaining({ code: 'enum_narrowed', target: 'events/mission_posted/properties/remote', message: 'enum values removed: ["hybrid","on_site"]' })]);
  });

  it('narrows array items through items', () => {
    const before = plan('1.0.0', [event('p', { skills: { type: 'array', items: { type: 'string', enum: ['a', 'b'] } } })]);
    const after = plan('1.0.0', [event('p', { skills: { type: 'array', items: { type: 'string', enum: ['a'] } } })]);
    expect(diff(before, after).changes.map((c) => [c.code, c.target])).toEqual([['enum_narrowed', 'events/p/properties/skills/items']]);
  });

  it('treats traits like event properties', () => {
    const before = plan('1.0.0', [], { traits: { properties: { email: { type: 'string' } }, required: [] } });
    const after = plan('1.0.0', [], { traits: { properties: { email: { type: 'string' } }, required: ['email'] } });
    expect(diff(before, after).changes.map((c) => c.code)).toEqual(['property_made_required']);
  });

  it('quarantining unplanned events is breaking', () => {
    const after = plan('1.0.0', base, { defaults: { mode: 'enforce', unplanned: 'quarantine' } });
    expect(diff(plan('1.0.0', base), after).breaking).toBe(true);
  });
});

describe('semver bump check', () => {
  const breakingAfter = withProps({}, ['mission_id', 'remote']);
  const minorAfter = withProps({ duration_days: { type: 'integer' } });
  const patchAfter = withProps({ remote: { ...remote, description: 'where' } });
  it.each([
    ['breaking with major bump', '1.4.2', '2.0.0', breakingAfter, true, 'major'],
    ['breaking with minor bump', '1.4.2', '1.5.0', breakingAfter, false, 'major'],
    ['breaking with no bump', '1.4.2', '1.4.2', breakingAfter, false, 'major'],
    ['addition with minor bump', '1.4.2', '1.5.0', minorAfter, true, 'minor'],
    ['addition with major bump', '1.4.2', '2.0.0', minorAfter, true, 'minor'],
    ['addition with patch bump', '1.4.2', '1.4.3', minorAfter, false, 'minor'],
    ['description with patch bump', '1.4.2', '1.4.3', patchAfter, true, 'patch'],
    ['description with no bump', '1.4.2', '1.4.2', patchAfter, false, 'patch'],
    ['no change, no bump', '1.4.2', '1.4.2', base, true, 'none'],
    ['no change, patch bump', '1.4.2', '1.4.3', base, true, 'none'],
    ['downgrade', '1.4.2', '1.4.1', patchAfter, false, 'patch'],
    ['not semver', '1.4.2', 'v2', breakingAfter, false, 'major'],
  ] as const)('%s', (_label, from, to, after, ok, required) => {
    const report = diff(plan(from, base), plan(to, [...after]));
    expect(report.requiredBump).toBe(required);
    expect(report.ok).toBe(ok);
  });
});

describe('undeclared properties and unplanned events policy changes', () => {
  const codes = (before: TrackingPlan, after: TrackingPlan): [string, string][] => diff(before, after).changes.map((c) => [c.code, c.level]);
  it.each([
    ['allow → warn flags only: non-breaking', 'allow', 'warn', 'undeclared_policy_flagged', 'non_breaking'],
    ['allow → strip changes what is stored: breaking', 'allow', 'strip', 'undeclared_policy_tightened', 'breaking'],
    ['warn → quarantine: breaking', 'warn', 'quarantine', 'undeclared_policy_tightened', 'breaking'],
    ['quarantine → allow: relaxed, non-breaking', 'quarantine', 'allow', 'undeclared_policy_relaxed', 'non_breaking'],
  ] as const)('per event: %s', (_label, from, to, code, level) => {
    const before = plan('1.0.0', withProps({}, ['mission_id'], { undeclared: from }));
    const after = plan('1.0.0', withProps({}, ['mission_id'], { undeclared: to }));
    expect(codes(before, after)).toEqual([[code, level]]);
  });

  it('a plan default change is reported on every event that inherits it, plus the default itself', () => {
    const before = plan('1.0.0', [...base, event('mission_started', {}, [], { undeclared: 'warn' })]);
    const after = plan('1.0.0', [...base, event('mission_started', {}, [], { undeclared: 'warn' })], { defaults: { mode: 'enforce', unplanned: 'allow', undeclared: 'quarantine' } });
    const report = diff(before, after);
    expect(codes(before, after)).toEqual([
      ['undeclared_policy_tightened', 'breaking'],
      ['default_undeclared_changed', 'non_breaking'],
    ]);
    expect(report.changes[0]!.target).toBe('events/mission_posted');
    expect(report.requiredBump).toBe('major');
  });

  it.each([
    ['allow', 'warn', 'unplanned_warned', 'non_breaking'],
    ['warn', 'quarantine', 'unplanned_quarantined', 'breaking'],
    ['quarantine', 'warn', 'unplanned_warned', 'non_breaking'],
  ] as const)('unplanned %s → %s', (from, to, code, level) => {
    expect(codes(plan('1.0.0', base, { defaults: { mode: 'enforce', unplanned: from } }), plan('1.0.0', base, { defaults: { mode: 'enforce', unplanned: to } }))).toEqual([[code, level]]);
  });
});
