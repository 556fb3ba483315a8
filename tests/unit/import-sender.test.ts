import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BaliseError } from '../../src/errors.ts';
import { backoffMs, sendBatch } from '../../src/import/sender.ts';

let server: http.Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A server answering the given statuses in turn (the last one repeats). */
async function serve(answers: { status: number; headers?: Record<string, string>; body: unknown }[]): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests.push(`${req.headers.authorization} ${body}`);
      const answer = answers[Math.min(requests.length - 1, answers.length - 1)]!;
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/v1/import`, requests };
}

describe('import sender', () => {
  it('retries 429 and 503 (honouring Retry-After) until the server accepts, with the write key as Basic user', async () => {
    const { url, requests } = await serve([
      { status: 429, headers: { 'retry-after': '0' }, body: { code: 'too_many_requests' } },
      { status: 503, headers: { 'retry-after': '0' }, body: { code: 'queue_full' } },
      { status: 200, body: { success: true, accepted: 2, quarantined: 1 } },
    ]);
    const retries: string[] = [];
    const verdict = await sendBatch('{"batch":[]}', { url, writeKey: 'wk', baseDelayMs: 1, onRetry: (r) => retries.push(r) });
    expect(verdict).toEqual({ accepted: 2, quarantined: 1, suppressed: 0 });
    expect(retries).toEqual(['HTTP 429 too_many_requests', 'HTTP 503 queue_full']);
    expect(requests).toHaveLength(3);
    expect(requests[0]).toBe(`Basic ${Buffer.from('wk:').toString('base64')} {"batch":[]}`);
  });

  it('stops at once on a refusal that retrying cannot fix, with the server code', async () => {
    const { url, requests } = await serve([{ status: 401, body: { code: 'invalid_write_key', message: 'unknown write key' } }]);
    const error = await sendBatch('{"batch":[]}', { url, writeKey: 'nope', baseDelayMs: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BaliseError);
    expect((error as BaliseError).code).toBe('invalid_write_key');
    expect(requests).toHaveLength(1);
  });

  it('gives up after its attempts with a code that says how to resume', async () => {
    const { url, requests } = await serve([{ status: 503, headers: { 'retry-after': '0' }, body: { code: 'queue_full' } }]);
    const error = await sendBatch('{"batch":[]}', { url, writeKey: 'wk', maxAttempts: 3, baseDelayMs: 1 }).catch((e: unknown) => e);
    expect((error as BaliseError).code).toBe('import_server_unavailable');
    expect(requests).toHaveLength(3);
  });

  it('backs off exponentially within a ceiling, or as Retry-After says', () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const ms = backoffMs(attempt, 100, 5000);
      expect(ms).toBeGreaterThanOrEqual(Math.min(5000, 100 * 2 ** attempt) / 2);
      expect(ms).toBeLessThanOrEqual(Math.min(5000, 100 * 2 ** attempt));
    }
    expect(backoffMs(0, 100, 5000, 2)).toBe(2000);
    expect(backoffMs(0, 100, 5000, 60)).toBe(5000);
  });
});
