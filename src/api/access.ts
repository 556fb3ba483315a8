/**
 * Who may call what (pure). Three roles, each including the one below it: viewer (the dashboard
 * and the read APIs that aggregate), analyst (also SQL, person timelines and live events), admin (everything, including /api/admin/*). A route
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
const READ_POSTS = ['/api/retention', '/api/explore/trend', '/api/explore/funnel'];

/** The least role that may call `method path` (path without the query string). */
export function requiredRole(method: string, path: string): Role {
  if (path.startsWith('/api/admin/') || path === '/api/admin') return 'admin';
  if (method === 'POST' && path === '/api/sql') return 'analyst';
  // One person's events, ids and properties: person-level data, not a dashboard aggregate.
  if (PERSON_LEVEL.some((prefix) => path.startsWith(prefix))) return method === 'GET' || method === 'HEAD' ? 'analyst' : 'admin';
  // Questions asked with a body (ad-hoc definitions) that only read.
  if (method === 'POST' && READ_POSTS.includes(path)) return 'viewer';
  if ((method === 'GET' || method === 'HEAD') && path.startsWith('/api/')) return 'viewer';
  return 'admin';
}

export const mayCall = (role: Role, method: string, path: string) => RANK[role] >= RANK[requiredRole(method, path)];

export const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value);
