/**
 * Turns the plan's versions into a PlanValidator. Every JSON Schema is compiled once, when the
 * validator is built (identical schemas shared across versions compile once); validate() only
 * looks up and runs compiled functions.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { JsonObject, NormalizedEvent, PlanVerdict, Violation } from '../types.ts';
import { PlanInvalidError } from './errors.ts';
import { NESTED_PII_ADVICE, planNestedPiiMarks } from './pii.ts';
import { loadPlanVersions } from './load.ts';
import {
  eventKey,
  type PlanValidator,
  type PlanVersions,
  SPEC_PROPERTIES,
  undeclaredPolicy,
  type EnforcementMode,
  type PlanEvent,
  type PropertyPolicy,
  type PropertySchema,
  type TrackingPlan,
} from './model.ts';

interface CompiledEvent {
  event: PlanEvent;
  mode: EnforcementMode;
  undeclared: PropertyPolicy;
  validate: ValidateFunction;
}

/** Top-level properties the event sends that its plan entry does not declare (nor the spec, for its kind). */
export function undeclaredProperties(event: Pick<PlanEvent, 'kind' | 'properties'>, sent: JsonObject): string[] {
  const spec = SPEC_PROPERTIES[event.kind];
  return Object.keys(sent).filter((k) => !Object.hasOwn(event.properties, k) && !spec.includes(k));
}

function undeclaredViolations(names: string[], policy: PropertyPolicy, eventName: string, version: string): Violation[] {
  const outcome = policy === 'strip' ? 'removed before storing' : policy === 'quarantine' ? 'the event is quarantined' : 'stored, flagged';
  return names.map((name) => ({
    path: `/properties/${name}`,
    rule: 'undeclared_property',
    message: `property "${name}" is not declared for "${eventName}" in tracking plan ${version} (policy ${policy}: ${outcome})`,
  }));
}

function without(properties: JsonObject, names: string[]): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(properties)) if (!names.includes(k)) out[k] = v;
  return out;
}

interface CompiledVersion {
  plan: TrackingPlan;
  events: Map<string, CompiledEvent>;
  traits: ValidateFunction;
}

/** Which version validates an event: the declared one when published, else the latest. */
export function resolveVersion(versions: readonly string[], latest: string, declared: string | undefined): { version: string; known: boolean } {
  if (declared === undefined || declared === '') return { version: latest, known: true };
  return versions.includes(declared) ? { version: declared, known: true } : { version: latest, known: false };
}

export function objectSchema(properties: Record<string, PropertySchema>, required: string[]): PropertySchema {
  return { type: 'object', properties, required };
}

export function newAjv(): Ajv {
  // strict is off at run time: `plan check` is where schema mistakes are reported. Options as in
  // the SDK's dev validator (sdk/src/dev.ts): ownProperties, so a property named `constructor`
  // or `toString` is not read from Object.prototype; multipleOfPrecision, so 19.99 is a
  // multiple of 0.01 despite binary floating point.
  const ajv = new Ajv({ allErrors: true, strict: false, ownProperties: true, multipleOfPrecision: 9 });
  addFormats.default(ajv);
  return ajv;
}

/** ajv errors → violations with JSON pointers into the event ("/properties/daily_rate"). */
export function toViolations(base: '/properties' | '/traits', errors: ErrorObject[] | null | undefined): Violation[] {
  return (errors ?? []).map((e) => {
    if (e.keyword === 'required') {
      const missing = String(e.params.missingProperty);
      return { path: `${base}${e.instancePath}/${missing}`, rule: 'required', message: `required property "${missing}" is missing` };
    }
    const pathTo = `${base}${e.instancePath}`;
    const name = e.instancePath ? e.instancePath.slice(1).replaceAll('/', '.') : base.slice(1);
    const allowed =
      e.keyword === 'enum' ? `: ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` : e.keyword === 'const' ? `: ${JSON.stringify(e.params.allowedValue)}` : '';
    return { path: pathTo, rule: e.keyword, message: `${name} ${e.message ?? 'is invalid'}${allowed}` };
  });
}

function compileVersion(plan: TrackingPlan, compile: (schema: PropertySchema, where: string) => ValidateFunction): CompiledVersion {
  const events = new Map<string, CompiledEvent>();
  for (const event of plan.events) {
    events.set(eventKey(event.kind, event.name), {
      event,
      mode: event.mode ?? plan.defaults.mode,
      undeclared: undeclaredPolicy(plan, event),
      validate: compile(objectSchema(event.properties, event.required), `${plan.version} ${event.file}`),
    });
  }
  return { plan, events, traits: compile(objectSchema(plan.traits.properties, plan.traits.required), `${plan.version} traits`) };
}

function verdict(status: PlanVerdict['status'], planVersion: string, violations: Violation[]): PlanVerdict {
  return { status, planVersion, violations };
}

/** The violations but those at or below an `unjudged` pointer (PlanValidator.validate). */
function judged(violations: Violation[], unjudged: readonly string[] | undefined): Violation[] {
  if (!unjudged?.length) return violations;
  return violations.filter((v) => !unjudged.some((path) => v.path === path || v.path.startsWith(`${path}/`)));
}

/** Builds the validator from already-loaded versions (pure apart from ajv compilation). */
/** An unknown declared version is a note on every verdict; a "valid" event with notes is "warned". */
function verdictWithNotes(status: PlanVerdict['status'], version: string, notes: Violation[], violations: Violation[]): PlanVerdict {
  const all = notes.length ? [...notes, ...violations] : violations;
  return verdict(status === 'valid' && all.length > 0 ? 'warned' : status, version, all);
}

export function compilePlanValidator(loaded: PlanVersions): PlanValidator {
  // A mark the ingest would not apply is refused, not ignored: the value would be stored in clear.
  const nested = planNestedPiiMarks(loaded.latest);
  if (nested.length) throw new PlanInvalidError(`tracking plan ${loaded.latest.version} marks nested values pii (${nested.join(', ')}): ${NESTED_PII_ADVICE}`);
  const ajv = newAjv();
  const cache = new Map<string, ValidateFunction>();
  const compile = (schema: PropertySchema, where: string): ValidateFunction => {
    const key = JSON.stringify(schema);
    let fn = cache.get(key);
    if (!fn) {
      try {
        fn = ajv.compile(schema);
      } catch (err) {
        throw new PlanInvalidError(`invalid JSON Schema in plan ${where}: ${(err as Error).message}`);
      }
      cache.set(key, fn);
    }
    return fn;
  };
  const compiled = new Map(loaded.versions.map((p) => [p.version, compileVersion(p, compile)]));
  const versions = Object.freeze(loaded.versions.map((p) => p.version));
  const latestVersion = loaded.latest.version;

  return {
    plan: loaded.latest,
    latestVersion,
    versions,
    ...(loaded.unpublishedEdits ? { unpublishedEdits: loaded.unpublishedEdits } : {}),
    validate(event: NormalizedEvent, unjudged?: readonly string[]): PlanVerdict {
      const { version, known } = resolveVersion(versions, latestVersion, event.declaredPlanVersion);
      const target = compiled.get(version)!;
      const notes: Violation[] = known
        ? []
        : [{ path: '/context/plan/version', rule: 'unknown_plan_version', message: `plan version "${event.declaredPlanVersion}" is not published; validated against ${latestVersion}` }];

      if (event.type === 'group' || event.type === 'alias') return verdictWithNotes('valid', version, notes, []);
      if (event.type === 'identify') {
        // Traits never quarantine: an identify also links anonymous and known ids, and losing
        // that link would silently split people in every funnel. Violations are still recorded.
        const violations = target.traits(event.traits) ? [] : judged(toViolations('/traits', target.traits.errors), unjudged);
        return verdictWithNotes(violations.length ? 'warned' : 'valid', version, notes, violations);
      }

      const planned = target.events.get(eventKey(event.type, event.event));
      if (!planned) {
        // Pages and screens are only checked when planned: most apps send many more than they plan.
        if (event.type !== 'track') return verdictWithNotes('unplanned', version, notes, []);
        const policy = target.plan.defaults.unplanned;
        if (policy === 'allow') return verdictWithNotes('unplanned', version, notes, []);
        const unplanned: Violation = { path: '/event', rule: 'unplanned_event', message: `event "${event.event}" is not in tracking plan ${version}` };
        return verdictWithNotes(policy === 'quarantine' ? 'quarantined' : 'warned', version, notes, [unplanned]);
      }

      const violations = planned.validate(event.properties) ? [] : judged(toViolations('/properties', planned.validate.errors), unjudged);
      const deprecated: Violation[] =
        planned.event.status === 'deprecated' ? [{ path: '/event', rule: 'deprecated_event', message: `event "${event.event}" is deprecated in tracking plan ${version}` }] : [];
      const extra = planned.undeclared === 'allow' ? [] : undeclaredProperties(planned.event, event.properties);
      const undeclared = undeclaredViolations(extra, planned.undeclared, event.event, version);
      const all = [...deprecated, ...violations, ...undeclared];
      if ((violations.length > 0 && planned.mode === 'enforce') || (extra.length > 0 && planned.undeclared === 'quarantine')) return verdictWithNotes('quarantined', version, notes, all);
      const result = verdictWithNotes(all.length > 0 ? 'warned' : 'valid', version, notes, all);
      return extra.length > 0 && planned.undeclared === 'strip' ? { ...result, properties: without(event.properties, extra) } : result;
    },
  };
}

/** Loads every published version plus the YAML plan and compiles them once. */
export async function loadPlanValidator(planDir: string): Promise<PlanValidator> {
  return compilePlanValidator(await loadPlanVersions(planDir));
}
