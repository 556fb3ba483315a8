/**
 * The final count of an import, asked of the server once its worker has loaded everything:
 * rows of this run in `events` (stored) and in `quarantine`, found by the run id stamped into
 * each message's context. Duplicates are what the server accepted but did not store because
 * the messageId was already there (earlier in the archive, live traffic, a previous import, or a
 * batch re-sent after a crash): accepted − stored. Counting in ClickHouse, after the load, is the
 * only place where "stored" is a fact rather than an estimate: the ingest answers before the
 * worker's dedupe runs, and a duplicate may still be in flight when it answers.
 */
import { BaliseError, RemoteError } from '../errors.ts';
import type { Checkpoint } from './checkpoint.ts';

export interface ImportCounts {
  stored: number;
  quarantined: number;
  duplicates: number;
}

export interface AdminApi {
  baseUrl: string;
  adminToken: string;
}

async function call<T>(api: AdminApi, method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${api.baseUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${api.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = (await response.json().catch(() => ({}))) as T & { code?: string; message?: string };
  if (!response.ok) throw new RemoteError(payload.code ?? `http_${response.status}`, payload.message ?? `HTTP ${response.status}`);
  return payload;
}

/** Waits until the server's queue holds no job (waiting, active or delayed); false on timeout. */
export async function waitForLoad(api: AdminApi, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = await call<{ queue: Record<string, number> }>(api, 'GET', '/api/health/pipeline');
    const q = health.queue;
    if ((q.waiting ?? 0) + (q.active ?? 0) + (q.delayed ?? 0) + (q.prioritized ?? 0) === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function countImported(api: AdminApi, checkpoint: Checkpoint): Promise<ImportCounts> {
  // The run id is ours (hex), checked again before it is written into SQL.
  if (!/^[0-9a-f]{16}$/.test(checkpoint.run)) throw new BaliseError('import_checkpoint_invalid', 'the checkpoint run id is not 16 hex digits');
  const query = `SELECT
  (SELECT uniqExact(message_id) FROM events WHERE JSONExtractString(context, 'import', 'run') = '${checkpoint.run}') AS stored,
  (SELECT count() FROM quarantine FINAL WHERE position(raw, '"run":"${checkpoint.run}"') > 0) AS quarantined`;
  const result = await call<{ rows: unknown[][] }>(api, 'POST', '/api/sql', { query });
  const [stored, quarantined] = (result.rows[0] ?? []).map(Number) as [number, number];
  return { stored, quarantined, duplicates: Math.max(0, checkpoint.totals.accepted - stored) };
}
