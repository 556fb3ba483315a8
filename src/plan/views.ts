/**
 * Per-event typed SQL views over `events`, so analysts never write JSON extraction by hand.
 * Pure: returns SQL text. Identifiers come from the plan, where lint enforces snake_case; they
 * are still backtick-quoted, and JSON keys are passed as escaped string literals.
 */
import { onClusterClause, quoteIdentifier, quoteString } from '../util/sql-quote.ts';
import type { PlanEvent, PropertySchema, TrackingPlan } from './model.ts';
import { isPlainObject } from '../util/objects.ts';

/** Columns every view carries, taken as is from `events`. */
export const COMMON_COLUMNS = ['message_id', 'timestamp', 'user_id', 'anonymous_id', 'source', 'plan_version', 'plan_status'] as const;
export const RESERVED_COLUMNS: readonly string[] = COMMON_COLUMNS;

export interface ViewDefinition {
  name: string;
  event: string;
  kind: PlanEvent['kind'];
  /** Column name → ClickHouse type, for documentation and tests. */
  columns: Array<{ name: string; type: string }>;
  sql: string;
}

const ident = quoteIdentifier;
const literal = quoteString;

export function viewName(event: Pick<PlanEvent, 'kind' | 'name'>): string {
  return event.kind === 'track' ? `ev_${event.name}` : `ev_${event.kind}_${event.name}`;
}

function primaryType(schema: PropertySchema): string | undefined {
  const t = schema.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return t.find((x): x is string => typeof x === 'string' && x !== 'null');
  if (Array.isArray(schema.enum)) {
    const first = schema.enum[0];
    return typeof first === 'number' ? 'number' : typeof first === 'boolean' ? 'boolean' : 'string';
  }
  return undefined;
}

/**
 * The typed extraction expression and its ClickHouse type for one property. A property that is
 * absent is NULL, not '' (strings, objects, untyped) or 0: "not sent" and "sent empty" stay
 * apart. That holds for required properties too: rows written before a property became required
 * (or quarantined ones replayed) lack it. Numbers, booleans and dates are Nullable whatever;
 * arrays are empty (ClickHouse has no Nullable(Array)).
 */
export function columnFor(name: string, schema: PropertySchema): { expr: string; type: string } {
  const column = textColumnFor(name, schema);
  if (column.type !== 'String') return column;
  return { expr: `if(JSONHas(properties, ${literal(name)}), ${column.expr}, NULL)`, type: 'Nullable(String)' };
}

function textColumnFor(name: string, schema: PropertySchema): { expr: string; type: string } {
  const key = literal(name);
  const type = primaryType(schema);
  switch (type) {
    case 'integer':
      return { expr: `JSONExtract(properties, ${key}, 'Nullable(Int64)')`, type: 'Nullable(Int64)' };
    case 'number':
      return { expr: `JSONExtract(properties, ${key}, 'Nullable(Float64)')`, type: 'Nullable(Float64)' };
    case 'boolean':
      return { expr: `JSONExtract(properties, ${key}, 'Nullable(Bool)')`, type: 'Nullable(Bool)' };
    case 'array': {
      const items = isPlainObject(schema.items) ? primaryType(schema.items) : undefined;
      const inner = items === 'integer' ? 'Int64' : items === 'number' ? 'Float64' : items === 'boolean' ? 'Bool' : 'String';
      return { expr: `JSONExtract(properties, ${key}, 'Array(${inner})')`, type: `Array(${inner})` };
    }
    case 'object':
      return { expr: `JSONExtractRaw(properties, ${key})`, type: 'String' };
    case 'string':
      if (schema.format === 'date') return { expr: `toDate32OrNull(JSONExtractString(properties, ${key}))`, type: 'Nullable(Date32)' };
      if (schema.format === 'date-time') {
        return { expr: `parseDateTime64BestEffortOrNull(JSONExtractString(properties, ${key}), 3, 'UTC')`, type: "Nullable(DateTime64(3, 'UTC'))" };
      }
      return { expr: `JSONExtractString(properties, ${key})`, type: 'String' };
    default:
      // No usable type: keep the raw JSON so nothing is lost.
      return { expr: `JSONExtractRaw(properties, ${key})`, type: 'String' };
  }
}

export function viewFor(event: PlanEvent, options: { cluster?: string } = {}): ViewDefinition {
  const name = viewName(event);
  const columns: ViewDefinition['columns'] = [];
  const select: string[] = [];
  for (const c of COMMON_COLUMNS) {
    select.push(`    ${ident(c)}`);
  }
  columns.push(
    { name: 'message_id', type: 'String' },
    { name: 'timestamp', type: "DateTime64(3, 'UTC')" },
    { name: 'user_id', type: 'String' },
    { name: 'anonymous_id', type: 'String' },
    { name: 'source', type: 'LowCardinality(String)' },
    { name: 'plan_version', type: 'LowCardinality(String)' },
    { name: 'plan_status', type: 'LowCardinality(String)' },
  );
  for (const prop of Object.keys(event.properties).sort()) {
    const { expr, type } = columnFor(prop, event.properties[prop]!);
    const column = RESERVED_COLUMNS.includes(prop) ? `prop_${prop}` : prop;
    select.push(`    CAST(${expr}, ${literal(type)}) AS ${ident(column)}`);
    columns.push({ name: column, type });
  }
  const onCluster = onClusterClause(options.cluster);
  const sql = [
    `CREATE OR REPLACE VIEW ${ident(name)}${onCluster} AS`,
    'SELECT',
    select.join(',\n'),
    // FINAL: a resend that reached the table (after the dedupe window) is one row here too;
    // LIMIT 1 BY folds any copy FINAL cannot (the same message_id under another key).
    'FROM events FINAL',
    `WHERE type = ${literal(event.kind)} AND event = ${literal(event.name)}`,
    'LIMIT 1 BY message_id',
  ].join('\n');
  return { name, event: event.name, kind: event.kind, columns, sql };
}

/** One view per planned event (deprecated ones included: their history is still queried). */
export function views(plan: TrackingPlan, options: { cluster?: string } = {}): ViewDefinition[] {
  return [...plan.events].sort((a, b) => viewName(a).localeCompare(viewName(b))).map((e) => viewFor(e, options));
}

/** All views as one SQL script, statements separated by `;`. */
export function viewsSql(plan: TrackingPlan, options: { cluster?: string } = {}): string {
  return `-- Typed views generated from tracking plan ${plan.name} ${plan.version} by \`balise plan views\`.\n${views(plan, options)
    .map((v) => `${v.sql};\n`)
    .join('\n')}`;
}
