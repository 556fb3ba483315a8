/**
 * Dashboard sessions: the login cookie holds a random session id, never a token. Redis keeps
 * who it belongs to under the id's SHA-256 (a copy of Redis cannot be replayed as cookies), with
 * the session's lifetime as TTL, shared by every API process. A session keeps the SHA-256 of the
 * token it was opened with, so it ends when that token is revoked or rotated (src/api/auth.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isRole, type Principal } from './access.ts';

export const SESSION_TTL_SECONDS = 12 * 3600;

/** Who a session belongs to, and the SHA-256 of the token that opened it. */
export interface Session extends Principal {
  tokenHash: string;
}

export interface SessionStore {
  create(session: Session): Promise<string>;
  get(sessionId: string): Promise<Session | undefined>;
  destroy(sessionId: string): Promise<void>;
}

export function createSessionStore(redis: Redis, prefix: string): SessionStore {
  const key = (id: string) => `${prefix}:session:${createHash('sha256').update(id).digest('hex')}`;
  return {
    async create(session) {
      const id = randomBytes(32).toString('base64url');
      await redis.set(key(id), JSON.stringify(session), 'EX', SESSION_TTL_SECONDS);
      return id;
    },
    async get(id) {
      if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
      const raw = await redis.get(key(id));
      if (!raw) return undefined;
      const parsed = JSON.parse(raw) as { name?: unknown; role?: unknown; tokenHash?: unknown };
      // A session without its token's hash (opened before sessions kept it) is not trusted: log in again.
      return typeof parsed.name === 'string' && typeof parsed.role === 'string' && isRole(parsed.role) && typeof parsed.tokenHash === 'string'
        ? { name: parsed.name, role: parsed.role, tokenHash: parsed.tokenHash }
        : undefined;
    },
    async destroy(id) {
      await redis.del(key(id));
    },
  };
}
