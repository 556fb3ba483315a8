import path from 'node:path';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import cookieParser from 'cookie-parser';
import { authenticate, hashToken, principalOfToken, SESSION_COOKIE, type Credentials } from '../api/auth.ts';
import { seesPersons } from '../api/access.ts';
import { forwardedValue } from '../util/forwarded.ts';
import type { SessionStore } from '../api/sessions.ts';
import { DASHBOARD_BUNDLE, ensureDashboardBuilt, LIVE_BUNDLE } from './bundle.ts';
import { loginFor, safeNext } from './next.ts';
import { appPage, livePage, loginPage } from './pages.ts';

export { ensureDashboardBuilt } from './bundle.ts';

const PUBLIC_DIR = path.join(import.meta.dirname, 'public');
import { SESSION_TTL_SECONDS } from '../api/sessions.ts';

const SESSION_MS = SESSION_TTL_SECONDS * 1000;

/**
 * Lax, not Strict: a dashboard link opened from another site (Slack, webmail) is a top-level GET,
 * and must find the user signed in. Lax still withholds the cookie from cross-site POSTs, fetches
 * and frames, and every route that changes state (login, logout, /api/admin/*, Explore's queries)
 * is a POST; the GET routes only read. So nothing relied on Strict against CSRF.
 */
const SAME_SITE = 'lax';

/** No inline script or style anywhere: everything the page runs comes from /dashboard/app.js. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  next();
}

function sendHtml(res: Response, html: string, status = 200): void {
  res.status(status).setHeader('Cache-Control', 'no-store').type('html').send(html);
}

/**
 * The built-in dashboard: GET / (the app, logged-in only), GET/POST /login, POST /logout and the
 * static assets under /dashboard/. The data comes from the admin API (/api/*), which accepts the
 * same cookie. Mount it after the admin router.
 */
/**
 * Whether the browser reached the dashboard over https: directly, or through a TLS proxy that
 * says so (X-Forwarded-Proto), so the session cookie is Secure behind one too.
 */
const viaHttps = (req: Request): boolean => req.secure || forwardedValue(req.headers['x-forwarded-proto']).toLowerCase() === 'https';

export function createDashboardRouter(opts: {
  credentials: Credentials & { sessions: SessionStore };
  timeZone?: () => string;
  /** BALISE_KPIS_WRITABLE: Explore offers admins to save a definition into the plan's kpis/. */
  kpisWritable?: boolean;
}): Router {
  const router = express.Router();
  // Any role may read the dashboard; the API behind it says what each role may do.
  const loggedIn = async (req: Request) => (await authenticate(req, opts.credentials)) !== undefined;
  // Middleware per route, so requests for other routers (/api, /v1) pass through untouched.
  const parseCookies = cookieParser();
  const page: RequestHandler = (req, res, next) => parseCookies(req, res, (error?: unknown) => (error ? next(error) : securityHeaders(req, res, next)));

  for (const [route, name] of [
    ['/', 'overview'],
    ['/explore', 'explore'],
    ['/people', 'people'],
  ] as const) {
    router.get(route, page, async (req, res) => {
      const principal = await authenticate(req, opts.credentials);
      if (!principal) return res.redirect(302, loginFor(req.originalUrl));
      // The save button only for those the API lets save (admins), and only where it may write.
      sendHtml(res, appPage(name, opts.timeZone?.() ?? 'UTC', opts.kpisWritable === true && principal.role === 'admin', seesPersons(principal.role)));
    });
  }
  router.get('/live', page, async (req, res) => {
    const principal = await authenticate(req, opts.credentials);
    if (!principal) return res.redirect(302, loginFor(req.originalUrl));
    sendHtml(res, livePage(seesPersons(principal.role)));
  });
  router.get('/login', page, async (req, res) => {
    const next = safeNext(req.query.next);
    if (await loggedIn(req)) return res.redirect(302, next);
    sendHtml(res, loginPage(false, next));
  });
  router.post('/login', page, express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const sent = (req.body as Record<string, unknown> | undefined)?.token;
    const token = typeof sent === 'string' ? sent : '';
    const next = safeNext((req.body as Record<string, unknown> | undefined)?.next);
    const principal = principalOfToken(token, opts.credentials);
    if (!principal) {
      // A short pause makes guessing slower without holding any state.
      await new Promise((resolve) => setTimeout(resolve, 250));
      return sendHtml(res, loginPage(true, next), 401);
    }
    // The cookie holds a session id: the token itself never leaves the login form.
    const sessionId = await opts.credentials.sessions.create({ ...principal, tokenHash: hashToken(token) });
    res.cookie(SESSION_COOKIE, sessionId, { httpOnly: true, sameSite: SAME_SITE, secure: viaHttps(req), path: '/', maxAge: SESSION_MS });
    res.redirect(303, next);
  });
  router.post('/logout', page, async (req, res) => {
    const session = (req as Request & { cookies?: Record<string, string> }).cookies?.[SESSION_COOKIE];
    if (session) await opts.credentials.sessions.destroy(session).catch(() => undefined);
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: SAME_SITE, secure: viaHttps(req), path: '/' });
    res.redirect(303, '/login');
  });

  router.get('/dashboard/app.js', page, async (_req, res, next) => {
    try {
      await ensureDashboardBuilt();
    } catch (error) {
      return next(error);
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.type('application/javascript').sendFile(DASHBOARD_BUNDLE);
  });
  router.get('/dashboard/live.js', page, async (_req, res, next) => {
    try {
      await ensureDashboardBuilt();
    } catch (error) {
      return next(error);
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.type('application/javascript').sendFile(LIVE_BUNDLE);
  });
  router.get('/dashboard/style.css', page, (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/css').sendFile(path.join(PUBLIC_DIR, 'style.css'));
  });
  return router;
}
