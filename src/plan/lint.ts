/** Lint rules for the tracking plan (pure: load.ts reads the files). Messages point at file:line so reviewers can jump to them. */
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { editsPublishedVersion } from './artifact.ts';
import { eventKey, type LintMessage, type LoadResult, type PlanEvent, type PropertySchema, type TrackingPlan } from './model.ts';
import { parsePlanFiles, type PlanSources } from './parse.ts';
import { SNAKE } from './file-schemas.ts';
import { NESTED_PII_ADVICE, nestedPiiMarks, nestedSchemas, piiProblems } from './pii.ts';
import { isPlainObject } from '../util/objects.ts';
import { compareSemver, parseSemver } from './semver.ts';
import { RESERVED_COLUMNS } from './views.ts';

const SNAKE_CASE = new RegExp(SNAKE);
/** The types a JSON Schema names. */
const JSON_TYPES: readonly string[] = ['string', 'number', 'integer', 'boolean', 'array', 'object', 'null'];

export interface LintOptions {
  /** Published versions (build/plan-*.json), to check the YAML version moved on from them. */
  published?: TrackingPlan[];
}

function strictAjv(): Ajv {
  // strict mode turns unknown keywords and misplaced constraints into compile errors.
  const ajv = new Ajv({ strict: true, strictTypes: false, strictTuples: false, strictRequired: false, allErrors: true });
  addFormats.default(ajv);
  // Balise's own annotations (src/plan/pii.ts), not validation keywords.
  ajv.addVocabulary(['pii', 'pii_action']);
  return ajv;
}

function lineOf(lines: Record<string, number> | undefined, ...pointers: string[]): number {
  for (const p of pointers) {
    const line = lines?.[p];
    if (line !== undefined) return line;
  }
  return 1;
}

/** Schema-level checks shared by event properties and traits. */
function lintProperties(
  ajv: Ajv,
  file: string,
  lines: Record<string, number> | undefined,
  properties: Record<string, PropertySchema>,
  required: string[],
  owner: string,
  sources: readonly string[],
): LintMessage[] {
  const out: LintMessage[] = [];
  const at = (pointer: string, rule: string, message: string, severity: LintMessage['severity'] = 'error'): void => {
    out.push({ file, line: lineOf(lines, pointer, '/properties', ''), rule, message, severity });
  };
  for (const [name, schema] of Object.entries(properties)) {
    const pointer = `/properties/${name}`;
    if (!SNAKE_CASE.test(name)) at(pointer, 'snake_case', `${owner}: property "${name}" must be snake_case`);
    if (RESERVED_COLUMNS.includes(name)) at(pointer, 'reserved_name', `${owner}: property "${name}" shadows a common column of the typed SQL views; it is exposed there as prop_${name}`, 'warning');
    if (typeof schema.description !== 'string' || schema.description.trim() === '') at(pointer, 'property_description_missing', `${owner}: property "${name}" has no description`, 'warning');
    if (schema.type === undefined && schema.enum === undefined && schema.const === undefined) at(pointer, 'type_missing', `${owner}: property "${name}" has no type`);
    for (const problem of piiProblems(name, schema, sources, owner)) at(problem.pointer, problem.rule, problem.message);
    for (const mark of nestedPiiMarks(name, schema)) at(pointer, 'pii_nested', `${owner}: "${mark}" is marked pii: ${NESTED_PII_ADVICE}`);
    for (const [inner, nested] of [['', schema] as const, ...nestedSchemas(schema)]) {
      const declared = isPlainObject(nested.properties) ? nested.properties : undefined;
      const missing = declared && Array.isArray(nested.required) ? nested.required.filter((r) => typeof r === 'string' && !(r in declared)) : [];
      for (const r of missing) at(pointer, 'required_unknown', `${owner}: required property "${String(r)}" of "${name}${inner}" is not declared under its properties`);
    }
    // A type that is no JSON Schema type is said by the file's schema check, with the list: not twice.
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (types.some((t) => t !== undefined && !(typeof t === 'string' && JSON_TYPES.includes(t)))) continue;
    try {
      ajv.compile(schema);
    } catch (err) {
      at(pointer, 'invalid_schema', `${owner}: property "${name}" is not a valid JSON Schema: ${(err as Error).message}`);
      continue;
    }
    if (Array.isArray(schema.enum) && schema.type !== undefined) {
      const check = ajv.compile({ type: schema.type });
      const bad = schema.enum.filter((v) => !check(v));
      if (bad.length > 0) at(pointer, 'enum_type_mismatch', `${owner}: enum values ${JSON.stringify(bad)} of "${name}" are not of type ${JSON.stringify(schema.type)}`);
    }
    for (const [lo, hi] of [
      ['minimum', 'maximum'],
      ['minLength', 'maxLength'],
      ['minItems', 'maxItems'],
    ] as const) {
      const a = schema[lo];
      const b = schema[hi];
      if (typeof a === 'number' && typeof b === 'number' && a > b) at(pointer, 'range_inverted', `${owner}: "${name}" has ${lo} ${a} > ${hi} ${b}; no value can pass`);
    }
  }
  for (const name of required) {
    if (!(name in properties))
      out.push({ file, line: lineOf(lines, '/required', ''), rule: 'required_unknown', message: `${owner}: required property "${name}" is not declared under properties`, severity: 'error' });
  }
  return out;
}

function lintEvent(ajv: Ajv, event: PlanEvent, sources: readonly string[]): LintMessage[] {
  const out: LintMessage[] = [];
  const at = (pointer: string, rule: string, message: string, severity: LintMessage['severity'] = 'error'): void => {
    out.push({ file: event.file, line: lineOf(event.lines, pointer, ''), rule, message, severity });
  };
  if (!SNAKE_CASE.test(event.name)) at('/name', 'snake_case', `event "${event.name}" must be snake_case`);
  if (event.description.trim() === '') at('/description', 'description_missing', `event "${event.name}" has no description`);
  if (event.owner.trim() === '') at('/owner', 'owner_missing', `event "${event.name}" has no owner`);
  const base = event.file
    .split('/')
    .pop()
    ?.replace(/\.ya?ml$/, '');
  if (base !== undefined && base !== event.name) at('/name', 'file_name_mismatch', `event "${event.name}" is defined in ${event.file}; name the file ${event.name}.yaml`, 'warning');
  if ((event.undeclared === 'strip' || event.undeclared === 'quarantine') && Object.keys(event.properties).length === 0) {
    at('/undeclared', 'undeclared_policy_without_properties', `event "${event.name}" declares no properties, so undeclared: ${event.undeclared} applies to every property it is sent with`, 'warning');
  }
  for (const kpi of event.kpis) if (!SNAKE_CASE.test(kpi)) at('/kpis', 'snake_case', `event "${event.name}": KPI id "${kpi}" must be snake_case`);
  out.push(...lintProperties(ajv, event.file, event.lines, event.properties, event.required, `event "${event.name}"`, sources));
  return out;
}

/**
 * Pure lint of a loaded plan: names, ownership, schemas, duplicates, and the version against
 * the published ones. Messages are sorted by file then line.
 */
export function lint(plan: TrackingPlan, options: LintOptions = {}): LintMessage[] {
  const ajv = strictAjv();
  const out: LintMessage[] = [];
  const seen = new Map<string, PlanEvent>();
  for (const event of plan.events) {
    out.push(...lintEvent(ajv, event, plan.sources));
    const key = eventKey(event.kind, event.name);
    const first = seen.get(key);
    if (first) {
      out.push({
        file: event.file,
        line: lineOf(event.lines, '/name', ''),
        rule: 'duplicate_event',
        message: `${event.kind} "${event.name}" is already defined in ${first.file}:${lineOf(first.lines, '/name', '')}`,
        severity: 'error',
      });
    } else seen.set(key, event);
  }
  if (plan.traits.file !== undefined || Object.keys(plan.traits.properties).length > 0) {
    out.push(...lintProperties(ajv, plan.traits.file ?? 'traits.yaml', plan.traits.lines, plan.traits.properties, plan.traits.required, 'traits', plan.sources));
  }
  const planFile = plan.file ?? 'plan.yaml';
  // A version that is not semver is its own error (the plan file's schema): none to compare.
  const comparable = parseSemver(plan.version) ? (options.published ?? []) : [];
  for (const published of comparable) {
    if (editsPublishedVersion(published, plan)) {
      out.push({
        file: planFile,
        line: lineOf(plan.lines, '/version', ''),
        rule: 'version_not_bumped',
        message: `version ${plan.version} is already published (build/plan-${plan.version}.json) with different content; bump the version`,
        severity: 'warning',
      });
    }
  }
  // Said once, against the newest published version, however many are above it.
  const newest = comparable.reduce<TrackingPlan | undefined>((top, p) => (!top || compareSemver(p.version, top.version) > 0 ? p : top), undefined);
  if (newest && compareSemver(newest.version, plan.version) > 0) {
    out.push({
      file: planFile,
      line: lineOf(plan.lines, '/version', ''),
      rule: 'version_behind',
      message: `version ${plan.version} is lower than the published ${newest.version}`,
      severity: 'error',
    });
  }
  return out.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule));
}

/**
 * The plan's files, as text, parsed and linted, structural problems included (pure: lintPlanDir
 * in load.ts reads them). Each message once, sorted by file then line.
 */
export function lintSources(sources: PlanSources, published: TrackingPlan[] = []): LoadResult {
  const { plan, messages } = parsePlanFiles(sources);
  const all = [...messages, ...lint(plan, { published })];
  const unique = all.filter((m, i) => all.findIndex((o) => o.file === m.file && o.line === m.line && o.rule === m.rule && o.message === m.message) === i);
  return { plan, messages: unique.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule)) };
}
