/**
 * Guards analyst SQL before it reaches ClickHouse. ClickHouse itself enforces read-only
 * (readonly in the query's SETTINGS clause, scoped to that one query: a session-level SET
 * would make the embedded engine read-only for the ingest too). This module makes sure the
 * text is exactly one query that can be wrapped as a subquery, so nothing can escape the
 * wrapper that carries those settings.
 *
 * Accepted: SELECT / WITH … SELECT (UNION, INTERSECT, EXCEPT, parenthesised), EXPLAIN of those,
 * DESCRIBE t and SHOW TABLES / DATABASES / CREATE TABLE t / COLUMNS FROM t (rewritten to the
 * equivalent SELECT over system tables: the engine cannot wrap them as subqueries). Comments
 * are removed before wrapping, so a trailing `--` cannot comment out the wrapper. Refused:
 * several statements, writes, and the SETTINGS, FORMAT and INTO OUTFILE clauses; words that
 * merely contain or equal those names (a column `format`, `formatDateTime()`,
 * `JSONExtractString(properties, 'format')`) are fine.
 */
import { SqlRejectedError } from './errors.ts';

/**
 * Returns the statement to run (comments removed, trailing `;` dropped, DESCRIBE/SHOW
 * rewritten) or throws SqlRejectedError. Scans quotes and comments so that `;`, `--` or
 * parentheses inside strings are not mistaken for structure.
 */
export function checkSingleQuery(sql: string): string {
  let depth = 0;
  let text = '';
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i] as string;
    if (ch === "'" || ch === '"' || ch === '`') {
      const end = skipQuoted(sql, i, ch);
      text += sql.slice(i, end + 1);
      i = end;
    } else if (ch === '-' && sql[i + 1] === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol === -1 ? sql.length : eol;
      text += ' ';
    } else if (ch === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close === -1) throw new SqlRejectedError('unterminated /* comment');
      i = close + 1;
      text += ' ';
    } else if (ch === ';') {
      if (!onlyCommentsLeft(sql.slice(i + 1))) throw new SqlRejectedError('only one statement per request');
      break;
    } else {
      if (ch === '(') depth++;
      if (ch === ')' && --depth < 0) throw new SqlRejectedError('unbalanced parentheses');
      text += ch;
    }
  }
  if (depth !== 0) throw new SqlRejectedError('unbalanced parentheses');
  const statement = text.trim();
  if (statement === '') throw new SqlRejectedError('empty query');
  const rewritten = rewriteMetaQuery(statement);
  if (rewritten !== undefined) return rewritten;
  if (!/^(select|with|explain)\b|^\(/i.test(statement)) throw new SqlRejectedError('only SELECT (or WITH … SELECT, EXPLAIN, DESCRIBE, SHOW) queries are accepted');
  if (/^explain\b/i.test(statement) && !/^explain(\s+(ast|syntax|plan|pipeline|estimate|query\s+tree))?\s+(select|with)\b|^explain(\s+\w+)?\s*\(/i.test(statement)) {
    throw new SqlRejectedError('EXPLAIN is accepted for SELECT queries only');
  }
  const bare = stripQuoted(statement);
  // Settings are ours to set; letting the query name them would invite `readonly = 0` attempts.
  if (/\bsettings\s+[A-Za-z_]\w*\s*=/i.test(bare) || /\binto\s+outfile\b/i.test(bare) || FORMAT_CLAUSE.test(bare)) {
    throw new SqlRejectedError('SETTINGS, FORMAT and INTO OUTFILE clauses are not accepted; limits and format are set by Balise');
  }
  return statement;
}

/** Whether only whitespace and comments follow the first `;`. */
const onlyCommentsLeft = (tail: string): boolean =>
  tail
    .replace(/--[^\n]*/g, '')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .trim() === '';

/**
 * `FORMAT Name` as a clause: the keyword followed by a format name. `format(…)`, a column or
 * alias named format (followed by a comma, FROM, AS, …) is no clause.
 */
const FORMAT_CLAUSE =
  /(?<![.\w])format\s+(?!(?:from|where|group|order|limit|union|having|settings|as|and|or|on|join|inner|left|right|full|cross|array|prewhere|window|qualify|offset|intersect|except|desc|asc|by|is|not|in|like|between|then|else|end|when)\b)[A-Za-z_]\w*\s*$/i;

const NAME = '([A-Za-z_]\\w*(?:\\.[A-Za-z_]\\w*)?)';

/** `db.table` or `table` as the two halves a system-table filter needs. */
function tableFilter(name: string, tableColumn: string): string {
  const [db, table] = name.includes('.') ? name.split('.') : [undefined, name];
  return `database = ${db === undefined ? 'currentDatabase()' : `'${db}'`} AND ${tableColumn} = '${table}'`;
}

/** DESCRIBE and SHOW as the SELECT over system tables that answers the same. */
function rewriteMetaQuery(statement: string): string | undefined {
  const describe = new RegExp(`^(?:describe|desc)\\s+(?:table\\s+)?${NAME}$`, 'i').exec(statement) ?? new RegExp(`^show\\s+columns\\s+(?:from|in)\\s+${NAME}$`, 'i').exec(statement);
  if (describe) return `SELECT name, type, default_kind AS default_type, default_expression, comment FROM system.columns WHERE ${tableFilter(describe[1] as string, 'table')} ORDER BY position`;
  if (/^show\s+tables$/i.test(statement)) return `SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name`;
  if (/^show\s+databases$/i.test(statement)) return `SELECT name FROM system.databases ORDER BY name`;
  const create = new RegExp(`^show\\s+create\\s+(?:table\\s+)?${NAME}$`, 'i').exec(statement);
  if (create) return `SELECT create_table_query AS statement FROM system.tables WHERE ${tableFilter(create[1] as string, 'name')}`;
  if (/^(show|describe|desc)\b/i.test(statement)) throw new SqlRejectedError('accepted: DESCRIBE t, SHOW TABLES, SHOW DATABASES, SHOW CREATE TABLE t, SHOW COLUMNS FROM t');
  return undefined;
}

function skipQuoted(sql: string, start: number, quote: string): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (sql[i] === '\\') {
      i++;
    } else if (sql[i] === quote) {
      if (sql[i + 1] === quote) i++;
      else return i;
    }
  }
  throw new SqlRejectedError('unterminated quoted string');
}

function stripQuoted(sql: string): string {
  let out = '';
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i] as string;
    if (ch === "'" || ch === '"' || ch === '`') {
      i = skipQuoted(sql, i, ch);
      out += ' ';
    } else out += ch;
  }
  return out;
}

export interface ReadOnlyLimits {
  maxRows: number;
  maxSeconds: number;
  maxMemoryBytes?: number;
  /** Hide ADMIN_ONLY_TABLES (an analyst's SQL; an admin reads them through /api/admin/audit too). */
  hideAdminTables?: boolean;
}

/** Who did what as admin, and who asked to be erased (hashed): admin only, in SQL too. */
export const ADMIN_ONLY_TABLES = ['audit_log', 'privacy_requests'] as const;

/** An admin-only table's name as an identifier (quoted or not, its cluster `_local` table too). */
const ADMIN_TABLE_NAME = new RegExp(`(?<![\\w$])(${ADMIN_ONLY_TABLES.join('|')})(_local)?(?![\\w$])`, 'i');

/** Table functions that read tables named in strings or patterns, past any name check. */
const TABLE_PATTERN_FUNCTIONS = /\b(merge|cluster|clusterAllReplicas)\s*\(/i;

/**
 * Refuses a statement that names an admin-only table (an identifier, quoted or not) or reads
 * tables by pattern. wrapReadOnly's additional_table_filters empties them too, whatever the path.
 */
export function checkNoAdminTables(statement: string): void {
  const unquotedAndIdentifiers = statement.replace(/'(?:[^'\\]|\\.|'')*'/g, "''");
  if (ADMIN_TABLE_NAME.test(unquotedAndIdentifiers)) throw new SqlRejectedError(`${ADMIN_ONLY_TABLES.join(' and ')} are for admins only (GET /api/admin/audit)`);
  if (TABLE_PATTERN_FUNCTIONS.test(stripQuoted(statement))) throw new SqlRejectedError('table functions that read tables by name pattern (merge, cluster) are not accepted');
}

/**
 * The statement wrapped with its read-only settings; maxRows + 1 rows tell truncation apart.
 * EXPLAIN as a subquery sets settings of its own, which readonly = 1 forbids: it gets
 * readonly = 2 (settings may change, `readonly` itself and every write may not; the guard has
 * already refused a SETTINGS clause in the text).
 */
export function wrapReadOnly(statement: string, limits: ReadOnlyLimits): string {
  const rows = Math.max(1, Math.floor(limits.maxRows));
  const seconds = Math.max(1, Math.floor(limits.maxSeconds));
  const memory = Math.floor(limits.maxMemoryBytes ?? 2_000_000_000);
  const readonly = /^explain\b/i.test(statement) ? 2 : 1;
  const hidden = limits.hideAdminTables ? ADMIN_ONLY_TABLES.flatMap((t) => [t, `${t}_local`]).map((t) => `'${t}': '0'`) : [];
  return [
    `${WRAP_PREFIX}${statement}\n)`,
    `LIMIT ${rows + 1}`,
    // 64-bit integers as JSON strings: a JSON number past 2^53 reads back rounded (sqlResultValue).
    `SETTINGS readonly = ${readonly}, max_execution_time = ${seconds}, max_result_rows = ${rows + 1}, result_overflow_mode = 'break', max_memory_usage = ${memory}, output_format_json_quote_64bit_integers = 1${hidden.length ? `, additional_table_filters = {${hidden.join(', ')}}` : ''}`,
  ].join('\n');
}

/** What wrapReadOnly writes before the analyst's statement. */
const WRAP_PREFIX = 'SELECT * FROM (\n';

/**
 * A syntax error told in the analyst's own statement: the engine counts its position in the
 * wrapped query and quotes the wrapper's text after it (`LIMIT`, `SETTINGS readonly`).
 */
export function statementSyntaxError(message: string, statement: string): string {
  const failed = /^Syntax error: failed at position (\d+)/.exec(message);
  if (!failed) return message;
  const expected = /\bExpected [\s\S]*$/.exec(message)?.[0].replace(/\s+/g, ' ').trim();
  const offset = Number(failed[1]) - WRAP_PREFIX.length;
  const tail = expected ? ` ${expected}` : '';
  if (offset < 1 || offset > statement.length) return `Syntax error at the end of the query.${tail}`;
  const before = statement.slice(0, offset - 1).split('\n');
  const excerpt = statement.slice(offset - 1, offset + 29).split('\n')[0];
  return `Syntax error at position ${offset} (line ${before.length}, col ${before.at(-1)!.length + 1}): ${excerpt}.${tail}`;
}

/** Types whose values wrapReadOnly has the engine quote: a number again when it is exact as one. */
const WIDE_INTEGER = /^(?:Nullable\(|LowCardinality\()*U?Int(?:64|128|256)\)*$/;
const ARRAY_OF_WIDE_INTEGERS = /^Array\((?:Nullable\()?U?Int(?:64|128|256)\)?\)$/;

/** A quoted integer as a number when exact as one, else as it is. */
const exact = (v: unknown): unknown => (typeof v === 'string' && /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : v);

/**
 * A result value read back from JSON: a quoted 64-bit (or wider) integer, at the top of the
 * column or in an array of them, is a number when that is exact (counts, sums) and stays a string
 * past 2^53, so no digit is lost. Other values are as the engine wrote them.
 */
export function sqlResultValue(value: unknown, type: string): unknown {
  if (WIDE_INTEGER.test(type)) return exact(value);
  if (ARRAY_OF_WIDE_INTEGERS.test(type) && Array.isArray(value)) return value.map(exact);
  return value;
}
