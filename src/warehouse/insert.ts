import type { Warehouse } from './client.ts';

/**
 * Inserts already-serialised JSONEachRow lines in one INSERT. Rows are built once at ingest, so
 * they go to ClickHouse as bytes without being parsed and re-serialised here. A client may send a
 * lone UTF-16 surrogate (valid JSON, invalid Unicode): it is stored as sent rather than failing
 * the whole insert.
 */
export async function insertJsonLines(warehouse: Warehouse, table: string, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await warehouse.insertJsonEachRow(table, Buffer.from(lines.join('\n')), { input_format_json_throw_on_bad_escape_sequence: 0 });
}
