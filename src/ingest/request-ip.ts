import type { IncomingMessage } from 'node:http';
import { forwardedValue } from '../util/forwarded.ts';

/**
 * The address a browser sent this request from, for an event's missing `context.ip`, as Segment's
 * and RudderStack's servers fill it for their browser SDKs (which cannot know it). A browser names
 * its page's origin on every POST (`Origin`); a server-side library does not, and its address is
 * the server's, not the person's, so it gets none. Behind a proxy, the client's side of
 * `X-Forwarded-For`: the client could as well write any `context.ip` itself.
 */
export function browserRequestIp(req: Pick<IncomingMessage, 'headers' | 'socket'>): string | undefined {
  if (req.headers.origin === undefined) return undefined;
  const address = forwardedValue(req.headers['x-forwarded-for']) || req.socket.remoteAddress;
  // An IPv4 client on a dual-stack socket reads as ::ffff:a.b.c.d.
  return address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address || undefined;
}
