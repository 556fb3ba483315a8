/** The data-subject endpoints (/api/admin/privacy/*): erase or export one person, and the request log. */
import type { Router } from 'express';
import { BaliseError } from '../errors.ts';
import { erasePerson } from '../privacy/erase.ts';
import { exportPerson } from '../privacy/export.ts';
import { listRequests } from '../privacy/requests.ts';
import { principalOf } from './auth.ts';
import { handle } from './handle.ts';
import type { AdminDependencies } from './router.ts';

function subjectOf(body: unknown): string {
  const id = (body as { id?: unknown } | undefined)?.id;
  if (typeof id !== 'string' || id.trim() === '' || id.length > 1000)
    throw new BaliseError('invalid_parameter', 'no id: give the userId, an anonymousId or an alias of the person (over HTTP, {"id": "…"} in the body)');
  return id;
}

/**
 * Only `true` or `false` (or nothing): an erasure cannot be undone, so a dry run asked for in
 * another way ("true", ?dryRun=, dry_run) is refused rather than read as a real erasure.
 */
function dryRunOf(req: { body?: unknown; query: Record<string, unknown> }): boolean {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const elsewhere = ['dry_run', 'dryrun', 'dry-run'].find((k) => k in body) ?? ['dryRun', 'dry_run', 'dryrun', 'dry-run'].find((k) => k in req.query);
  if (elsewhere) throw new BaliseError('invalid_parameter', `send the dry run in the JSON body as "dryRun": true, not as ${elsewhere in req.query ? `?${elsewhere}=` : `"${elsewhere}"`}`);
  const value = body.dryRun;
  if (value !== undefined && typeof value !== 'boolean') throw new BaliseError('invalid_parameter', `"dryRun" must be true or false (a JSON boolean), got ${JSON.stringify(value)}`);
  return value === true;
}

export function registerPrivacyRoutes(router: Router, deps: AdminDependencies): void {
  router.post(
    '/api/admin/privacy/erase',
    handle(deps.logger, async (req, res) => {
      const subject = subjectOf(req.body);
      const dryRun = dryRunOf(req);
      if (dryRun) res.locals.auditDetail = 'dry run';
      const report = await erasePerson({ warehouse: deps.warehouse, queue: deps.queue, redis: deps.redis, suppression: deps.suppression }, subject, { actor: principalOf(res)?.name ?? '', dryRun });
      if (report.requestId) res.locals.requestId = report.requestId;
      // The ids are the subject's own: logged as a count, never by value.
      deps.logger.info({ requestId: report.requestId, ids: report.ids.length, dryRun }, 'privacy erasure');
      res.json(report);
    }),
  );
  router.post(
    '/api/admin/privacy/export',
    handle(deps.logger, async (req, res) => {
      const data = await exportPerson({ warehouse: deps.warehouse, queue: deps.queue, redis: deps.redis }, subjectOf(req.body), principalOf(res)?.name ?? '');
      res.locals.requestId = data.requestId;
      res.json(data);
    }),
  );
  router.get(
    '/api/admin/privacy/requests',
    handle(deps.logger, async (_req, res) => {
      res.json({ requests: await listRequests(deps.warehouse) });
    }),
  );
}
