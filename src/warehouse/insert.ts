import type { Warehouse } from './client.ts';

const NEWLINE = Buffer.from('\n');

/** JSONEachRow lines as the bytes of one payload. */
export function jsonLinesBytes(lines: readonly string[]): Buffer {
  return Buffer.from(lines.join('\n'));
}

/**
 * Inserts already-serialised JSON rows in one INSERT: JSONCompactEachRow arrays in the order of
 * `columns` when given (ingest's `events` lines), else JSONEachRow objects. Rows are built once at ingest, so
 * they go to ClickHouse as bytes without being parsed and re-serialised here; `chunks` are
 * payloads of whole lines, which lets callers encode them ahead of time. A client may send a
 * lone UTF-16 surrogate (valid JSON, invalid Unicode): it is stored as sent rather than failing
 * the whole insert. A JSON object where a String column is expected is stored as its text
 * (ingest rows carry properties, traits and context that way: see rows.ts, eventRowLine).
 */
export async function insertJsonChunks(warehouse: Warehouse, table: string, chunks: readonly Buffer[], columns?: readonly string[]): Promise<void> {
  const nonEmpty = chunks.filter((chunk) => chunk.length > 0);
  if (nonEmpty.length === 0) return;
  const body = nonEmpty.length === 1 ? nonEmpty[0]! : Buffer.concat(nonEmpty.flatMap((chunk, i) => (i === 0 ? [chunk] : [NEWLINE, chunk])));
  await warehouse.insertJsonRows(table, body, { input_format_json_throw_on_bad_escape_sequence: 0, input_format_json_read_objects_as_strings: 1 }, columns);
}

export function insertJsonLines(warehouse: Warehouse, table: string, lines: readonly string[], columns?: readonly string[]): Promise<void> {
  return insertJsonChunks(warehouse, table, [jsonLinesBytes(lines)], columns);
}
