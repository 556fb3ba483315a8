/**
 * The Markdown catalogue analysts and PMs read: an index and one page per event. Pure and
 * deterministic: returns relative file path → content.
 */
import { eventKey, type PlanEvent, type PropertySchema, type TrackingPlan } from './model.ts';
import { piiSummary, privacyOf, type PiiAction } from './pii.ts';
import { compareSemver } from './semver.ts';
import { tsType } from './codegen.ts';
import { viewName } from './views.ts';
import { isPlainObject } from '../util/objects.ts';

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function constraints(schema: PropertySchema): string {
  const parts: string[] = [];
  if (Array.isArray(schema.enum)) parts.push(`one of ${schema.enum.map((v) => `\`${String(v)}\``).join(', ')}`);
  if (typeof schema.format === 'string') parts.push(`format \`${schema.format}\``);
  if (typeof schema.pattern === 'string') parts.push(`pattern \`${schema.pattern}\``);
  const range = (lo: string, hi: string, unit: string): void => {
    const a = schema[lo];
    const b = schema[hi];
    if (typeof a === 'number' && typeof b === 'number') parts.push(`${unit}${a} to ${b}`);
    else if (typeof a === 'number') parts.push(`${unit}≥ ${a}`);
    else if (typeof b === 'number') parts.push(`${unit}≤ ${b}`);
  };
  range('minimum', 'maximum', '');
  range('minLength', 'maxLength', 'length ');
  range('minItems', 'maxItems', 'items ');
  if (typeof schema.exclusiveMinimum === 'number') parts.push(`> ${schema.exclusiveMinimum}`);
  if (typeof schema.exclusiveMaximum === 'number') parts.push(`< ${schema.exclusiveMaximum}`);
  return parts.join('; ');
}

/**
 * The type as a reader of the catalogue knows it: the TypeScript type, except that an integer
 * stays `integer` (TypeScript has only `number`, and the difference is checked at ingest).
 */
export function docType(schema: PropertySchema): string {
  const t = schema.type;
  const types = Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : typeof t === 'string' ? [t] : [];
  if (schema.enum === undefined && schema.const === undefined && types.includes('integer')) {
    return [...new Set(types.map((x) => (x === 'integer' ? 'integer' : tsType({ ...schema, type: x }))))].join(' | ');
  }
  if (schema.enum === undefined && types.length === 1 && types[0] === 'array' && isPlainObject(schema.items)) {
    const items = docType(schema.items);
    if (items.includes('integer')) return `${items.includes(' ') ? `(${items})` : items}[]`;
  }
  return tsType(schema);
}

/** Constraints, then the personal-data rule in bold: the first thing a reader of the row must know. */
function constraintsCell(schema: PropertySchema, fallback: PiiAction): string {
  const pii = piiSummary(schema, fallback);
  return [constraints(schema), pii ? `**personal data: ${pii}**` : ''].filter(Boolean).join('; ');
}

function propertiesTable(properties: Record<string, PropertySchema>, required: string[], fallback: PiiAction): string {
  const names = Object.keys(properties).sort((a, b) => Number(required.includes(b)) - Number(required.includes(a)) || a.localeCompare(b));
  if (names.length === 0) return '_No properties._\n';
  const rows = names.map((n) => {
    const s = properties[n]!;
    const description = typeof s.description === 'string' ? s.description : '';
    return `| \`${n}\` | \`${cell(docType(s).replace(/\s+/g, ' '))}\` | ${required.includes(n) ? 'yes' : 'no'} | ${cell(constraintsCell(s, fallback))} | ${cell(description)} |`;
  });
  return ['| Property | Type | Required | Constraints | Description |', '|---|---|---|---|---|', ...rows, ''].join('\n');
}

const keyOf = (e: Pick<PlanEvent, 'kind' | 'name'>): string => eventKey(e.kind, e.name);

export function eventPagePath(e: Pick<PlanEvent, 'kind' | 'name'>): string {
  return e.kind === 'track' ? `events/${e.name}.md` : `events/${e.kind}_${e.name}.md`;
}

function eventPage(plan: TrackingPlan, event: PlanEvent, inVersions: string[]): string {
  const mode = event.mode ?? plan.defaults.mode;
  return [
    `# ${event.name}${event.status === 'deprecated' ? ' (deprecated)' : ''}`,
    '',
    event.description,
    '',
    `- **Kind**: ${event.kind}`,
    `- **Owner**: ${event.owner}`,
    `- **Status**: ${event.status}`,
    `- **Mode**: ${mode}${event.mode ? '' : ' (plan default)'}`,
    `- **Defined in**: \`${event.file}\``,
    `- **SQL view**: \`${viewName(event)}\``,
    `- **In plan versions**: ${inVersions.join(', ')}`,
    `- **KPIs**: ${event.kpis.length > 0 ? event.kpis.map((k) => `\`${k}\``).join(', ') : 'none'}`,
    '',
    '## Properties',
    '',
    propertiesTable(event.properties, event.required, privacyOf(plan).piiAction),
    `[Back to the catalogue](../README.md)`,
    '',
  ].join('\n');
}

/** The catalogue of `plan` (the latest); `versions` are every version, to say where each event exists. */
export function docs(plan: TrackingPlan, versions: TrackingPlan[] = [plan]): Record<string, string> {
  const all = [...versions.filter((v) => v.version !== plan.version), plan].sort((a, b) => compareSemver(a.version, b.version));
  const present = (e: PlanEvent): string[] => all.filter((v) => v.events.some((o) => keyOf(o) === keyOf(e))).map((v) => v.version);
  const events = [...plan.events].sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  const files: Record<string, string> = {};
  const rows = events.map((e) => `| [${e.name}](${eventPagePath(e)}) | ${e.kind} | ${e.status} | ${cell(e.owner)} | ${cell(e.description)} |`);
  const removed = all.flatMap((v) => v.events.map((e) => ({ e, v: v.version }))).filter(({ e }) => !plan.events.some((o) => keyOf(o) === keyOf(e)));
  const removedNames = [...new Map(removed.map(({ e, v }) => [keyOf(e), `${e.name} (${e.kind}, last in ${v})`])).values()];
  files['README.md'] = [
    `# Tracking plan: ${plan.name} ${plan.version}`,
    '',
    plan.description,
    '',
    `- **Sources**: ${plan.sources.join(', ') || 'any'}`,
    `- **Default mode**: ${plan.defaults.mode}; **unplanned events**: ${plan.defaults.unplanned}`,
    `- **Published versions**: ${all.map((v) => v.version).join(', ')}`,
    ...(plan.privacy
      ? [
          `- **Personal data**: \`pii: true\` properties are ${privacyOf(plan).piiAction === 'keep' ? 'kept' : `${privacyOf(plan).piiAction === 'hash' ? 'hashed' : 'dropped'}`} unless they say otherwise; context.ip: ${privacyOf(plan).ip}; user agent: ${privacyOf(plan).userAgent}`,
        ]
      : []),
    '',
    '_Generated by `balise plan docs` from tracking-plan/. Do not edit by hand._',
    '',
    '## Events',
    '',
    '| Event | Kind | Status | Owner | Description |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    '## Identify traits',
    '',
    propertiesTable(plan.traits.properties, plan.traits.required, privacyOf(plan).piiAction),
    ...(removedNames.length > 0 ? ['## Removed events', '', ...removedNames.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
  for (const e of events) files[eventPagePath(e)] = eventPage(plan, e, present(e));
  return files;
}
