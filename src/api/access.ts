/**
 * Who may call what (pure). Three roles, each including the one below it: viewer (the dashboard
 * and the read APIs), analyst (also SQL), admin (everything, including /api/admin/*). A route
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

/** The least role that may call `method path` (path without the query string). */
export function requiredRole(method: string, path: string): Role {
  if (path.startsWith('/api/admin/') || path === '/api/admin') return 'admin';
  if (method === 'POST' && path === '/api/sql') return 'analyst';
  if ((method === 'GET' || method === 'HEAD') && path.startsWith('/api/')) return 'viewer';
  return 'admin';
}

export const mayCall = (role: Role, method: string, path: string) => RANK[role] >= RANK[requiredRole(method, path)];

export const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value);
