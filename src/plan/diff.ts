/**
 * Classifies every change between two tracking plans and checks the version bump. Pure.
 * "Breaking" means an event that was valid under the old plan may be rejected (or lose data)
 * under the new one; anything that only widens what is accepted is not.
 */
import { stableJson } from '../util/stable-json.ts';
import type { JsonValue } from '../types.ts';
import { eventKey, undeclaredPolicy, type PlanEvent, type PropertyPolicy, type UnplannedPolicy, type PropertySchema, type TrackingPlan } from './model.ts';
import { piiSummary, privacyOf } from './pii.ts';
import { BUMP_RANK, bumpBetween, bumped, type Bump } from './semver.ts';
import { isPlainObject } from '../util/objects.ts';

export type ChangeLevel = 'breaking' | 'non_breaking';

export interface PlanChange {
  level: ChangeLevel;
  /** Smallest bump this change needs on its own. */
  bump: Exclude<Bump, 'none'>;
  code: string;
  /** "events/<name>", "events/<name>/properties/<prop>", "traits/<prop>" or "plan". */
  target: string;
  message: string;
}

export interface DiffReport {
  from: string;
  to: string;
  changes: PlanChange[];
  breaking: boolean;
  requiredBump: Bump;
  actualBump: Bump | 'downgrade' | 'invalid';
  ok: boolean;
  summary: string;
}

const breaking = (code: string, target: string, message: string): PlanChange => ({ level: 'breaking', bump: 'major', code, target, message });
const addition = (code: string, target: string, message: string): PlanChange => ({ level: 'non_breaking', bump: 'minor', code, target, message });
const cosmetic = (code: string, target: string, message: string): PlanChange => ({ level: 'non_breaking', bump: 'patch', code, target, message });

function same(a: unknown, b: unknown): boolean {
  return stableJson(a) === stableJson(b);
}

/** The set of JSON types a schema accepts (undefined = any). integer ⊂ number. */
function typeSet(schema: PropertySchema): Set<string> | undefined {
  const t = schema.type;
  if (t === undefined) return undefined;
  const list = Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : typeof t === 'string' ? [t] : [];
  return new Set(list);
}

function typeAccepts(types: Set<string> | undefined, t: string): boolean {
  if (!types) return true;
  return types.has(t) || (t === 'integer' && types.has('number'));
}

const LOWER_BOUNDS = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems'] as const;
const UPPER_BOUNDS = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems'] as const;
/** Keywords diffed explicitly; any other keyword change is treated as breaking (conservative). */
// pii and pii_action are compared with the plan's default action in piiChanges().
const HANDLED = new Set<string>([
  'pii',
  'pii_action',
  'type',
  'enum',
  'pattern',
  'format',
  'description',
  'examples',
  'deprecated',
  'items',
  'properties',
  'required',
  'additionalProperties',
  'multipleOf',
  'uniqueItems',
  'const',
  ...LOWER_BOUNDS,
  ...UPPER_BOUNDS,
]);

const strings = (v: JsonValue | undefined): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function num(v: JsonValue | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** Changes of one property schema (recursing into array items). */
export function diffProperty(target: string, before: PropertySchema, after: PropertySchema): PlanChange[] {
  const out: PlanChange[] = [];
  const tb = typeSet(before);
  const ta = typeSet(after);
  // A type list is a set: ["string", "null"] is ["null", "string"], and "string" is ["string"].
  const sameTypes = tb === undefined || ta === undefined ? tb === ta : tb.size === ta.size && [...tb].every((t) => ta.has(t));
  if (!sameTypes) {
    const narrowed = tb === undefined ? ta !== undefined : [...tb].some((t) => !typeAccepts(ta, t));
    out.push(
      narrowed
        ? breaking('type_changed', target, `type changed from ${JSON.stringify(before.type ?? 'any')} to ${JSON.stringify(after.type ?? 'any')}`)
        : addition('type_widened', target, `type widened from ${JSON.stringify(before.type)} to ${JSON.stringify(after.type ?? 'any')}`),
    );
  }

  const eb = Array.isArray(before.enum) ? before.enum : undefined;
  const ea = Array.isArray(after.enum) ? after.enum : undefined;
  if (!same(eb, ea)) {
    if (ea === undefined) out.push(addition('enum_removed', target, 'enum constraint removed (any value accepted)'));
    else if (eb === undefined) out.push(breaking('enum_added', target, `enum constraint added: ${JSON.stringify(ea)}`));
    else {
      const removed = eb.filter((v) => !ea.some((w) => same(v, w)));
      const added = ea.filter((v) => !eb.some((w) => same(v, w)));
      if (removed.length > 0) out.push(breaking('enum_narrowed', target, `enum values removed: ${JSON.stringify(removed)}`));
      if (added.length > 0) out.push(addition('enum_widened', target, `enum values added: ${JSON.stringify(added)}`));
      if (removed.length === 0 && added.length === 0) out.push(cosmetic('enum_reordered', target, 'enum values reordered'));
    }
  }

  for (const key of LOWER_BOUNDS) {
    const b = num(before[key]);
    const a = num(after[key]);
    if (b === a) continue;
    if (a !== undefined && (b === undefined || a > b)) out.push(breaking('range_narrowed', target, `${key} ${b === undefined ? 'added' : `raised from ${b}`} to ${a}`));
    else out.push(addition('range_widened', target, `${key} ${a === undefined ? `${b} removed` : `lowered from ${b} to ${a}`}`));
  }
  for (const key of UPPER_BOUNDS) {
    const b = num(before[key]);
    const a = num(after[key]);
    if (b === a) continue;
    if (a !== undefined && (b === undefined || a < b)) out.push(breaking('range_narrowed', target, `${key} ${b === undefined ? 'added' : `lowered from ${b}`} to ${a}`));
    else out.push(addition('range_widened', target, `${key} ${a === undefined ? `${b} removed` : `raised from ${b} to ${a}`}`));
  }

  for (const key of ['pattern', 'format'] as const) {
    if (same(before[key], after[key])) continue;
    if (after[key] === undefined) out.push(addition(`${key}_removed`, target, `${key} ${JSON.stringify(before[key])} removed`));
    else if (before[key] === undefined) out.push(breaking(`${key}_added`, target, `${key} ${JSON.stringify(after[key])} added`));
    else out.push(breaking(`${key}_changed`, target, `${key} changed from ${JSON.stringify(before[key])} to ${JSON.stringify(after[key])}`));
  }

  const ib = isSchema(before.items) ? before.items : undefined;
  const ia = isSchema(after.items) ? after.items : undefined;
  if (!same(ib, ia)) {
    if (ib && ia) out.push(...diffProperty(`${target}/items`, ib, ia));
    else if (ia) out.push(breaking('constraint_changed', `${target}/items`, 'items schema added'));
    else out.push(addition('range_widened', `${target}/items`, 'items schema removed'));
  }

  // A nested object's properties and required list, as an event's: a description inside it is a
  // patch, an optional property added a minor change, a required one (or a removal) breaking.
  const pb = isSchema(before.properties) ? (before.properties as Record<string, PropertySchema>) : undefined;
  const pa = isSchema(after.properties) ? (after.properties as Record<string, PropertySchema>) : undefined;
  if (pb || pa || !same(before.required, after.required)) {
    out.push(...diffProperties(`${target}/properties`, { properties: pb ?? {}, required: strings(before.required) }, { properties: pa ?? {}, required: strings(after.required) }));
  }
  // additionalProperties: absent is true (anything else accepted).
  const xb = before.additionalProperties ?? true;
  const xa = after.additionalProperties ?? true;
  if (!same(xb, xa)) {
    if (xa === true) out.push(addition('additional_properties_allowed', target, 'other properties are now accepted'));
    else if (xa === false) out.push(breaking('additional_properties_closed', target, 'other properties are no longer accepted'));
    else out.push(breaking('constraint_changed', target, `additionalProperties changed from ${stableJson(xb)} to ${stableJson(xa)}`));
  }
  // Keywords that only restrict: removing one loosens, adding or changing one may refuse a value.
  for (const key of ['multipleOf', 'uniqueItems', 'const'] as const) {
    if (same(before[key], after[key])) continue;
    const off = after[key] === undefined || (key === 'uniqueItems' && after[key] === false);
    if (off) out.push(addition('constraint_removed', target, `${key} ${stableJson(before[key])} removed`));
    else out.push(breaking('constraint_changed', target, `${key} ${before[key] === undefined ? 'added' : `changed from ${stableJson(before[key])}`} to ${stableJson(after[key])}`));
  }

  if (!same(before.description, after.description)) out.push(cosmetic('description_changed', target, 'description changed'));
  if (!same(before.examples, after.examples) || !same(before.deprecated, after.deprecated)) out.push(cosmetic('annotation_changed', target, 'examples or deprecated flag changed'));

  const others = new Set([...Object.keys(before), ...Object.keys(after)].filter((k) => !HANDLED.has(k)));
  for (const key of [...others].sort()) {
    if (!same(before[key], after[key])) out.push(breaking('constraint_changed', target, `${key} changed from ${stableJson(before[key])} to ${stableJson(after[key])}`));
  }
  return out;
}

function isSchema(v: JsonValue | undefined): v is PropertySchema {
  return isPlainObject(v);
}

function sameSchema(a: PropertySchema, b: PropertySchema): boolean {
  const { description: _da, ...ra } = a;
  const { description: _db, ...rb } = b;
  return same(ra, rb);
}

/** Property sets (event properties or traits). */
function diffProperties(
  base: string,
  before: { properties: Record<string, PropertySchema>; required: string[] },
  after: { properties: Record<string, PropertySchema>; required: string[] },
): PlanChange[] {
  const out: PlanChange[] = [];
  const removed = Object.keys(before.properties)
    .filter((p) => !(p in after.properties))
    .sort();
  const added = Object.keys(after.properties)
    .filter((p) => !(p in before.properties))
    .sort();
  for (const p of removed) {
    const renamedTo = added.find((q) => sameSchema(before.properties[p]!, after.properties[q]!));
    out.push(
      renamedTo
        ? breaking('property_renamed', `${base}/${p}`, `property "${p}" removed, apparently renamed to "${renamedTo}"`)
        : breaking('property_removed', `${base}/${p}`, `property "${p}" removed`),
    );
  }
  for (const p of added) {
    out.push(
      after.required.includes(p) ? breaking('required_property_added', `${base}/${p}`, `required property "${p}" added`) : addition('property_added', `${base}/${p}`, `optional property "${p}" added`),
    );
  }
  for (const p of Object.keys(before.properties)
    .filter((q) => q in after.properties)
    .sort()) {
    const target = `${base}/${p}`;
    const wasRequired = before.required.includes(p);
    const isRequired = after.required.includes(p);
    if (!wasRequired && isRequired) out.push(breaking('property_made_required', target, `property "${p}" is now required`));
    if (wasRequired && !isRequired) out.push(addition('property_made_optional', target, `property "${p}" is now optional`));
    out.push(...diffProperty(target, before.properties[p]!, after.properties[p]!));
  }
  return out;
}

// Stricter to the right. Moving right to `strip` or `quarantine` changes what is stored for
// events that were accepted whole before (breaking); `warn` only flags them (decision 0026).
const POLICY_RANK: Record<PropertyPolicy, number> = { allow: 0, warn: 1, strip: 2, quarantine: 3 };

function diffUndeclared(target: string, before: PropertyPolicy, after: PropertyPolicy): PlanChange[] {
  if (before === after) return [];
  const message = `undeclared properties policy changed from ${before} to ${after}`;
  return [
    POLICY_RANK[after] > POLICY_RANK[before] && POLICY_RANK[after] >= POLICY_RANK.strip
      ? breaking('undeclared_policy_tightened', target, message)
      : addition(POLICY_RANK[after] > POLICY_RANK[before] ? 'undeclared_policy_flagged' : 'undeclared_policy_relaxed', target, message),
  ];
}

function diffUnplanned(before: UnplannedPolicy, after: UnplannedPolicy): PlanChange[] {
  if (before === after) return [];
  if (after === 'quarantine') return [breaking('unplanned_quarantined', 'plan', 'unplanned events are now quarantined')];
  return [addition(after === 'warn' ? 'unplanned_warned' : 'unplanned_allowed', 'plan', `unplanned events are now ${after === 'warn' ? 'stored and flagged' : 'allowed'}`)];
}

function diffEvent(before: PlanEvent, after: PlanEvent, beforeMode: string, afterMode: string): PlanChange[] {
  const target = `events/${after.name}`;
  const out: PlanChange[] = [];
  if (before.kind !== after.kind) out.push(breaking('kind_changed', target, `kind changed from ${before.kind} to ${after.kind}`));
  if (before.status !== after.status) {
    out.push(addition(after.status === 'deprecated' ? 'event_deprecated' : 'event_undeprecated', target, `status changed from ${before.status} to ${after.status}`));
  }
  if (beforeMode !== afterMode) {
    // warn → enforce sends events that used to be stored to quarantine instead.
    out.push(
      afterMode === 'enforce'
        ? breaking('mode_enforced', target, `mode changed from ${beforeMode} to ${afterMode}`)
        : addition('mode_relaxed', target, `mode changed from ${beforeMode} to ${afterMode}`),
    );
  }
  if (before.description !== after.description) out.push(cosmetic('description_changed', target, 'description changed'));
  if (before.owner !== after.owner) out.push(cosmetic('owner_changed', target, `owner changed from "${before.owner}" to "${after.owner}"`));
  if (!same([...before.kpis].sort(), [...after.kpis].sort())) out.push(cosmetic('kpis_changed', target, `KPIs changed from ${JSON.stringify(before.kpis)} to ${JSON.stringify(after.kpis)}`));
  out.push(...diffProperties(`${target}/properties`, before, after));
  return out;
}

function eventsByKey(plan: TrackingPlan): Map<string, PlanEvent> {
  return new Map(plan.events.map((e) => [eventKey(e.kind, e.name), e]));
}

/**
 * A change of what happens to personal data at ingest is significant whichever way it goes:
 * keep → hash breaks joins on raw values and analyses of them, hash → keep stores personal data
 * that was not stored before, drop loses the property. Compared as effective rules, so a change of
 * the plan's default action shows on every property it applies to.
 */
function piiChanges(before: TrackingPlan, after: TrackingPlan): PlanChange[] {
  const out: PlanChange[] = [];
  const pb = privacyOf(before);
  const pa = privacyOf(after);
  const compare = (target: string, b: PropertySchema, a: PropertySchema) => {
    const sb = piiSummary(b, pb.piiAction) ?? 'not personal';
    const sa = piiSummary(a, pa.piiAction) ?? 'not personal';
    if (sb !== sa) out.push(breaking('pii_action_changed', target, `personal data rule changed from "${sb}" to "${sa}"`));
  };
  const b = eventsByKey(before);
  for (const event of after.events) {
    const old = b.get(eventKey(event.kind, event.name));
    if (!old) continue;
    for (const [p, schema] of Object.entries(event.properties)) if (old.properties[p]) compare(`events/${event.name}/properties/${p}`, old.properties[p]!, schema);
  }
  for (const [p, schema] of Object.entries(after.traits.properties)) if (before.traits.properties[p]) compare(`traits/${p}`, before.traits.properties[p]!, schema);
  if (pb.ip !== pa.ip) out.push(breaking('privacy_policy_changed', 'plan', `context.ip handling changed from ${pb.ip} to ${pa.ip}`));
  if (pb.userAgent !== pa.userAgent) out.push(breaking('privacy_policy_changed', 'plan', `user agent handling changed from ${pb.userAgent} to ${pa.userAgent}`));
  return out;
}

/** Every change from `before` to `after`, classified. */
export function classifyChanges(before: TrackingPlan, after: TrackingPlan): PlanChange[] {
  const out: PlanChange[] = [];
  const b = eventsByKey(before);
  const a = eventsByKey(after);
  let removed = [...b.keys()].filter((k) => !a.has(k)).sort();
  let added = [...a.keys()].filter((k) => !b.has(k)).sort();
  // The same name under another kind (a track event made a page): one change, not a removal and an addition.
  for (const key of removed) {
    const e = b.get(key)!;
    const otherKind = added.find((k) => a.get(k)!.name === e.name);
    if (!otherKind) continue;
    out.push(breaking('kind_changed', `events/${e.name}`, `kind changed from ${e.kind} to ${a.get(otherKind)!.kind}`));
    removed = removed.filter((k) => k !== key);
    added = added.filter((k) => k !== otherKind);
  }
  for (const key of removed) {
    const e = b.get(key)!;
    const renamedTo = added.map((k) => a.get(k)!).find((n) => n.kind === e.kind && same(n.properties, e.properties) && same([...n.required].sort(), [...e.required].sort()));
    out.push(
      renamedTo
        ? breaking('event_renamed', `events/${e.name}`, `${e.kind} "${e.name}" removed, apparently renamed to "${renamedTo.name}"`)
        : breaking('event_removed', `events/${e.name}`, `${e.kind} "${e.name}" removed`),
    );
  }
  for (const key of added) {
    const e = a.get(key)!;
    out.push(addition('event_added', `events/${e.name}`, `${e.kind} "${e.name}" added`));
  }
  for (const key of [...b.keys()].filter((k) => a.has(k)).sort()) {
    const eb = b.get(key)!;
    const ea = a.get(key)!;
    out.push(...diffEvent(eb, ea, eb.mode ?? before.defaults.mode, ea.mode ?? after.defaults.mode));
    out.push(...diffUndeclared(`events/${ea.name}`, undeclaredPolicy(before, eb), undeclaredPolicy(after, ea)));
    if (eb.file !== ea.file) out.push(cosmetic('event_file_moved', `events/${ea.name}`, `${ea.kind} "${ea.name}" moved from ${eb.file} to ${ea.file}`));
  }
  out.push(...diffProperties('traits', before.traits, after.traits));
  out.push(...piiChanges(before, after));

  out.push(...diffUnplanned(before.defaults.unplanned, after.defaults.unplanned));
  if ((before.defaults.undeclared ?? 'allow') !== (after.defaults.undeclared ?? 'allow')) {
    // Per-event effects are reported above; this records the default itself.
    out.push(cosmetic('default_undeclared_changed', 'plan', `default undeclared properties policy changed from ${before.defaults.undeclared ?? 'allow'} to ${after.defaults.undeclared ?? 'allow'}`));
  }
  if (before.defaults.mode !== after.defaults.mode) {
    // Per-event effects are reported above; this records the default itself.
    out.push(cosmetic('default_mode_changed', 'plan', `default mode changed from ${before.defaults.mode} to ${after.defaults.mode}`));
  }
  // Every day, week and month boundary of the KPIs, funnels and retention moves: no event changes verdict.
  if ((before.timezone ?? 'UTC') !== (after.timezone ?? 'UTC')) {
    out.push(addition('time_zone_changed', 'plan', `project time zone changed from ${before.timezone ?? 'UTC'} to ${after.timezone ?? 'UTC'}: every KPI, funnel and retention period boundary moves`));
  }
  if (before.name !== after.name || before.description !== after.description || !same(before.sources, after.sources)) {
    out.push(cosmetic('plan_metadata_changed', 'plan', 'plan name, description or sources changed'));
  }
  return out;
}

/** Classifies the changes and checks that the version bump from `before` to `after` matches them. */
export function diff(before: TrackingPlan, after: TrackingPlan): DiffReport {
  const changes = classifyChanges(before, after);
  const requiredBump = changes.reduce<Bump>((acc, c) => (BUMP_RANK[c.bump] > BUMP_RANK[acc] ? c.bump : acc), 'none');
  const actualBump = bumpBetween(before.version, after.version);
  const isBreaking = changes.some((c) => c.level === 'breaking');
  let ok: boolean;
  let summary: string;
  if (actualBump === 'invalid') {
    ok = false;
    summary = `version "${after.version}" or "${before.version}" is not semver (MAJOR.MINOR.PATCH)`;
  } else if (actualBump === 'downgrade') {
    ok = false;
    summary = `version went down from ${before.version} to ${after.version}`;
  } else if (requiredBump === 'none') {
    ok = true;
    summary = actualBump === 'none' ? 'no change' : `no change to the plan; ${actualBump} bump to ${after.version} is allowed`;
  } else if (BUMP_RANK[actualBump] >= BUMP_RANK[requiredBump]) {
    ok = true;
    summary = `${changes.length} change(s)${isBreaking ? ', breaking' : ''}: ${requiredBump} bump needed, ${before.version} → ${after.version} is a ${actualBump} bump`;
  } else {
    ok = false;
    summary = `${changes.length} change(s)${isBreaking ? ', breaking' : ''} need a ${requiredBump} bump, but ${before.version} → ${after.version} is ${actualBump === 'none' ? 'no bump' : `a ${actualBump} bump`}: set \`version: ${bumped(before.version, requiredBump)}\` in plan.yaml`;
  }
  return { from: before.version, to: after.version, changes, breaking: isBreaking, requiredBump, actualBump, ok, summary };
}
