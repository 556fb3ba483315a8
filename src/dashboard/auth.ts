import type { NextFunction, Request, Response } from 'express';
import { bearerToken, constantTimeEquals } from '../ingest/auth.ts';

export const SESSION_COOKIE = 'balise_admin';

/** The admin token, from `Authorization: Bearer …` (API clients) or the login cookie (dashboard). */
export function presentedAdminToken(req: Request): string | undefined {
  const cookies = (req as Request & { cookies?: Record<string, string> }).cookies;
  return bearerToken(req.headers.authorization) ?? cookies?.[SESSION_COOKIE];
}

export function isAdmin(req: Request, adminToken: string): boolean {
  const presented = presentedAdminToken(req);
  return presented !== undefined && constantTimeEquals(presented, adminToken);
}

export function requireAdmin(adminToken: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (isAdmin(req, adminToken)) return next();
    res.status(401).json({ code: 'unauthorized', message: 'send the admin token as "Authorization: Bearer <token>" or log in' });
  };
}
