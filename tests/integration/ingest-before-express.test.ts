/**
 * Ingest requests are served before express (decision 0050): express's router and middleware
 * cost a single-event request about three times what judging and queueing its event does. The
 * answers must stay what they were: the same status, headers and body, the same metrics, the
 * same body limits and error codes, on every path spelling express accepted.
 */
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { metricSample, startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ queueKeys: { name: 'before-express', prefix: '{bexp}' } });
});
afterAll(async () => {
  await stack?.stop();
});

const auth = { authorization: `Basic ${Buffer.from('test-write-key-123:').toString('base64')}` };
const event = (id: string) => ({ type: 'track', event: 'mission_proposal_received', userId: 'u1', messageId: id, properties: { mission_id: 'msn_1', freelancer_id: 'fr_1', category: 'front' } });

const metric = (name: string, labels: string) => metricSample(stack.baseUrl, name, labels);

/** A POST written by hand, its request target as given; resolves with the first line of the answer. */
function rawPost(target: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const url = new URL(stack.baseUrl);
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(
        [
          `POST ${target} HTTP/1.1`,
          `Host: ${url.host}`,
          `Authorization: ${auth.authorization}`,
          'Content-Type: application/json',
          `Content-Length: ${Buffer.byteLength(body)}`,
          'Connection: close',
          '',
          body,
        ].join('\r\n'),
      );
    });
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

describe('ingest requests served before express', () => {
  it('never reach express, and answer with the headers, bodies, codes and metrics express gave them', async () => {
    // Every request express is given goes through app.handle (express 5's application).
    const app = stack.balise.app! as unknown as { handle: (...args: unknown[]) => void };
    const handle = vi.spyOn(app, 'handle');
    try {
      const timedBefore = await metric('http_request_duration_seconds_count', 'route="/v1/batch",status_code="200"');
      handle.mockClear();

      const batch = await fetch(`${stack.baseUrl}/v1/batch`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', origin: 'https://app.example.com' },
        body: JSON.stringify({ batch: [event('bexp-1')] }),
      });
      expect(batch.status).toBe(200);
      const text = await batch.text();
      expect(JSON.parse(text)).toEqual({ success: true, accepted: 1, quarantined: 0 });
      expect(batch.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(batch.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
      expect(batch.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      expect(batch.headers.get('access-control-expose-headers')).toBe('Retry-After');
      expect(batch.headers.get('x-powered-by')).toBeNull();
      expect(batch.headers.get('etag')).toBeNull();

      // Every spelling express matched: any case, a trailing slash, a query string.
      const variant = await fetch(`${stack.baseUrl}/V1/Track/?from=test`, { method: 'POST', headers: auth, body: JSON.stringify(event('bexp-2')) });
      expect(await variant.json()).toEqual({ success: true, accepted: 1, quarantined: 0 });
      // And a doubled slash: what an SDK whose host ends in "/" beacons to as the page closes.
      const doubled = await fetch(`${stack.baseUrl}//v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ batch: [event('bexp-6')], writeKey: 'test-write-key-123' }),
      });
      expect(await doubled.json()).toEqual({ success: true, accepted: 1, quarantined: 0 });
      // A target in absolute form, which a server must accept (RFC 9112, 3.2.2).
      const absolute = await rawPost(`http://127.0.0.1:${new URL(stack.baseUrl).port}/v1/track`, JSON.stringify(event('bexp-5')));
      expect(absolute).toMatch(/^HTTP\/1\.1 200 /);
      const beacon = await fetch(`${stack.baseUrl}/beacon/v1/batch?writeKey=test-write-key-123`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ batch: [event('bexp-3')] }),
      });
      expect(await beacon.json()).toEqual({ success: true, accepted: 1, quarantined: 0 });

      // Bodies: gzip is inflated; what cannot be read gets the codes it always got.
      const gzipped = await fetch(`${stack.baseUrl}/v1/batch`, { method: 'POST', headers: { ...auth, 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify({ batch: [event('bexp-4')] })) });
      expect(await gzipped.json()).toEqual({ success: true, accepted: 1, quarantined: 0 });
      const broken = await fetch(`${stack.baseUrl}/v1/batch`, { method: 'POST', headers: { ...auth, 'content-encoding': 'gzip' }, body: 'not gzip' });
      expect([broken.status, (await broken.json()).code]).toEqual([400, 'invalid_gzip']);
      const bomb = await fetch(`${stack.baseUrl}/v1/batch`, { method: 'POST', headers: { ...auth, 'content-encoding': 'gzip' }, body: gzipSync(Buffer.alloc(2_000_000, 32)) });
      expect([bomb.status, (await bomb.json()).code]).toEqual([413, 'payload_too_large']);
      const brotli = await fetch(`${stack.baseUrl}/v1/batch`, { method: 'POST', headers: { ...auth, 'content-encoding': 'br' }, body: 'x' });
      expect([brotli.status, (await brotli.json()).code]).toEqual([415, 'unsupported_encoding']);
      const empty = await fetch(`${stack.baseUrl}/v1/batch`, { method: 'POST', headers: auth });
      expect([empty.status, (await empty.json()).code]).toEqual([400, 'invalid_json']);

      expect(handle).not.toHaveBeenCalled();
      expect(await metric('http_request_duration_seconds_count', 'route="/v1/batch",status_code="200"')).toBe(timedBefore + 3);

      // What is not an ingest POST still goes to express (/metrics did): a preflight, a GET on an ingest path.
      handle.mockClear();
      const preflight = await fetch(`${stack.baseUrl}/v1/batch`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-headers': 'X-Retry-Count' } });
      expect([preflight.status, preflight.headers.get('access-control-allow-headers')]).toEqual([204, 'X-Retry-Count']);
      const get = await fetch(`${stack.baseUrl}/v1/batch`);
      expect([get.status, (await get.json()).code]).toEqual([405, 'method_not_allowed']);
      expect(handle).toHaveBeenCalledTimes(2);
    } finally {
      handle.mockRestore();
    }
  });
});
