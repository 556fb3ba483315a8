/**
 * `balise worker` alone serves no API; with BALISE_WORKER_METRICS_PORT it still answers
 * GET /health (the compose healthcheck) and GET /metrics (insert latency, lag, process metrics).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ roles: { api: false, worker: true }, env: { BALISE_WORKER_METRICS_PORT: '0' } });
});
afterAll(async () => {
  await stack?.stop();
});

describe('worker-only process', () => {
  it('serves GET /health and GET /metrics with the worker metrics, and nothing else', async () => {
    expect(stack.balise.baseUrl).toBeUndefined();
    const url = stack.balise.opsUrl!;
    expect(url).toMatch(/^http:\/\//);
    const health = await fetch(`${url}/health`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain('# TYPE balise_insert_duration_seconds histogram');
    expect(text).toContain('# TYPE balise_end_to_end_lag_seconds histogram');
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    const other = await fetch(`${url}/v1/batch`, { method: 'POST', body: '{}' });
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ code: 'not_found' });
  });
});
