/**
 * The audit log (`audit_log`, migration 024): every admin action with who, in which role, when,
 * and its status, written once the response is sent. Request bodies are not recorded.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../observability/logger.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';
import type { Principal } from './access.ts';
import { principalOf } from './auth.ts';

export interface AuditEntry {
  at: number;
  actor: string;
  role: string;
  action: string;
  status: number;
  request_id: string;
}

export async function recordAudit(warehouse: Warehouse, principal: Principal, action: string, status: number, requestId = ''): Promise<void> {
  await warehouse.client.insert({
    table: 'audit_log',
    format: 'JSONEachRow',
    values: [{ at: Date.now(), actor: principal.name, role: principal.role, action: action.slice(0, 200), status, request_id: requestId }],
  });
}

/** Records each admin request once answered: "POST /api/admin/privacy/erase" and its status. */
export function auditAdminActions(warehouse: Warehouse, logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    res.on('finish', () => {
      const principal = principalOf(res);
      if (!principal) return;
      // The action reported by a client (POST /api/admin/audit) is recorded by its own handler;
      // reading the log (GET) is recorded like any admin request.
      const route = `${req.baseUrl}${req.path}`;
      if (req.method === 'POST' && route.toLowerCase() === '/api/admin/audit' && res.statusCode < 400) return;
      const requestId = typeof res.locals.requestId === 'string' ? res.locals.requestId : '';
      // What the route adds (an erasure that was a dry run), so the log tells it from the real one.
      const detail = typeof res.locals.auditDetail === 'string' ? ` (${res.locals.auditDetail})` : '';
      recordAudit(warehouse, principal, `${req.method} ${route}${detail}`, res.statusCode, requestId).catch((err: unknown) => logger.error({ err, action: route }, 'could not write the audit log'));
    });
    next();
  };
}

export function readAudit(warehouse: Warehouse, limit: number): Promise<AuditEntry[]> {
  return queryRows<AuditEntry>(warehouse, 'SELECT toUnixTimestamp64Milli(at) AS at, actor, role, action, status, request_id FROM audit_log ORDER BY at DESC LIMIT {limit:UInt32}', { limit });
}
