import type { NextFunction, Request, Response } from 'express';
import { BaliseError, sendError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';

/** Wraps async handlers: a BaliseError answers with its code's status (src/errors.ts), anything else 500 (logged). */
export function handle(logger: Logger, fn: (req: Request, res: Response) => Promise<unknown>) {
  return (req: Request, res: Response, _next: NextFunction) => {
    fn(req, res).catch((error: unknown) => {
      if (!(error instanceof BaliseError)) logger.error({ err: error }, 'admin API error');
      sendError(res, error);
    });
  };
}
