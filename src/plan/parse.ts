/**
 * The YAML plan's files, as text, into a TrackingPlan (pure: load.ts reads the files). Structural
 * problems become file:line LintMessages rather than a first-error exception, so `plan check`
 * can report all of them at once.
 */
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { JsonObject, JsonValue } from '../types.ts';
import { isPlainObject } from '../util/objects.ts';
import { isTimeZone } from '../util/zone.ts';
import { EVENT_FILE_SCHEMA, PLAN_FILE_SCHEMA, SNAKE, TRAITS_FILE_SCHEMA } from './file-schemas.ts';
import {
  DEFAULT_PRIVACY,
  IP_ACTIONS,
  PII_ACTIONS,
  PROPERTY_POLICIES,
  UNPLANNED_POLICIES,
  USER_AGENT_ACTIONS,
  type LintMessage,
  type LoadResult,
  type PlanEvent,
  type PrivacyPolicy,
  type PropertyPolicy,
  type PropertySchema,
  type TrackingPlan,
  type UnplannedPolicy,
} from './model.ts';
import { isLintMessage, lineAt, linesOf, parseYaml, type ParsedYaml } from './yaml.ts';

export const PLAN_FILE = 'plan.yaml';
export const TRAITS_FILE = 'traits.yaml';
export const EVENTS_DIR = 'events';

/** One file of the plan: its path inside the plan directory (posix) and its text. */
export interface PlanFile {
  file: string;
  text: string;
}

/** The YAML plan as text; a missing plan.yaml or traits.yaml is undefined. */
export interface PlanSources {
  /** Named in the `plan_missing` message. */
  planDir: string;
  plan?: PlanFile;
  traits?: PlanFile;
  /** events/*.yaml, in name order. */
  events: PlanFile[];
}

let fileValidators: { plan: ValidateFunction; event: ValidateFunction; traits: ValidateFunction } | undefined;
function validators(): NonNullable<typeof fileValidators> {
  if (!fileValidators) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    fileValidators = { plan: ajv.compile(PLAN_FILE_SCHEMA), event: ajv.compile(EVENT_FILE_SCHEMA), traits: ajv.compile(TRAITS_FILE_SCHEMA) };
  }
  return fileValidators;
}

function structuralMessages(parsed: ParsedYaml, errors: ErrorObject[] | null | undefined): LintMessage[] {
  // Snake-case names are reported by lint itself, with the offending name; skip ajv's copies.
  const lintCovers = (e: ErrorObject): boolean =>
    e.keyword === 'propertyNames' || e.propertyName !== undefined || (e.keyword === 'pattern' && e.params.pattern === SNAKE && (e.instancePath === '/name' || e.instancePath.startsWith('/kpis')));
  // A `type` that is no JSON Schema type fails three ways (not in the list, not an array, not one
  // of the alternatives): said once, with the types to choose from.
  const badTypes = new Map((errors ?? []).filter((e) => e.keyword === 'enum' && e.instancePath.endsWith('/type')).map((e) => [e.instancePath, e.params.allowedValues as unknown[]]));
  const typeNoise = (e: ErrorObject): boolean => {
    if (badTypes.has(e.instancePath)) return e.keyword !== 'enum';
    return (e.keyword === 'oneOf' || e.keyword === 'anyOf') && badTypes.has(`${e.instancePath}/type`);
  };
  return (errors ?? [])
    .filter((e) => !lintCovers(e) && !typeNoise(e))
    .map((e) => {
      const allowed = badTypes.get(e.instancePath);
      if (allowed && e.keyword === 'enum') {
        return {
          file: parsed.file,
          line: lineAt(parsed, e.instancePath),
          rule: 'file_schema',
          message: `${e.instancePath}: not a type; use one of ${allowed.map(String).join(', ')}, or a list of them`,
          severity: 'error' as const,
        };
      }
      const snake = e.keyword === 'propertyNames' || (e.keyword === 'pattern' && e.params.pattern === SNAKE);
      const extra = e.keyword === 'additionalProperties' ? ` (unknown key "${String(e.params.additionalProperty)}")` : '';
      const where = e.instancePath || '/';
      const pointer = e.keyword === 'additionalProperties' ? `${e.instancePath}/${String(e.params.additionalProperty)}` : e.instancePath;
      return {
        file: parsed.file,
        line: lineAt(parsed, e.keyword === 'propertyNames' ? `${e.instancePath}/${String(e.params.propertyName)}` : pointer),
        rule: snake ? 'snake_case' : 'file_schema',
        message: snake ? `${where}: names must be snake_case` : `${where} ${e.message ?? 'is invalid'}${extra}`,
        severity: 'error' as const,
      };
    })
    .filter((m, i, all) => all.findIndex((o) => o.line === m.line && o.message === m.message) === i);
}

/** plan.yaml `privacy:` (its values were checked against PLAN_FILE_SCHEMA); unset keys keep the defaults. */
function privacyPolicy(raw: JsonObject): PrivacyPolicy {
  const pick = <T extends string>(value: JsonValue | undefined, allowed: readonly T[], fallback: T): T => (allowed.includes(value as T) ? (value as T) : fallback);
  return {
    piiAction: pick(raw.pii_action, PII_ACTIONS, DEFAULT_PRIVACY.piiAction),
    ip: pick(raw.ip, IP_ACTIONS, DEFAULT_PRIVACY.ip),
    userAgent: pick(raw.user_agent, USER_AGENT_ACTIONS, DEFAULT_PRIVACY.userAgent),
  };
}

function asObject(value: unknown): JsonObject {
  return isPlainObject(value) ? (value as JsonObject) : {};
}

function stringList(value: JsonValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function propertiesOf(value: JsonValue | undefined): Record<string, PropertySchema> {
  const out: Record<string, PropertySchema> = {};
  for (const [k, v] of Object.entries(asObject(value))) out[k] = asObject(v);
  return out;
}

function propertyPolicy(value: JsonValue | undefined): PropertyPolicy | undefined {
  return PROPERTY_POLICIES.find((p) => p === value);
}

function unplannedPolicy(value: JsonValue | undefined): UnplannedPolicy {
  return UNPLANNED_POLICIES.find((p) => p === value) ?? 'allow';
}

function toEvent(parsed: ParsedYaml): PlanEvent {
  const d = asObject(parsed.data);
  const properties = propertiesOf(d.properties);
  const mode = d.mode === 'enforce' || d.mode === 'warn' ? d.mode : undefined;
  const undeclared = propertyPolicy(d.undeclared);
  const event: PlanEvent = {
    name: typeof d.name === 'string' ? d.name : path.posix.basename(parsed.file, '.yaml'),
    kind: d.kind === 'page' || d.kind === 'screen' ? d.kind : 'track',
    description: typeof d.description === 'string' ? d.description : '',
    owner: typeof d.owner === 'string' ? d.owner : '',
    status: d.status === 'deprecated' ? 'deprecated' : 'active',
    properties,
    required: stringList(d.required),
    kpis: stringList(d.kpis),
    file: parsed.file,
    lines: linesOf(parsed, ['/name', '/description', '/owner', '/status', '/mode', '/undeclared', '/required', '/kpis', '/properties', ...Object.keys(properties).map((p) => `/properties/${p}`)]),
  };
  if (mode) event.mode = mode;
  if (undeclared) event.undeclared = undeclared;
  return event;
}

/** The YAML plan, with its structural problems as messages instead of an exception. */
export function parsePlanFiles(sources: PlanSources): LoadResult {
  const messages: LintMessage[] = [];
  const planParsed: ParsedYaml | LintMessage = sources.plan
    ? parseYaml(sources.plan.file, sources.plan.text)
    : { file: PLAN_FILE, line: 1, rule: 'plan_missing', message: `no ${PLAN_FILE} in ${sources.planDir}`, severity: 'error' };
  let header: JsonObject = {};
  let planLines: Record<string, number> | undefined;
  if (isLintMessage(planParsed)) messages.push(planParsed);
  else {
    const v = validators();
    if (!v.plan(planParsed.data)) messages.push(...structuralMessages(planParsed, v.plan.errors));
    header = asObject(planParsed.data);
    planLines = linesOf(planParsed, ['/name', '/version', '/description', '/sources', '/timezone', '/defaults']);
  }

  let traits: TrackingPlan['traits'] = { properties: {}, required: [] };
  if (sources.traits) {
    const parsed = parseYaml(sources.traits.file, sources.traits.text);
    if (isLintMessage(parsed)) messages.push(parsed);
    else {
      const v = validators();
      if (!v.traits(parsed.data)) messages.push(...structuralMessages(parsed, v.traits.errors));
      const d = asObject(parsed.data);
      const properties = propertiesOf(d.properties);
      traits = { properties, required: stringList(d.required), file: TRAITS_FILE, lines: linesOf(parsed, ['/required', ...Object.keys(properties).map((p) => `/properties/${p}`)]) };
    }
  }

  const events: PlanEvent[] = [];
  for (const { file, text } of sources.events) {
    const parsed = parseYaml(file, text);
    if (isLintMessage(parsed)) {
      messages.push(parsed);
      continue;
    }
    const v = validators();
    if (!v.event(parsed.data)) messages.push(...structuralMessages(parsed, v.event.errors));
    events.push(toEvent(parsed));
  }

  const defaults = asObject(header.defaults);
  const plan: TrackingPlan = {
    name: typeof header.name === 'string' ? header.name : '',
    version: typeof header.version === 'string' ? header.version : '',
    description: typeof header.description === 'string' ? header.description : '',
    sources: stringList(header.sources),
    defaults: {
      mode: defaults.mode === 'warn' ? 'warn' : 'enforce',
      unplanned: unplannedPolicy(defaults.unplanned),
    },
    events,
    traits,
    file: PLAN_FILE,
  };
  // Only when written, so a plan that does not use it serialises as it did before it existed.
  const undeclared = propertyPolicy(defaults.undeclared);
  if (undeclared) plan.defaults.undeclared = undeclared;
  if (header.privacy !== undefined) plan.privacy = privacyPolicy(asObject(header.privacy));
  if (typeof header.timezone === 'string') {
    // An unknown zone is a plan error, not a silent UTC: every period boundary depends on it.
    if (isTimeZone(header.timezone)) plan.timezone = header.timezone;
    else
      messages.push({
        file: PLAN_FILE,
        line: planLines?.['/timezone'] ?? 1,
        rule: 'invalid_time_zone',
        message: `timezone: "${header.timezone}" is not an IANA time zone (e.g. Europe/Paris, UTC)`,
        severity: 'error',
      });
  }
  if (planLines) plan.lines = planLines;
  return { plan, messages };
}
