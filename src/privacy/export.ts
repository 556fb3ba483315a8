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
import { queuedRows } from './queued.ts';
import { hashId, newRequest, saveRequest } from './requests.ts';
import { personTables, readFrom, selectCondition } from './tables.ts';

export interface PersonExport {
  requestId: string;
  subject: string;
  ids: string[];
  exportedAt: string;
  /** Rows per table, as stored; `redis_queue` holds rows accepted but not yet loaded. */
  tables: Record<string, Record<string, unknown>[]>;
}

export async function exportPerson(deps: { warehouse: Warehouse; queue: Queue<QueuedJobData>; redis: Redis }, subject: string, actor: string): Promise<PersonExport> {
  const { warehouse } = deps;
  const ids = await resolveIds(warehouse, subject);
  const tables: PersonExport['tables'] = {};
  const all = await personTables(warehouse);
  const messageIds = new Set<string>();
  for (const table of all.filter((t) => !t.byMessageId)) {
    const rows = await queryRows<Record<string, unknown>>(warehouse, `SELECT * FROM ${readFrom(table.table, warehouse.cluster)} WHERE ${selectCondition(table)}`, { values: ids });
    tables[table.table] = rows;
    for (const row of rows) if (typeof row.message_id === 'string' && row.message_id) messageIds.add(row.message_id);
  }
  for (const table of all.filter((t) => t.byMessageId)) {
    tables[table.table] = messageIds.size
      ? await queryRows<Record<string, unknown>>(warehouse, `SELECT * FROM ${readFrom(table.table, warehouse.cluster)} WHERE ${selectCondition(table)}`, { values: [...messageIds] })
      : [];
  }
  const queued = await queuedRows(deps.queue, deps.redis, new Set(ids));
  tables.redis_queue = [...queued.events, ...queued.quarantine];
  const request = newRequest('export', hashId(subject), actor);
  const report = Object.fromEntries(Object.entries(tables).map(([name, rows]) => [name, { found: rows.length, remaining: rows.length }]));
  await saveRequest(warehouse, { ...request, state: 'done', ids: ids.map(hashId), report });
  return { requestId: request.requestId, subject, ids, exportedAt: new Date().toISOString(), tables };
}
