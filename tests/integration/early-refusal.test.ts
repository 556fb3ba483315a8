/**
 * Load refusals written before routing (src/ingest/early-refusal.ts): under a flood most
 * requests are refused and resent, so a refusal skips express and is answered from a body
 * rendered once. It must still be the same answer as every other refusal: status, error body,
 * Retry-After, CORS headers a browser needs to read it, and the metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricSample, startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;

beforeAll(async () => {
  // No worker: queued jobs stay waiting, and one waiting job is already more than the queue takes.
  stack = await startStack({ roles: { api: true, worker: false }, env: { BALISE_MAX_QUEUE_DEPTH: '1' } });
});
afterAll(async () => {
  await stack?.stop();
});

const auth = { authorization: `Basic ${Buffer.from('test-write-key-123:').toString('base64')}`, 'content-type': 'application/json' };
const batch = (id: string) => JSON.stringify({ batch: [{ type: 'track', event: 'early_refusal', userId: 'u1', messageId: id }] });

const metric = (name: string, labels: string) => metricSample(stack.baseUrl, name, labels);

describe('a refusal before routing', () => {
  it('answers queue_full with the error contract, Retry-After and CORS, on batch, beacon and single-event routes, and counts it', async () => {
    for (let i = 0; i < 3; i++) expect((await fetch(`${stack.baseUrl}/v1/batch`, { method: 'POST', headers: auth, body: batch(`early-${i}`) })).status).toBe(200);
    // The queue depth is sampled every 250 ms, off the request path.
    const deadline = Date.now() + 10_000;
    let refused: Response | undefined;
    while (Date.now() < deadline) {
      const res = await fetch(`${stack.baseUrl}/v1/batch`, { method: 'POST', headers: { ...auth, origin: 'https://app.example.com' }, body: batch('early-refused') });
      if (res.status !== 200) {
        refused = res;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(refused?.status).toBe(503);
    expect(refused!.headers.get('retry-after')).toBe('2');
    expect(refused!.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(refused!.headers.get('access-control-expose-headers')).toBe('Retry-After');
    expect(refused!.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await refused!.json()).toEqual({ success: false, code: 'queue_full', message: 'the ingest queue is full; retry later' });

    const before = await metric('balise_requests_refused_total', 'code="queue_full"');
    const beacon = await fetch(`${stack.baseUrl}/beacon/v1/batch?writeKey=test-write-key-123`, { method: 'POST', body: batch('early-beacon') });
    const track = await fetch(`${stack.baseUrl}/v1/track`, { method: 'POST', headers: auth, body: JSON.stringify({ event: 'early_refusal', userId: 'u1' }) });
    // Another spelling of an ingest path (any case, a trailing slash) gets the same refusal.
    const variant = await fetch(`${stack.baseUrl}/V1/Batch/`, { method: 'POST', headers: auth, body: batch('early-variant') });
    expect([beacon.status, track.status, variant.status]).toEqual([503, 503, 503]);
    expect((await beacon.json()).code).toBe('queue_full');
    expect(await variant.json()).toEqual({ success: false, code: 'queue_full', message: 'the ingest queue is full; retry later' });
    expect(await metric('balise_requests_refused_total', 'code="queue_full"')).toBe(before + 3);
    expect(await metric('http_request_duration_seconds_count', 'route="/v1/track",status_code="503"')).toBeGreaterThanOrEqual(1);
    // Reads are not ingest: they are never refused for the queue.
    expect((await fetch(`${stack.baseUrl}/health`)).status).toBe(200);
  });
});
