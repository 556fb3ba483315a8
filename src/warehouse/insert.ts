import { Readable } from 'node:stream';
import type { Warehouse } from './client.ts';

/**
 * Inserts already-serialised JSONEachRow lines in one INSERT. Rows are built once at ingest, so
 * they go to ClickHouse as bytes without being parsed and re-serialised here.
 */
export async function insertJsonLines(warehouse: Warehouse, table: string, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  const result = await warehouse.client.exec({
    query: `INSERT INTO ${table} FORMAT JSONEachRow`,
    values: Readable.from([Buffer.from(lines.join('\n'))]),
  });
  // Drain the (empty) response so an HTTP connection goes back to the pool.
  for await (const _chunk of result.stream) void _chunk;
}
