/**
 * Deterministic TypeScript for the SDK: `createBalise<BalisePlan>()` types track(), page(),
 * screen() and identify() from this. Same plan in, same bytes out (sorted keys, no timestamps),
 * so CI can fail when the committed file is stale.
 */
import type { JsonValue } from '../types.ts';
import type { PlanEvent, PropertySchema, TrackingPlan } from './model.ts';
import { isPlainObject } from '../util/objects.ts';

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function key(name: string): string {
  return IDENT.test(name) ? name : JSON.stringify(name);
}

/** A value as a TypeScript literal; a string single-quoted with every escape JSON gives it (newlines, CR, controls). */
function literal(v: JsonValue): string {
  return typeof v === 'string' ? `'${JSON.stringify(v).slice(1, -1).replaceAll('\\"', '"').replaceAll("'", "\\'")}'` : JSON.stringify(v);
}

function jsdoc(lines: string[], indent: string): string {
  const text = lines.filter((l) => l.trim() !== '').map((l) => l.replaceAll('*/', '*\\/'));
  if (text.length === 0) return '';
  if (text.length === 1) return `${indent}/** ${text[0]} */\n`;
  return `${indent}/**\n${text.map((l) => `${indent} * ${l}`).join('\n')}\n${indent} */\n`;
}

function scalarType(t: string, schema: PropertySchema, indent: string): string {
  switch (t) {
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array': {
      const items = schema.items;
      const inner = isPlainObject(items) ? tsType(items, indent) : 'unknown';
      return /^[A-Za-z]+$/.test(inner) ? `${inner}[]` : `Array<${inner}>`;
    }
    case 'object': {
      const props = schema.properties;
      if (props === null || typeof props !== 'object' || Array.isArray(props)) return 'Record<string, unknown>';
      const required = Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === 'string') : [];
      const entries: Record<string, PropertySchema> = {};
      for (const [k, v] of Object.entries(props)) if (isPlainObject(v)) entries[k] = v;
      // An object that says it takes other keys (additionalProperties: true) takes them in TypeScript too.
      const open = schema.additionalProperties === true ? ' & Record<string, unknown>' : '';
      return `${objectType(entries, required, `${indent}  `)}${open}`;
    }
    default:
      return 'unknown';
  }
}

/** The TypeScript type of one JSON Schema property. */
export function tsType(schema: PropertySchema, indent = ''): string {
  if (schema.const !== undefined) return literal(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map(literal).join(' | ');
  const t = schema.type;
  const types = Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : typeof t === 'string' ? [t] : [];
  if (types.length === 0) return 'unknown';
  return [...new Set(types.map((x) => scalarType(x, schema, indent)))].join(' | ');
}

function propertyDoc(schema: PropertySchema): string[] {
  const lines: string[] = [];
  if (typeof schema.description === 'string') lines.push(schema.description);
  const constraints: string[] = [];
  // TypeScript has no integer type: said here, as the ingest checks it (1.5 is refused).
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes('integer')) constraints.push('an integer');
  if (typeof schema.format === 'string') constraints.push(`format ${schema.format}`);
  if (typeof schema.pattern === 'string') constraints.push(`pattern ${schema.pattern}`);
  for (const k of ['minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems'] as const) {
    if (typeof schema[k] === 'number') constraints.push(`${k} ${schema[k]}`);
  }
  if (constraints.length > 0) lines.push(`Checked at ingest: ${constraints.join(', ')}.`);
  return lines;
}

function objectType(properties: Record<string, PropertySchema>, required: string[], indent: string): string {
  const names = Object.keys(properties).sort();
  if (names.length === 0) return 'Record<string, never>';
  const inner = `${indent}  `;
  const body = names.map((n) => `${jsdoc(propertyDoc(properties[n]!), inner)}${inner}${key(n)}${required.includes(n) ? '' : '?'}: ${tsType(properties[n]!, inner)};\n`).join('');
  return `{\n${body}${indent}}`;
}

function eventsBlock(events: PlanEvent[], indent: string): string {
  const sorted = [...events].sort((a, b) => a.name.localeCompare(b.name));
  if (sorted.length === 0) return '{}';
  const inner = `${indent}  `;
  const body = sorted
    .map((e) => {
      const doc = [e.description, `Owner: ${e.owner}.`, ...(e.status === 'deprecated' ? ['@deprecated Deprecated in the tracking plan.'] : [])];
      return `${jsdoc(doc, inner)}${inner}${key(e.name)}: ${objectType(e.properties, e.required, inner)};\n`;
    })
    .join('');
  return `{\n${body}${indent}}`;
}

/** The generated module's text. */
export function codegen(plan: TrackingPlan): string {
  const byKind = (k: PlanEvent['kind']): PlanEvent[] => plan.events.filter((e) => e.kind === k);
  return [
    `// Generated by \`balise plan codegen\` from tracking plan "${plan.name}" ${plan.version}. Do not edit:`,
    '// change tracking-plan/ and run `balise plan codegen` again.',
    '/* eslint-disable */',
    '',
    `export const PLAN_VERSION = ${literal(plan.version)} as const;`,
    '',
    '/** The tracking plan as types: pass it to `createBalise<BalisePlan>()`. */',
    'export interface BalisePlan {',
    '  /** track(event, properties) */',
    `  events: ${eventsBlock(byKind('track'), '  ')};`,
    '  /** page(name, properties) */',
    `  pages: ${eventsBlock(byKind('page'), '  ')};`,
    '  /** screen(name, properties) */',
    `  screens: ${eventsBlock(byKind('screen'), '  ')};`,
    '  /** identify(userId, traits) */',
    `  traits: ${objectType(plan.traits.properties, plan.traits.required, '  ')};`,
    '}',
    '',
    "export type BaliseEventName = keyof BalisePlan['events'];",
    '',
  ].join('\n');
}
