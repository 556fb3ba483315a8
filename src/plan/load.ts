/**
 * Reads tracking-plan/ (plan.yaml, traits.yaml, events/*.yaml and the published build/plan-*.json)
 * into TrackingPlan values. Structural problems become file:line LintMessages rather than a
 * first-error exception, so `plan check` can report all of them at once.
 */
import { isTimeZone } from '../util/zone.ts';
import { DEFAULT_PRIVACY, IP_ACTIONS, PII_ACTIONS, USER_AGENT_ACTIONS, type PrivacyPolicy } from './pii.ts';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { JsonObject, JsonValue } from '../types.ts';
import { PlanInvalidError } from './errors.ts';
import { EVENT_FILE_SCHEMA, PLAN_FILE_SCHEMA, SNAKE, TRAITS_FILE_SCHEMA } from './file-schemas.ts';
import type { LintMessage } from './lint.ts';
import { PROPERTY_POLICIES, UNPLANNED_POLICIES, type PlanEvent, type PropertyPolicy, type PropertySchema, type TrackingPlan, type UnplannedPolicy } from './model.ts';
import { compareSemver } from './semver.ts';

export const PLAN_FILE = 'plan.yaml';
export const TRAITS_FILE = 'traits.yaml';
export const EVENTS_DIR = 'events';
export const BUILD_DIR = 'build';

/** A YAML file parsed with enough position information to point at any key. */
interface ParsedYaml {
  file: string;
  data: unknown;
  doc: Document;
  lineCounter: LineCounter;
}

export interface LoadResult {
  plan: TrackingPlan;
  /** Structural problems found while loading (errors mean `plan` is incomplete). */
  messages: LintMessage[];
}

export interface PlanVersions {
  /** The current plan: plan.yaml when present, else the highest published version. */
  latest: TrackingPlan;
  /** Every version, oldest first; the latest one included. */
  versions: TrackingPlan[];
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

function splitPointer(pointer: string): string[] {
  return pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** The 1-based line of the deepest node found along `pointer` (the key's line for map entries). */
export function lineAt(parsed: Pick<ParsedYaml, 'doc' | 'lineCounter'>, pointer: string): number {
  let node: unknown = parsed.doc.contents;
  let offset = 0;
  for (const segment of splitPointer(pointer)) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === segment);
      if (!pair) break;
      if (isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)];
      if (!item) break;
      if (isScalar(item) && item.range) offset = item.range[0];
      else if (isMap(item) && item.range) offset = item.range[0];
      node = item;
    } else {
      break;
    }
  }
  return parsed.lineCounter.linePos(offset).line;
}

async function readYaml(planDir: string, file: string): Promise<ParsedYaml | LintMessage> {
  const text = await fs.readFile(path.join(planDir, file), 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const line = lineCounter.linePos(first.pos[0]).line;
    return { file, line, rule: 'yaml_syntax', message: first.message.split('\n')[0] ?? 'invalid YAML', severity: 'error' };
  }
  return { file, data: doc.toJS({ maxAliasCount: 100 }) as unknown, doc, lineCounter };
}

function isLint(x: ParsedYaml | LintMessage): x is LintMessage {
  return 'rule' in x;
}

function structuralMessages(parsed: ParsedYaml, errors: ErrorObject[] | null | undefined): LintMessage[] {
  // Snake-case names are reported by lint itself, with the offending name; skip ajv's copies.
  const lintCovers = (e: ErrorObject): boolean =>
    e.keyword === 'propertyNames' || e.propertyName !== undefined || (e.keyword === 'pattern' && e.params.pattern === SNAKE && (e.instancePath === '/name' || e.instancePath.startsWith('/kpis')));
  return (errors ?? [])
    .filter((e) => !lintCovers(e))
    .map((e) => {
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

function linesOf(parsed: ParsedYaml, pointers: string[]): Record<string, number> {
  const lines: Record<string, number> = { '': 1 };
  for (const p of pointers) lines[p] = lineAt(parsed, p);
  return lines;
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
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : {};
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
    name: typeof d.name === 'string' ? d.name : path.basename(parsed.file, '.yaml'),
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

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

/** Loads the YAML plan, collecting structural problems as messages instead of throwing. */
export async function loadPlanFiles(planDir: string): Promise<LoadResult> {
  const messages: LintMessage[] = [];
  const planParsed: ParsedYaml | LintMessage = (await exists(path.join(planDir, PLAN_FILE)))
    ? await readYaml(planDir, PLAN_FILE)
    : { file: PLAN_FILE, line: 1, rule: 'plan_missing', message: `no ${PLAN_FILE} in ${planDir}`, severity: 'error' };
  let header: JsonObject = {};
  let planLines: Record<string, number> | undefined;
  if (isLint(planParsed)) messages.push(planParsed);
  else {
    const v = validators();
    if (!v.plan(planParsed.data)) messages.push(...structuralMessages(planParsed, v.plan.errors));
    header = asObject(planParsed.data);
    planLines = linesOf(planParsed, ['/name', '/version', '/description', '/sources', '/timezone', '/defaults']);
  }

  let traits: TrackingPlan['traits'] = { properties: {}, required: [] };
  if (await exists(path.join(planDir, TRAITS_FILE))) {
    const parsed = await readYaml(planDir, TRAITS_FILE);
    if (isLint(parsed)) messages.push(parsed);
    else {
      const v = validators();
      if (!v.traits(parsed.data)) messages.push(...structuralMessages(parsed, v.traits.errors));
      const d = asObject(parsed.data);
      const properties = propertiesOf(d.properties);
      traits = { properties, required: stringList(d.required), file: TRAITS_FILE, lines: linesOf(parsed, ['/required', ...Object.keys(properties).map((p) => `/properties/${p}`)]) };
    }
  }

  const events: PlanEvent[] = [];
  const eventsDir = path.join(planDir, EVENTS_DIR);
  const files = (await exists(eventsDir)) ? (await fs.readdir(eventsDir)).filter((f) => /\.ya?ml$/.test(f)).sort() : [];
  for (const f of files) {
    const parsed = await readYaml(planDir, path.posix.join(EVENTS_DIR, f));
    if (isLint(parsed)) {
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

/** The current YAML plan; throws PlanInvalidError (with every message) when a file is malformed. */
export async function loadPlan(planDir: string): Promise<TrackingPlan> {
  const { plan, messages } = await loadPlanFiles(planDir);
  const errors = messages.filter((m) => m.severity === 'error');
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new PlanInvalidError(`tracking plan in ${planDir} is invalid (${errors.length} error(s)); first: ${first.file}:${first.line} ${first.message}`, errors);
  }
  return plan;
}

/** The artifact shape `plan build` writes: positions dropped, content only. */
export interface PlanArtifact {
  format: 'balise-plan@1';
  plan: TrackingPlan;
}

/** A TrackingPlan without editor positions, with stable key order, for artifacts and comparisons. */
export function stripPositions(plan: TrackingPlan): TrackingPlan {
  const { file: _f, lines: _l, ...rest } = plan;
  const { file: _tf, lines: _tl, ...traits } = plan.traits;
  return {
    ...rest,
    traits,
    events: [...plan.events].sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name)).map(({ lines: _el, ...e }) => e),
  };
}

export function artifactFileName(version: string): string {
  return `plan-${version}.json`;
}

export function serializeArtifact(plan: TrackingPlan): string {
  const artifact: PlanArtifact = { format: 'balise-plan@1', plan: stripPositions(plan) };
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

function parseArtifact(text: string, file: string): TrackingPlan {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new PlanInvalidError(`${file}: not JSON (${(err as Error).message})`);
  }
  const artifact = asObject(parsed);
  if (artifact.format !== 'balise-plan@1') throw new PlanInvalidError(`${file}: not a Balise plan artifact (format ${JSON.stringify(artifact.format)})`);
  return artifact.plan as unknown as TrackingPlan;
}

/** Published versions from build/plan-*.json, oldest first. */
export async function loadPublished(planDir: string): Promise<TrackingPlan[]> {
  const dir = path.join(planDir, BUILD_DIR);
  if (!(await exists(dir))) return [];
  const files = (await fs.readdir(dir)).filter((f) => /^plan-.+\.json$/.test(f));
  const plans = await Promise.all(files.map(async (f) => parseArtifact(await fs.readFile(path.join(dir, f), 'utf8'), path.posix.join(BUILD_DIR, f))));
  return plans.sort((a, b) => compareSemver(a.version, b.version));
}

/**
 * Every version side by side: the published artifacts plus the YAML plan, which wins over an
 * artifact of the same version (it is what is being edited; `plan check` flags the mismatch).
 */
export async function loadPlanVersions(planDir: string): Promise<PlanVersions> {
  const published = await loadPublished(planDir);
  const hasYaml = await exists(path.join(planDir, PLAN_FILE));
  if (!hasYaml && published.length === 0)
    throw new PlanInvalidError(`no tracking plan in ${planDir}: neither ${PLAN_FILE} nor ${BUILD_DIR}/plan-*.json (write one with \`balise init\`, or set BALISE_PLAN_DIR)`);
  const byVersion = new Map(published.map((p) => [p.version, p]));
  let latest = published[published.length - 1]!;
  if (hasYaml) {
    latest = await loadPlan(planDir);
    byVersion.set(latest.version, latest);
  }
  const versions = [...byVersion.values()].sort((a, b) => compareSemver(a.version, b.version));
  return { latest, versions };
}
