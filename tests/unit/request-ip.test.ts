import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { browserRequestIp } from '../../src/ingest/request-ip.ts';

const request = (headers: Record<string, string>, remoteAddress: string) => ({ headers, socket: { remoteAddress } as Socket });

describe('browserRequestIp', () => {
  it("is a browser request's address: its socket's, or the client's side of X-Forwarded-For", () => {
    expect(browserRequestIp(request({ origin: 'https://app.example' }, '192.0.2.7'))).toBe('192.0.2.7');
    expect(browserRequestIp(request({ origin: 'https://app.example' }, '::ffff:192.0.2.7'))).toBe('192.0.2.7');
    expect(browserRequestIp(request({ origin: 'null' }, '2001:db8::1'))).toBe('2001:db8::1');
    expect(browserRequestIp(request({ origin: 'https://app.example', 'x-forwarded-for': '203.0.113.5, 10.0.0.2' }, '10.0.0.3'))).toBe('203.0.113.5');
  });

  it('is none for a request without Origin: a server-side library, whose address is the server', () => {
    expect(browserRequestIp(request({}, '192.0.2.7'))).toBeUndefined();
    expect(browserRequestIp(request({ 'x-forwarded-for': '203.0.113.5' }, '10.0.0.3'))).toBeUndefined();
  });
});
