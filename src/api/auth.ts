import type { NextFunction, Request, Response } from 'express';
import { constantTimeEquals } from '../util/constant-time.ts';

export const SESSION_COOKIE = 'balise_admin';

function bearerToken(header: string | undefined): string | undefined {
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

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
