/** The request log (`privacy_requests`, migration 023): what makes an erasure resumable. */
import { createHash, randomUUID } from 'node:crypto';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';
import { onClusterClause } from '../util/sql-quote.ts';

export type RequestKind = 'erase' | 'export';
/** resolved: ids and counts saved, deletes may be under way; done: verified, identifiers hashed. */
export type RequestState = 'resolved' | 'done';

export interface TableReport {
  /** Rows of the person in the table when the request was resolved. */
  found: number;
  /** Rows of the person left once the request finished (0 for a completed erasure); on a cluster, every replica's copy counts. */
  remaining: number;
}

export interface PrivacyRequest {
  requestId: string;
  kind: RequestKind;
  subject: string;
  state: RequestState;
  ids: string[];
  stepsDone: string[];
  report: Record<string, TableReport>;
  actor: string;
  requestedAt: number;
  version: number;
}

interface RequestRow {
  request_id: string;
  kind: RequestKind;
  subject: string;
  state: RequestState;
  ids: string[];
  steps_done: string[];
  report: string;
  actor: string;
  requested_at: number;
  version: string;
}

/** Identifiers leave the log hashed once a request is done. */
export const hashId = (id: string) => createHash('sha256').update(id).digest('hex');

export function newRequest(kind: RequestKind, subject: string, actor: string, now = Date.now()): PrivacyRequest {
  return { requestId: randomUUID(), kind, subject, state: 'resolved', ids: [], stepsDone: [], report: {}, actor, requestedAt: now, version: 0 };
}

/** Writes the next version of the request (the highest version wins at merge and under FINAL). */
export async function saveRequest(warehouse: Warehouse, request: PrivacyRequest): Promise<PrivacyRequest> {
  const next = { ...request, version: request.version + 1 };
  await warehouse.client.insert({
    table: 'privacy_requests',
    format: 'JSONEachRow',
    values: [
      {
        request_id: next.requestId,
        kind: next.kind,
        subject: next.subject,
        state: next.state,
        ids: next.ids,
        steps_done: next.stepsDone,
        report: JSON.stringify(next.report),
        actor: next.actor,
        requested_at: next.requestedAt,
        updated_at: Date.now(),
        version: next.version,
      },
    ],
  });
  return next;
}

const fromRow = (row: RequestRow): PrivacyRequest => ({
  requestId: row.request_id,
  kind: row.kind,
  subject: row.subject,
  state: row.state,
  ids: row.ids,
  stepsDone: row.steps_done,
  report: JSON.parse(row.report || '{}') as Record<string, TableReport>,
  actor: row.actor,
  requestedAt: Number(row.requested_at),
  version: Number(row.version),
});

const COLUMNS = 'request_id, kind, subject, state, ids, steps_done, report, actor, toUnixTimestamp64Milli(requested_at) AS requested_at, version';

/**
 * Removes the earlier versions of a request: until a merge folds them they still hold the
 * subject and ids in clear, which a finished request must no longer keep.
 */
export async function dropEarlierVersions(warehouse: Warehouse, request: PrivacyRequest): Promise<void> {
  if (!/^[0-9a-f-]{36}$/.test(request.requestId)) throw new Error('not a request id');
  await warehouse.client.command({
    query: `ALTER TABLE privacy_requests${onClusterClause(warehouse.cluster)} DELETE WHERE request_id = '${request.requestId}' AND version < ${Math.trunc(request.version)} SETTINGS mutations_sync = 2`,
  });
}

/** The unfinished erasure of this subject, if a run died before finishing it. */
export async function unfinishedErasure(warehouse: Warehouse, subject: string): Promise<PrivacyRequest | undefined> {
  const rows = await queryRows<RequestRow>(
    warehouse,
    `SELECT ${COLUMNS} FROM privacy_requests FINAL WHERE kind = 'erase' AND state != 'done' AND (subject = {subject:String} OR has(ids, {subject:String})) ORDER BY requested_at LIMIT 1`,
    { subject },
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** Every request, newest first (subjects of finished requests are hashes). */
export async function listRequests(warehouse: Warehouse, limit = 100): Promise<PrivacyRequest[]> {
  const rows = await queryRows<RequestRow>(warehouse, `SELECT ${COLUMNS} FROM privacy_requests FINAL ORDER BY requested_at DESC LIMIT {limit:UInt32}`, { limit });
  return rows.map(fromRow);
}
