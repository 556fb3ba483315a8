/**
 * Where the login sends the user afterwards (`/login?next=…`). Only a path on this origin is
 * kept: anything else (`//evil.example`, `/\evil.example`, `https://…`, control characters)
 * would make the login form an open redirect, so it falls back to the overview.
 */
export function safeNext(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > 2000) return '/';
  // Browsers read a backslash as a slash, so `/\host` is protocol-relative like `//host`.
  if (value[1] === '/' || value[1] === '\\') return '/';
  if ([...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return '/';
  const base = 'http://balise.invalid';
  const url = new URL(value, base);
  if (url.origin !== base) return '/';
  // The login page itself is no destination: it would just send the user on to `/`.
  if (url.pathname === '/login') return '/';
  return `${url.pathname}${url.search}${url.hash}`;
}

/** The login address for a signed-out visitor of `path` (the request's path and query). */
export function loginFor(path: string): string {
  const next = safeNext(path);
  return next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`;
}
