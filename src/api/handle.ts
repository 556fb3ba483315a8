import type { NextFunction, Request, Response } from 'express';
import { BaliseError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';

/** Wraps async handlers so a BaliseError becomes a 400 with its code, anything else a 500. */
export function handle(logger: Logger, fn: (req: Request, res: Response) => Promise<unknown>) {
  return (req: Request, res: Response, _next: NextFunction) => {
    fn(req, res).catch((error: unknown) => {
      if (error instanceof BaliseError) {
        const status = error.code.endsWith('not_found') ? 404 : 400;
        res.status(status).json({ code: error.code, message: error.message });
        return;
      }
      logger.error({ err: error }, 'admin API error');
      res.status(500).json({ code: 'internal_error', message: 'internal error' });
    });
  };
}
