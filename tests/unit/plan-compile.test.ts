import { beforeAll, describe, expect, it } from 'vitest';
import { compilePlanValidator, loadPlanValidator, resolveVersion } from '../../src/plan/compile.ts';
import type { PlanEvent, TrackingPlan } from '../../src/plan/model.ts';
import type { JsonObject, NormalizedEvent } from '../../src/types.ts';
import type { PlanValidator } from '../../src/plan/model.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';

function ev(type: NormalizedEvent['type'], event: string, properties: JsonObject = {}, declaredPlanVersion?: string, traits: JsonObject = {}): NormalizedEvent {
  return {
    type,
    messageId: 'm1',
    event,
    userId: 'fr_1',
    anonymousId: '',
    groupId: '',
    previousId: '',
    timestamp: 1_700_000_000_000,
    sentAt: null,
    receivedAt: 1_700_000_000_000,
    properties,
    traits,
    context: {},
    declaredPlanVersion,
    source: 'web',
  };
}

const declined = { mission_id: 'msn_1', freelancer_id: 'fr_1' };
const profile = { freelancer_id: 'fr_1', skills: ['sql'], community: 'data', category: 'bi', daily_rate: 550, remote_preference: 'hybrid', available_from: '2024-03-01' };

describe('version resolution', () => {
  it.each([
    [undefined, '2.0.0', true],
    ['', '2.0.0', true],
    ['1.0.0', '1.0.0', true],
    ['1.1.0', '1.1.0', true],
    ['9.9.9', '2.0.0', false],
  ])('declared %s → %s (known %s)', (declared, version, known) => {
    expect(resolveVersion(['1.0.0', '1.1.0', '2.0.0'], '2.0.0', declared)).toEqual({ version, known });
  });
});

describe('the validator of the marketplace fixture plan', () => {
  let v: PlanValidator;
  beforeAll(async () => {
    v = await loadPlanValidator(FIXTURE_PLAN);
  });

  it('loads every published version side by side, the YAML being the latest', () => {
    expect(v.versions).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    expect(v.latestVersion).toBe('2.0.0');
  });

  it.each([
    ['valid under the version it declares (1.1.0)', ev('track', 'mission_proposal_declined', declined, '1.1.0'), 'valid', '1.1.0', []],
    ['invalid under the latest when it declares nothing', ev('track', 'mission_proposal_declined', declined), 'quarantined', '2.0.0', [{ path: '/properties/reason', rule: 'required' }]],
    [
      'unknown declared version → latest, noted',
      ev('track', 'mission_proposal_declined', { ...declined, reason: 'other' }, '7.0.0'),
      'warned',
      '2.0.0',
      [{ path: '/context/plan/version', rule: 'unknown_plan_version' }],
    ],
    ['event added in 1.1.0, declared 1.0.0 → unplanned there', ev('track', 'freelancer_availability_updated', { freelancer_id: 'fr_1', available: true }, '1.0.0'), 'unplanned', '1.0.0', []],
    ['a complete profile', ev('track', 'freelancer_profile_completed', profile), 'valid', '2.0.0', []],
    [
      'range, enum, format and pattern violations, all reported',
      ev('track', 'freelancer_profile_completed', { ...profile, freelancer_id: 'x', daily_rate: 9000, community: 'design', available_from: 'soon' }),
      'quarantined',
      '2.0.0',
      [
        { path: '/properties/freelancer_id', rule: 'pattern' },
        { path: '/properties/community', rule: 'enum' },
        { path: '/properties/daily_rate', rule: 'maximum' },
        { path: '/properties/available_from', rule: 'format' },
      ],
    ],
    ['wrong type inside an array', ev('track', 'freelancer_profile_completed', { ...profile, skills: ['sql', 3] }), 'quarantined', '2.0.0', [{ path: '/properties/skills/1', rule: 'type' }]],
    ['integer rating out of 1..5', ev('track', 'mission_rated', { mission_id: 'msn_1', rater_side: 'company', rating: 6 }), 'quarantined', '2.0.0', [{ path: '/properties/rating', rule: 'maximum' }]],
    ['deprecated event accepted with a warning', ev('track', 'freelancer_cv_uploaded', { freelancer_id: 'fr_1' }), 'warned', '2.0.0', [{ path: '/event', rule: 'deprecated_event' }]],
    ['deprecated event still active in 1.0.0', ev('track', 'freelancer_cv_uploaded', { freelancer_id: 'fr_1' }, '1.0.0'), 'valid', '1.0.0', []],
    ['unplanned track event allowed', ev('track', 'something_else'), 'unplanned', '2.0.0', []],
    ['planned page in warn mode', ev('page', 'mission_detail', {}), 'warned', '2.0.0', [{ path: '/properties/mission_id', rule: 'required' }]],
    ['unplanned page', ev('page', 'home', {}), 'unplanned', '2.0.0', []],
    ['identify with valid traits', ev('identify', '', {}, undefined, { role: 'freelancer', email: 'a@b.co' }), 'valid', '2.0.0', []],
    [
      'identify with bad traits is warned, never quarantined',
      ev('identify', '', {}, undefined, { email: 'nope' }),
      'warned',
      '2.0.0',
      [
        { path: '/traits/role', rule: 'required' },
        { path: '/traits/email', rule: 'format' },
      ],
    ],
    ['group accepted', ev('group', ''), 'valid', '2.0.0', []],
    ['alias accepted', ev('alias', ''), 'valid', '2.0.0', []],
  ] as const)('%s', (_label, event, status, planVersion, violations) => {
    const verdict = v.validate(event);
    expect(verdict.status).toBe(status);
    expect(verdict.planVersion).toBe(planVersion);
    expect(verdict.violations.map(({ path: p, rule }) => ({ path: p, rule })).sort((a, b) => a.path.localeCompare(b.path))).toEqual([...violations].sort((a, b) => a.path.localeCompare(b.path)));
  });

  it('says what is wrong in the message', () => {
    const verdict = v.validate(ev('track', 'mission_posted', { mission_id: 'msn_1', company_id: 'cmp_1', category: 'bi', remote: 'moon' }));
    expect(verdict.violations).toEqual([{ path: '/properties/remote', rule: 'enum', message: 'remote must be equal to one of the allowed values: "remote", "hybrid", "on_site"' }]);
  });
});

describe('policies', () => {
  const event: PlanEvent = { name: 'order_placed', kind: 'track', description: 'd', owner: 'o', status: 'active', properties: { total: { type: 'number' } }, required: ['total'], kpis: [], file: 'e' };
  const plan = (extra: Partial<TrackingPlan>): TrackingPlan => ({
    name: 'p',
    version: '1.0.0',
    description: 'd',
    sources: [],
    defaults: { mode: 'enforce', unplanned: 'allow' },
    events: [event],
    traits: { properties: {}, required: [] },
    ...extra,
  });
  it.each([
    ['enforce → quarantined', plan({}), 'track', 'order_placed', 'quarantined', 'required'],
    ['warn default → warned', plan({ defaults: { mode: 'warn', unplanned: 'allow' } }), 'track', 'order_placed', 'warned', 'required'],
    ['event mode overrides the default', plan({ events: [{ ...event, mode: 'warn' }] }), 'track', 'order_placed', 'warned', 'required'],
    ['unplanned quarantine', plan({ defaults: { mode: 'enforce', unplanned: 'quarantine' } }), 'track', 'refund_issued', 'quarantined', 'unplanned_event'],
  ] as const)('%s', (_label, p, type, name, status, rule) => {
    const verdict = compilePlanValidator({ latest: p, versions: [p] }).validate(ev(type, name, {}));
    expect(verdict.status).toBe(status);
    expect(verdict.violations.map((x) => x.rule)).toEqual([rule]);
  });
});

describe('undeclared properties and unplanned events policy', () => {
  const event: PlanEvent = { name: 'order_placed', kind: 'track', description: 'd', owner: 'o', status: 'active', properties: { total: { type: 'number' } }, required: ['total'], kpis: [], file: 'e' };
  const plan = (defaults: Partial<TrackingPlan['defaults']>, events: PlanEvent[] = [event]): TrackingPlan => ({
    name: 'p',
    version: '1.0.0',
    description: 'd',
    sources: [],
    defaults: { mode: 'enforce', unplanned: 'allow', ...defaults },
    events,
    traits: { properties: {}, required: [] },
  });
  const validate = (p: TrackingPlan, e: NormalizedEvent) => compilePlanValidator({ latest: p, versions: [p] }).validate(e);
  const sent = { total: 12, foo: 'x', bar: 1 };

  it.each([
    ['allow by default (as before): stored, nothing said', {}, 'valid', []],
    ['warn: stored and flagged, each property named', { undeclared: 'warn' }, 'warned', ['/properties/bar', '/properties/foo']],
    ['strip: flagged, stored without them', { undeclared: 'strip' }, 'warned', ['/properties/bar', '/properties/foo']],
    ['quarantine: the event is kept aside', { undeclared: 'quarantine' }, 'quarantined', ['/properties/bar', '/properties/foo']],
  ] as const)('%s', (_label, defaults, status, paths) => {
    const verdict = validate(plan(defaults), ev('track', 'order_placed', sent));
    expect(verdict.status).toBe(status);
    expect(verdict.violations.map((v) => v.path).sort()).toEqual(paths);
    expect(verdict.violations.every((v) => v.rule === 'undeclared_property')).toBe(true);
    expect(verdict.properties).toEqual(status === 'warned' && paths.length > 0 && _label.startsWith('strip') ? { total: 12 } : undefined);
  });

  it('says which property, for which event, and what happened to it', () => {
    const [violation] = validate(plan({ undeclared: 'strip' }), ev('track', 'order_placed', { total: 1, foo: 2 })).violations;
    expect(violation?.message).toBe('property "foo" is not declared for "order_placed" in tracking plan 1.0.0 (policy strip: removed before storing)');
  });

  it('an event overrides the plan default, both ways', () => {
    const strictEvent = validate(plan({ undeclared: 'allow' }, [{ ...event, undeclared: 'quarantine' }]), ev('track', 'order_placed', sent));
    expect(strictEvent.status).toBe('quarantined');
    const looseEvent = validate(plan({ undeclared: 'quarantine' }, [{ ...event, undeclared: 'allow' }]), ev('track', 'order_placed', sent));
    expect(looseEvent).toEqual({ status: 'valid', planVersion: '1.0.0', violations: [] });
  });

  it('undeclared quarantine applies in warn mode too; declared properties alone pass', () => {
    expect(validate(plan({ mode: 'warn', undeclared: 'quarantine' }), ev('track', 'order_placed', sent)).status).toBe('quarantined');
    expect(validate(plan({ undeclared: 'quarantine' }), ev('track', 'order_placed', { total: 3 })).status).toBe('valid');
  });

  it('strip keeps the other violations: a bad declared property still quarantines in enforce mode', () => {
    const verdict = validate(plan({ undeclared: 'strip' }), ev('track', 'order_placed', { total: 'x', foo: 1 }));
    expect(verdict.status).toBe('quarantined');
    expect(verdict.violations.map((v) => v.rule).sort()).toEqual(['type', 'undeclared_property']);
  });

  it.each([
    ['allow', 'unplanned', []],
    ['warn', 'warned', ['unplanned_event']],
    ['quarantine', 'quarantined', ['unplanned_event']],
  ] as const)('unplanned events, policy %s → %s', (unplanned, status, rules) => {
    const verdict = validate(plan({ unplanned }), ev('track', 'refund_issued', { foo: 1 }));
    expect(verdict.status).toBe(status);
    expect(verdict.violations.map((v) => v.rule)).toEqual(rules);
  });
});
