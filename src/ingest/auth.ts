import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { secretDigest as digest } from '../util/constant-time.ts';

/** Write key from HTTP Basic (Segment's way: the key is the user, password empty), else undefined. */
function basicAuthUser(header: string | undefined): string | undefined {
  // The scheme is case-insensitive (RFC 9110): "basic" and "BASIC" are Basic too.
  if (!header || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(0, colon) : decoded;
}

/** Maps a presented write key to its source, checking every key so timing reveals nothing. */
export function createWriteKeyResolver(keys: Map<string, string>): (presented: string) => string | undefined {
  // The configured keys are hashed once; each request hashes only the key it presents.
  const entries = [...keys.entries()].map(([name, key]) => [name, digest(key)] as const);
  return (presented) => {
    const hashed = digest(presented);
    let source: string | undefined;
    for (const [name, key] of entries) if (timingSafeEqual(hashed, key)) source = name;
    return source;
  };
}

export interface WriteKeySources {
  /** Also read `?writeKey=` (RudderStack's beacon path: sendBeacon cannot set headers). */
  query?: boolean;
}

/**
 * The write key as the client presents it: HTTP Basic user (Segment, RudderStack), then
 * `X-Write-Key` (Jitsu, which masks the key it copies into the body), then the query string
 * where allowed, then `writeKey` in the body (Segment's beacons).
 */
export function presentedWriteKey(req: Pick<IncomingMessage, 'headers' | 'url'>, body: unknown, sources: WriteKeySources = {}): string | undefined {
  const fromHeader = basicAuthUser(req.headers.authorization);
  if (fromHeader) return fromHeader;
  const headerKey = req.headers['x-write-key'];
  if (typeof headerKey === 'string' && headerKey) return headerKey;
  if (sources.query) {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const queryKey = query === -1 ? null : new URLSearchParams(url.slice(query + 1)).get('writeKey');
    if (queryKey) return queryKey;
  }
  if (typeof body === 'object' && body !== null && 'writeKey' in body) {
    const key = (body as { writeKey: unknown }).writeKey;
    return typeof key === 'string' ? key : undefined;
  }
  return undefined;
}
