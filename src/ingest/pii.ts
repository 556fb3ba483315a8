/**
 * The plan's personal-data rules applied to one event at ingest, before its row is built and
 * queued (src/plan/pii.ts says what the rules mean). Pure but for the HMAC.
 */
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import { eventKey, type PropertySchema, type TrackingPlan } from '../plan/model.ts';
import { piiActionFor, privacyOf, type PiiAction, type PrivacyPolicy } from '../plan/pii.ts';
import type { JsonObject, JsonValue, NormalizedEvent } from '../types.ts';
import { isPlainObject } from '../util/objects.ts';

type Marked = [name: string, schema: PropertySchema][];

export interface PiiRules {
  policy: PrivacyPolicy;
  events: Map<string, Marked>;
  traits: Marked;
  /** Nothing to do: no personal property, IP and user agent kept. */
  none: boolean;
}

const marked = (properties: Record<string, PropertySchema>): Marked => Object.entries(properties).filter(([, s]) => s.pii === true);

const cache = new WeakMap<TrackingPlan, PiiRules>();

/** The rules of a plan, compiled once per loaded plan (a reload gives a new plan object). */
export function piiRules(plan: TrackingPlan): PiiRules {
  let rules = cache.get(plan);
  if (!rules) {
    const policy = privacyOf(plan);
    const events = new Map<string, Marked>();
    for (const e of plan.events) {
      const m = marked(e.properties);
      if (m.length) events.set(eventKey(e.kind, e.name), m);
    }
    const traits = marked(plan.traits.properties);
    rules = { policy, events, traits, none: events.size === 0 && traits.length === 0 && policy.ip === 'keep' && policy.userAgent === 'keep' };
    cache.set(plan, rules);
  }
  return rules;
}

/** Keyed HMAC-SHA256, hex: the same value gives the same hash (joins and counts still work), unreadable without the key. */
export function hashValue(key: string, value: JsonValue): JsonValue {
  if (value === null) return null;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return createHmac('sha256', key).update(text).digest('hex');
}

/** IPv4 to its /24 (a.b.c.0), IPv6 to its /48; anything else is dropped (undefined). */
export function truncateIp(ip: string): string | undefined {
  const version = isIP(ip);
  if (version === 4) return ip.replace(/\.\d+$/, '.0');
  if (version !== 6) return undefined;
  const v4 = /^(.*:)(\d+\.\d+\.\d+)\.\d+$/.exec(ip);
  if (v4) return `${v4[1]}${v4[2]}.0`; // IPv4-mapped (::ffff:a.b.c.d)
  const [head = '', tail] = ip.split('::');
  const groups = head ? head.split(':') : [];
  const missing = 8 - groups.length - (tail ? tail.split(':').length : 0);
  const full = tail === undefined ? groups : [...groups, ...Array<string>(Math.max(missing, 0)).fill('0'), ...(tail ? tail.split(':') : [])];
  return `${full
    .slice(0, 3)
    .map((g) => g || '0')
    .join(':')}::`;
}

/** The plan's trait rules for a call's own `traits`: a group call's are the group's (a company's billing email), not the person's. */
const personTraitRules = (rules: PiiRules, type: string): Marked => (type === 'group' ? [] : rules.traits);

/** The values `skip` names are left as they are (a replay's, which its ingest's rules already rewrote). */
function applyTo(values: JsonObject, rules: Marked, source: string, fallback: PiiAction, key: string, skip?: (name: string) => boolean): JsonObject {
  let out: JsonObject | undefined;
  for (const [name, schema] of rules) {
    if (!(name in values) || skip?.(name)) continue;
    const action = piiActionFor(schema, source, fallback);
    if (action === 'keep' || action === undefined) continue;
    out ??= { ...values };
    if (action === 'drop') delete out[name];
    else out[name] = hashValue(key, values[name]!);
  }
  return out ?? values;
}

function applyContext(context: JsonObject, traits: Marked, policy: PrivacyPolicy, source: string, key: string, skipTrait?: (name: string) => boolean): JsonObject {
  let out: JsonObject = context;
  const edit = () => (out === context ? (out = { ...context }) : out);
  // An ip that is not a string (an array, an object) cannot be truncated: it is dropped.
  if ('ip' in context && policy.ip !== 'keep') {
    const truncated = policy.ip === 'truncate' && typeof context.ip === 'string' ? truncateIp(context.ip) : undefined;
    if (truncated === undefined) delete edit().ip;
    else edit().ip = truncated;
  }
  if (policy.userAgent === 'drop' && ('userAgent' in context || 'userAgentData' in context)) {
    delete edit().userAgent;
    delete edit().userAgentData;
  }
  // Segment puts identify traits in context.traits on every call: the same rules apply there.
  if (isPlainObject(context.traits) && traits.length) {
    const t = applyTo(context.traits as JsonObject, traits, source, policy.piiAction, key, skipTrait);
    if (t !== context.traits) edit().traits = t;
  }
  return out;
}

/**
 * The event as it may be stored: personal properties and traits kept, hashed or dropped; IP and
 * user agent per the plan. Values at the `kept` JSON pointers (rewrittenPaths) are left as they are.
 */
export function applyPii(event: NormalizedEvent, rules: PiiRules, key: string, kept?: ReadonlySet<string>): NormalizedEvent {
  if (rules.none) return event;
  const skip = kept && ((base: string) => (name: string) => kept.has(`${base}/${pointerToken(name)}`));
  const props = rules.events.get(eventKey(event.type, event.event));
  const properties = props ? applyTo(event.properties, props, event.source, rules.policy.piiAction, key, skip?.('/properties')) : event.properties;
  const traitRules = personTraitRules(rules, event.type);
  const traits = traitRules.length ? applyTo(event.traits, traitRules, event.source, rules.policy.piiAction, key, skip?.('/traits')) : event.traits;
  const context = applyContext(event.context, rules.traits, rules.policy, event.source, key, skip?.('/context/traits'));
  if (properties === event.properties && traits === event.traits && context === event.context) return event;
  return { ...event, properties, traits, context };
}

/**
 * A payload too malformed to normalise is kept verbatim in quarantine: its properties, traits
 * and context get the same rules, as far as they can be read. `callType`: the type the route
 * gives (/v1/page) or the normalised event has, which wins over the payload's, as at ingest.
 */
export function applyPiiToRaw(raw: unknown, source: string, rules: PiiRules, key: string, callType?: string): unknown {
  if (rules.none || !isPlainObject(raw)) return raw;
  const type = callType ?? (typeof raw.type === 'string' ? raw.type : 'track');
  const name = typeof raw.event === 'string' ? raw.event : typeof raw.name === 'string' ? raw.name : '';
  const props = rules.events.get(eventKey(type, name));
  const out: Record<string, unknown> = { ...raw };
  if (props && isPlainObject(raw.properties)) out.properties = applyTo(raw.properties as JsonObject, props, source, rules.policy.piiAction, key);
  if (isPlainObject(raw.traits)) out.traits = applyTo(raw.traits as JsonObject, personTraitRules(rules, type), source, rules.policy.piiAction, key);
  if (isPlainObject(raw.context)) out.context = applyContext(raw.context as JsonObject, rules.traits, rules.policy, source, key);
  return out;
}

/** A JSON pointer's reference token: `~` and `/` escaped, as ajv writes its paths. */
const pointerToken = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * JSON pointers of the values `applyPii` replaced or removed: what `stored` holds that `original`
 * held otherwise. Kept with a quarantined event, so that replay knows what it cannot judge again.
 */
export function rewrittenPaths(original: NormalizedEvent, stored: NormalizedEvent): string[] {
  const paths: string[] = [];
  const compare = (base: string, before: unknown, after: unknown): void => {
    if (before === after || !isPlainObject(before)) return;
    const kept = isPlainObject(after) ? after : {};
    for (const key of Object.keys(before)) if (kept[key] !== before[key]) paths.push(`${base}/${pointerToken(key)}`);
  };
  if (original === stored) return paths;
  compare('/properties', original.properties, stored.properties);
  compare('/traits', original.traits, stored.traits);
  if (original.context !== stored.context) {
    compare('/context/traits', original.context.traits, stored.context.traits);
    for (const key of ['ip', 'userAgent', 'userAgentData']) if (stored.context[key] !== original.context[key]) paths.push(`/context/${key}`);
  }
  return paths;
}

/**
 * A quarantined event's stored form under the rules in force now (quarantine replay): what the
 * rules of its ingest rewrote (`piiRewritten`) stays as it was kept (hashing a hash again would
 * break joins on it), and everything else gets the current rules, so a property marked personal
 * since then is not stored in clear. An event quarantined before the rewritten values were
 * recorded (no `piiRewritten`) is left as it was kept.
 */
export function applyPiiAtReplay(event: NormalizedEvent, rules: PiiRules, key: string): NormalizedEvent {
  return event.piiRewritten === undefined ? event : applyPii(event, rules, key, new Set(event.piiRewritten));
}
