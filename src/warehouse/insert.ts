import type { Warehouse } from './client.ts';

const NEWLINE = Buffer.from('\n');

/** JSON lines as the text of one payload: joined by newlines. */
export function jsonLinesText(lines: readonly string[]): string {
  return lines.join('\n');
}

/** JSONEachRow lines as the bytes of one payload. */
export function jsonLinesBytes(lines: readonly string[]): Buffer {
  return Buffer.from(jsonLinesText(lines));
}

/** Payloads of whole JSON lines as the parts of one, a newline between two: nothing is copied. */
function withNewlines(parts: readonly Buffer[]): Buffer[] {
  return parts.flatMap((part, i) => (i === 0 ? [part] : [NEWLINE, part]));
}

/** Payloads of whole JSON lines as one: joined by newlines. */
export function joinLines(parts: readonly Buffer[]): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(withNewlines(parts));
}

/** The lines of a payload of JSON lines, as views of its bytes (a JSON line holds no raw newline). */
export function payloadLines(payload: Buffer): Buffer[] {
  if (payload.length === 0) return [];
  const lines: Buffer[] = [];
  let start = 0;
  for (let end = payload.indexOf(0x0a); end !== -1; end = payload.indexOf(0x0a, start)) {
    lines.push(payload.subarray(start, end));
    start = end + 1;
  }
  lines.push(payload.subarray(start));
  return lines;
}

/**
 * Inserts already-serialised JSON rows in one INSERT: JSONCompactEachRow arrays in the order of
 * `columns` when given (ingest's `events` lines), else JSONEachRow objects. Rows are built once at ingest, so
 * they go to ClickHouse as bytes without being parsed and re-serialised here; `chunks` are
 * payloads of whole lines, which lets callers encode them ahead of time. Rows encode a lone
 * UTF-16 surrogate as U+FFFD (rows.ts, wellFormedStringify); a line queued by an older API may still
 * hold one as an escape, and it is stored as sent rather than failing the whole insert. A JSON
 * object where a String column is expected is stored as its text (ingest rows carry
 * properties, traits and context that way: see rows.ts, eventRowLine).
 * `optimize_on_insert = 0`: the engine does not fold an insert's own duplicates as it writes
 * (8–15% of an insert's CPU here); readers fold them as they fold copies across inserts, with
 * FINAL (decision 0011), so nothing they see changes. `input_format_parallel_parsing = 0`: on
 * a box whose cores the API already keeps busy, the parser's extra threads cost more CPU than
 * they save time (decision 0046).
 */
export async function insertJsonChunks(warehouse: Warehouse, table: string, chunks: readonly Buffer[], columns?: readonly string[]): Promise<void> {
  const nonEmpty = chunks.filter((chunk) => chunk.length > 0);
  if (nonEmpty.length === 0) return;
  // In parts: the engine's spool file is written from them, without a copy of the whole batch.
  const body = nonEmpty.length === 1 ? nonEmpty[0]! : withNewlines(nonEmpty);
  await warehouse.insertJsonRows(
    table,
    body,
    { input_format_json_throw_on_bad_escape_sequence: 0, input_format_json_read_objects_as_strings: 1, optimize_on_insert: 0, input_format_parallel_parsing: 0 },
    columns,
  );
}

export function insertJsonLines(warehouse: Warehouse, table: string, lines: readonly string[], columns?: readonly string[]): Promise<void> {
  return insertJsonChunks(warehouse, table, [jsonLinesBytes(lines)], columns);
}
