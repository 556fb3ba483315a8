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
  if (typeof id !== 'string' || id.trim() === '' || id.length > 1000) throw new BaliseError('invalid_parameter', 'send {"id": "<userId, anonymousId or alias>"}');
  return id;
}

export function registerPrivacyRoutes(router: Router, deps: AdminDependencies): void {
  router.post(
    '/api/admin/privacy/erase',
    handle(deps.logger, async (req, res) => {
      const subject = subjectOf(req.body);
      const dryRun = (req.body as { dryRun?: unknown }).dryRun === true;
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
