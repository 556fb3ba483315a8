/**
 * Guards analyst SQL before it reaches ClickHouse. ClickHouse itself enforces read-only
 * (readonly=1 in the query's SETTINGS clause, scoped to that one query: a session-level SET
 * would make the embedded engine read-only for the ingest too). This module makes sure the
 * text is exactly one query that can be wrapped as a subquery, so nothing can escape the
 * wrapper that carries those settings.
 */
import { SqlRejectedError } from './errors.ts';

/**
 * Returns the statement without a trailing `;` or throws SqlRejectedError. Scans quotes and
 * comments so that `;` or parentheses inside strings are not mistaken for structure.
 */
export function checkSingleQuery(sql: string): string {
  let depth = 0;
  let end = sql.length;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i];
    if (ch === "'" || ch === '"' || ch === '`') {
      i = skipQuoted(sql, i, ch);
    } else if (ch === '-' && sql[i + 1] === '-') {
      throw new SqlRejectedError('comments are not accepted; remove "--" comments');
    } else if (ch === '/' && sql[i + 1] === '*') {
      throw new SqlRejectedError('comments are not accepted; remove "/* */" comments');
    } else if (ch === '(') {
      depth++;
    } else if (ch === ')') {
      depth--;
      if (depth < 0) throw new SqlRejectedError('unbalanced parentheses');
    } else if (ch === ';') {
      if (sql.slice(i + 1).trim() !== '') throw new SqlRejectedError('only one statement per request');
      end = i;
      break;
    }
  }
  if (depth !== 0) throw new SqlRejectedError('unbalanced parentheses');
  const statement = sql.slice(0, end).trim();
  if (statement === '') throw new SqlRejectedError('empty query');
  if (!/^(select|with)\b/i.test(statement)) throw new SqlRejectedError('only SELECT (or WITH ... SELECT) queries are accepted');
  // Settings are ours to set; letting the query name them would invite `readonly = 0` attempts.
  if (/\b(readonly|settings|format|into\s+outfile)\b/i.test(stripQuoted(statement))) {
    throw new SqlRejectedError('SETTINGS, FORMAT and INTO OUTFILE clauses are not accepted; limits and format are set by Balise');
  }
  return statement;
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
}

/** The statement wrapped with its read-only settings; maxRows + 1 rows tell truncation apart. */
export function wrapReadOnly(statement: string, limits: ReadOnlyLimits): string {
  const rows = Math.max(1, Math.floor(limits.maxRows));
  const seconds = Math.max(1, Math.floor(limits.maxSeconds));
  const memory = Math.floor(limits.maxMemoryBytes ?? 2_000_000_000);
  return [
    `SELECT * FROM (\n${statement}\n)`,
    `LIMIT ${rows + 1}`,
    `SETTINGS readonly = 1, max_execution_time = ${seconds}, max_result_rows = ${rows + 1}, result_overflow_mode = 'break', max_memory_usage = ${memory}`,
  ].join('\n');
}
