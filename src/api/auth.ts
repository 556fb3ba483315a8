import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { nameRoute } from '../observability/http-metrics.ts';
import { BaliseError, sendError } from '../errors.ts';
import { constantTimeEquals } from '../util/constant-time.ts';
import { mayCall, type Principal, type Role } from './access.ts';
import type { SessionStore } from './sessions.ts';

/** The dashboard's login cookie: a session id (src/api/sessions.ts), never a token. */
export const SESSION_COOKIE = 'balise_session';

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export interface Credentials {
  /** BALISE_ADMIN_TOKEN (or the generated one): the admin role, as before roles existed. */
  adminToken: string;
  /** BALISE_TOKENS: SHA-256 of each token → who it is. Only hashes are configured or kept. */
  tokens: ReadonlyMap<string, { name: string; role: Role }>;
  sessions?: SessionStore;
}

function bearerToken(header: string | undefined): string | undefined {
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

/** Who a token is: the admin token, or one of BALISE_TOKENS (looked up by hash). */
export function principalOfToken(token: string, credentials: Credentials): Principal | undefined {
  if (token === '') return undefined;
  if (constantTimeEquals(token, credentials.adminToken)) return { name: 'admin', role: 'admin' };
  return credentials.tokens.get(hashToken(token));
}

/** Who a token known by its hash is now: undefined once it is revoked or rotated. */
function principalOfTokenHash(tokenHash: string, credentials: Credentials): Principal | undefined {
  if (constantTimeEquals(tokenHash, hashToken(credentials.adminToken))) return { name: 'admin', role: 'admin' };
  return credentials.tokens.get(tokenHash);
}

/** The dashboard's session for this cookie, while the token that opened it is still configured (with the role it has now). */
async function sessionPrincipal(sessionId: string, credentials: Credentials): Promise<Principal | undefined> {
  const session = await credentials.sessions?.get(sessionId).catch(() => undefined);
  if (!session) return undefined;
  const principal = principalOfTokenHash(session.tokenHash, credentials);
  if (!principal) await credentials.sessions?.destroy(sessionId).catch(() => undefined);
  return principal;
}

/** Who is calling: `Authorization: Bearer <token>` (API clients, the CLI) or the login cookie (dashboard). */
export async function authenticate(req: Request, credentials: Credentials): Promise<Principal | undefined> {
  const bearer = bearerToken(req.headers.authorization);
  if (bearer !== undefined) return principalOfToken(bearer, credentials);
  const session = (req as Request & { cookies?: Record<string, string> }).cookies?.[SESSION_COOKIE];
  return session ? sessionPrincipal(session, credentials) : undefined;
}

export const principalOf = (res: Response): Principal | undefined => res.locals.principal as Principal | undefined;

/** The route label of a request refused by its credentials or its role, whichever route it asked for. */
export const REFUSED_ROUTE = '/api/* (refused: credentials or role)';

/** 401 without valid credentials, 403 when the role may not call this route (src/api/access.ts). */
export function authorize(credentials: Credentials) {
  return (req: Request, res: Response, next: NextFunction) => {
    authenticate(req, credentials).then(
      (principal) => {
        if (!principal) {
          // Refused before express matched a route: named so in /metrics, not "unmatched" (a 404).
          nameRoute(res, REFUSED_ROUTE);
          // A token that is sent but unknown (mistyped, rotated, revoked) is not "no token": say which.
          const sent = bearerToken(req.headers.authorization) !== undefined;
          sendError(
            res,
            new BaliseError(
              'unauthorized',
              sent ? 'the token sent is not valid: mistyped, or rotated or revoked (BALISE_ADMIN_TOKEN, BALISE_TOKENS)' : 'send a token as "Authorization: Bearer <token>" or log in',
            ),
          );
          return;
        }
        const path = `${req.baseUrl}${req.path}`;
        // Known before the role check: the audit log records a refused admin request with who asked.
        res.locals.principal = principal;
        if (!mayCall(principal.role, req.method, path)) {
          nameRoute(res, REFUSED_ROUTE);
          sendError(res, new BaliseError('forbidden', `the ${principal.role} role may not call ${req.method} ${path}`));
          return;
        }
        next();
      },
      (error: unknown) => next(error),
    );
  };
}
