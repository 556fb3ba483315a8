/**
 * Exporting one person (a data-subject access request): the rows of every table that holds one
 * of their stitched ids, and their rows still queued in Redis, as JSON. Recorded in the request
 * log like an erasure (hashed: the log says an export happened, not of whom).
 */
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { QueuedJobData } from '../queue/jobs.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';
import { resolveIds } from './identity.ts';
import { waitForActiveJobs, queuedLinks, queuedRows } from './queued.ts';
import { hashId, newRequest, saveRequest } from './requests.ts';
import { personTables, readFrom, selectCondition, type PersonTable } from './tables.ts';

export interface PersonExport {
  requestId: string;
  subject: string;
  ids: string[];
  exportedAt: string;
  /** Rows per table, as stored; `redis_queue` holds rows accepted but not yet loaded. */
  tables: Record<string, Record<string, unknown>[]>;
}

/** Columns stored as JSON text: exported as the objects they hold. */
const JSON_COLUMNS = new Set(['properties', 'traits', 'context', 'violations', 'raw']);
/** Columns of instants, written by ClickHouse as "2026-12-05 04:07:40.421" (UTC) or queued as epoch ms. */
const TIME_COLUMNS = new Set(['timestamp', 'original_timestamp', 'sent_at', 'received_at', 'first_seen', 'replayed_at', 'linked_at', 'at', 'updated_at']);
const CLICKHOUSE_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/;

/** One row in the export's one shape, whichever table or queue it comes from: objects, and instants in ISO 8601 (UTC). */
export function exportedRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (JSON_COLUMNS.has(key) && typeof value === 'string' && /^[[{]/.test(value)) out[key] = JSON.parse(value) as unknown;
    else if (TIME_COLUMNS.has(key) && typeof value === 'string' && CLICKHOUSE_TIME.test(value)) out[key] = `${value.replace(' ', 'T')}Z`;
    else if (TIME_COLUMNS.has(key) && typeof value === 'number') out[key] = new Date(value).toISOString();
    else out[key] = value;
  }
  return out;
}

export async function exportPerson(deps: { warehouse: Warehouse; queue: Queue<QueuedJobData>; redis: Redis }, subject: string, actor: string): Promise<PersonExport> {
  const { warehouse } = deps;
  const ids = await resolveIds(warehouse, subject, await queuedLinks(deps.queue, deps.redis));
  // The rows of jobs being inserted right now are read from ClickHouse once they are there.
  await waitForActiveJobs(deps.queue);
  const tables: PersonExport['tables'] = {};
  const all = await personTables(warehouse);
  const messageIds = new Set<string>();
  // FINAL: a message stored twice (a client's resend) is one row, as every KPI counts it.
  const read = (table: PersonTable, values: string[]) =>
    queryRows<Record<string, unknown>>(warehouse, `SELECT * FROM ${readFrom(table.table, warehouse.cluster)}${table.replacing ? ' FINAL' : ''} WHERE ${selectCondition(table)}`, { values });
  for (const table of all.filter((t) => !t.byMessageId)) {
    const rows = await read(table, ids);
    tables[table.table] = rows.map(exportedRow);
    for (const row of rows) if (typeof row.message_id === 'string' && row.message_id) messageIds.add(row.message_id);
  }
  for (const table of all.filter((t) => t.byMessageId)) tables[table.table] = messageIds.size ? (await read(table, [...messageIds])).map(exportedRow) : [];
  const queued = await queuedRows(deps.queue, deps.redis, new Set(ids));
  tables.redis_queue = [...queued.events, ...queued.quarantine].map(exportedRow);
  const request = newRequest('export', hashId(subject), actor);
  const report = Object.fromEntries(Object.entries(tables).map(([name, rows]) => [name, { found: rows.length, remaining: rows.length }]));
  await saveRequest(warehouse, { ...request, state: 'done', ids: ids.map(hashId), report });
  return { requestId: request.requestId, subject, ids, exportedAt: new Date().toISOString(), tables };
}
