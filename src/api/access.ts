/**
 * Who may call what (pure). Three roles, each including the one below it: viewer (the dashboard
 * and the read APIs that aggregate), analyst (also SQL, person timelines, who dropped off a
 * funnel, and live events), admin (everything, including /api/admin/*). A route
 * not named here needs admin: a new endpoint is closed until someone opens it on purpose.
 */
export const ROLES = ['viewer', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** The token's name ("admin" for BALISE_ADMIN_TOKEN), recorded in the audit log. */
  name: string;
  role: Role;
}

const RANK: Record<Role, number> = { viewer: 0, analyst: 1, admin: 2 };

const PERSON_LEVEL = ['/api/people/', '/api/entities/', '/api/live'];
/** Who dropped off at a funnel step: the entities' ids, person-level data too. */
const DROP_OFFS = /^\/api\/funnels\/[^/]+\/dropoffs\/?$/;
const READ_POSTS = ['/api/retention', '/api/explore/trend', '/api/explore/funnel'];

/**
 * The least role that may call `method path` (path without the query string). Express matches
 * routes whatever their case, so the path is judged in lower case: /api/Admin is /api/admin.
 */
export function requiredRole(method: string, requestPath: string): Role {
  const path = requestPath.toLowerCase();
  if (path.startsWith('/api/admin/') || path === '/api/admin') return 'admin';
  if (method === 'POST' && path === '/api/sql') return 'analyst';
  // One person's events, ids and properties: person-level data, not a dashboard aggregate.
  if (PERSON_LEVEL.some((prefix) => path.startsWith(prefix)) || DROP_OFFS.test(path)) return method === 'GET' || method === 'HEAD' ? 'analyst' : 'admin';
  // Questions asked with a body (ad-hoc definitions) that only read.
  if (method === 'POST' && READ_POSTS.includes(path)) return 'viewer';
  if ((method === 'GET' || method === 'HEAD') && path.startsWith('/api/')) return 'viewer';
  return 'admin';
}

/** Whether the role may read person-level data (ids, timelines, who dropped off). */
export const seesPersons = (role: Role) => RANK[role] >= RANK.analyst;

export const mayCall = (role: Role, method: string, path: string) => RANK[role] >= RANK[requiredRole(method, path)];

export const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value);
