/**
 * Personal data in the plan (pure). A property or trait marked `pii: true` gets an action at
 * ingest, before anything is queued: `keep`, `hash` (keyed HMAC, so equal values still join) or
 * `drop`; `pii_action` sets it for every source or per source (`{default: hash, backend: keep}`),
 * falling back to the plan's `privacy.pii_action`. The plan also says what becomes of
 * `context.ip` and the user agent. See docs/decisions/0032-pii-rules-in-the-plan.md.
 */
import type { JsonValue } from '../types.ts';
import { DEFAULT_PRIVACY, PII_ACTIONS, type PiiAction, type PrivacyPolicy, type PropertySchema, type TrackingPlan } from './model.ts';
import { isPlainObject } from '../util/objects.ts';

// The policy's types live with the plan's (model.ts), which holds a policy; re-exported for the privacy code.
export { DEFAULT_PRIVACY, IP_ACTIONS, PII_ACTIONS, USER_AGENT_ACTIONS, type IpAction, type PiiAction, type PrivacyPolicy, type UserAgentAction } from './model.ts';

export const privacyOf = (plan: Pick<TrackingPlan, 'privacy'>): PrivacyPolicy => ({ ...DEFAULT_PRIVACY, ...plan.privacy });

const isAction = (v: JsonValue | undefined): v is PiiAction => typeof v === 'string' && (PII_ACTIONS as readonly string[]).includes(v);

/** True when the property is marked personal. */
export const isPii = (schema: PropertySchema) => schema.pii === true;

/** The action for one source, or undefined when the property is not personal. */
export function piiActionFor(schema: PropertySchema, source: string, fallback: PiiAction): PiiAction | undefined {
  if (!isPii(schema)) return undefined;
  const action = schema.pii_action;
  if (isAction(action)) return action;
  if (isPlainObject(action)) {
    const own = action[source];
    if (isAction(own)) return own;
    if (isAction(action.default)) return action.default;
  }
  return fallback;
}

/**
 * The effective rule in words, e.g. "hash" or "hash; backend: keep": what `plan docs` shows and
 * what `plan diff` compares (so a change of the plan's default action counts where it applies).
 */
export function piiSummary(schema: PropertySchema, fallback: PiiAction): string | undefined {
  if (!isPii(schema)) return undefined;
  const action = schema.pii_action;
  const base = piiActionFor(schema, '\u0000', fallback)!;
  if (action === null || typeof action !== 'object' || Array.isArray(action)) return base;
  const overrides = Object.keys(action)
    .filter((k) => k !== 'default' && isAction(action[k]) && action[k] !== base)
    .sort()
    .map((k) => `${k}: ${String(action[k])}`);
  return [base, ...overrides].join('; ');
}

export interface PiiProblem {
  /** JSON pointer of the property in its file ('/properties/email'). */
  pointer: string;
  rule: 'pii_action_without_pii' | 'pii_unknown_source' | 'pii_invalid_action';
  message: string;
}

/** Lint of one property's PII marks against the plan's sources. */
export function piiProblems(name: string, schema: PropertySchema, sources: readonly string[], owner: string): PiiProblem[] {
  const pointer = `/properties/${name}`;
  const action = schema.pii_action;
  if (action === undefined) return [];
  const out: PiiProblem[] = [];
  if (!isPii(schema)) out.push({ pointer, rule: 'pii_action_without_pii', message: `${owner}: "${name}" has pii_action but is not marked pii: true` });
  if (isPlainObject(action)) {
    for (const [source, value] of Object.entries(action)) {
      if (!isAction(value)) out.push({ pointer, rule: 'pii_invalid_action', message: `${owner}: "${name}" pii_action.${source} must be one of ${PII_ACTIONS.join(', ')}` });
      if (source !== 'default' && !sources.includes(source)) {
        out.push({ pointer, rule: 'pii_unknown_source', message: `${owner}: "${name}" pii_action names source "${source}", which plan.yaml does not list under sources` });
      }
    }
  } else if (!isAction(action)) out.push({ pointer, rule: 'pii_invalid_action', message: `${owner}: "${name}" pii_action must be one of ${PII_ACTIONS.join(', ')} or a map of source → action` });
  return out;
}

/** The schemas inside a property's (object properties, array items), with their JSON pointers below it. */
export function* nestedSchemas(schema: PropertySchema, pointer = ''): Generator<[pointer: string, schema: PropertySchema]> {
  if (isPlainObject(schema.properties)) {
    for (const [name, inner] of Object.entries(schema.properties)) {
      if (!isPlainObject(inner)) continue;
      const at = `${pointer}/properties/${name}`;
      yield [at, inner];
      yield* nestedSchemas(inner, at);
    }
  }
  if (isPlainObject(schema.items)) {
    yield [`${pointer}/items`, schema.items];
    yield* nestedSchemas(schema.items, `${pointer}/items`);
  }
}

/**
 * Personal-data marks below a property's top level: the rules apply to top-level properties and
 * traits only, so such a mark would leave the value in clear. `plan check` and the server refuse it.
 */
export function nestedPiiMarks(name: string, schema: PropertySchema): string[] {
  return [...nestedSchemas(schema)].filter(([, inner]) => inner.pii !== undefined || inner.pii_action !== undefined).map(([pointer]) => `${name}${pointer}`);
}

/** Every nested mark of a plan, in words, for the server's refusal. */
export function planNestedPiiMarks(plan: Pick<TrackingPlan, 'events' | 'traits'>): string[] {
  const events = plan.events.flatMap((e) => Object.entries(e.properties).flatMap(([name, schema]) => nestedPiiMarks(name, schema).map((at) => `${e.name} ${at}`)));
  const traits = Object.entries(plan.traits.properties).flatMap(([name, schema]) => nestedPiiMarks(name, schema).map((at) => `traits ${at}`));
  return [...events, ...traits];
}

export const NESTED_PII_ADVICE =
  'personal-data rules apply to top-level properties and traits only: mark the top-level property itself pii: true (its whole value is hashed or dropped), or move the value up';
