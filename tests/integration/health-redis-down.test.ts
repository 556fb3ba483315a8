import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBalise, type RunningBalise } from '../../src/cli/runtime.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createRedis } from '../../src/redis/server.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { REPO_ROOT, tempDir } from '../helpers/stack.ts';

const WRITE_KEY = 'down-write-key-123';
const ADMIN_TOKEN = 'down-admin-token-0123456789';
let balise: RunningBalise;
let logs = '';

// Supervision off, so Redis stays down for the whole test; a 1 s liveness grace instead of 30 s.
beforeAll(async () => {
  const config = loadConfig(
    {
      PORT: '0',
      BALISE_DATA_DIR: tempDir(),
      BALISE_PLAN_DIR: FIXTURE_PLAN,
      BALISE_WRITE_KEYS: `test:${WRITE_KEY}`,
      BALISE_ADMIN_TOKEN: ADMIN_TOKEN,
      LOG_LEVEL: 'info',
    },
    REPO_ROOT,
  );
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs += chunk.toString();
      callback();
    },
  });
  balise = await startBalise(config, { api: true, worker: true }, createLogger('info', sink), { superviseRedis: false, redisLivenessGraceMs: 1000 });
});
afterAll(async () => {
  await balise?.stop();
});

const get = (p: string, auth = false) => fetch(`${balise.baseUrl}${p}`, { headers: auth ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}, signal: AbortSignal.timeout(10_000) });

describe('Redis gone for good', () => {
  it('fails /health after the grace, answers /ready and the pipeline health truthfully, logs the outage once, and still stops', { timeout: 90_000 }, async () => {
    expect((await get('/health')).status).toBe(200);
    const pipelineUp = (await (await get('/api/health/pipeline', true)).json()) as { redis: string };
    expect(pipelineUp.redis).toBe('up');

    const admin = createRedis(balise.redisTarget, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on('error', () => undefined);
    await admin.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    admin.disconnect();

    // Ingest refused with a stable, retryable answer, as many times as clients try.
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${balise.baseUrl}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
        body: JSON.stringify({ type: 'track', event: 'redis_down', userId: 'u1', messageId: `down-${i}` }),
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { code: string }).code).toBe('queue_unavailable');
    }

    const ready = await get('/ready');
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, boolean> }).checks).toMatchObject({ redis: false, clickhouse: true });

    const pipeline = await get('/api/health/pipeline', true);
    expect(pipeline.status).toBe(200);
    expect(((await pipeline.json()) as { redis: string }).redis).toBe('down');

    // Past the liveness grace, /health fails so that a liveness probe restarts the process.
    const deadline = Date.now() + 15_000;
    let health = await get('/health');
    while (health.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      health = await get('/health');
    }
    expect(health.status).toBe(503);
    expect(((await health.json()) as { status: string }).status).toBe('failing');

    const lines = logs.split('\n');
    expect(lines.filter((l) => l.includes('could not queue'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('Redis is unreachable'))).toHaveLength(1);

    // Shutdown completes with Redis gone: bounded waits, no retrying forever.
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([balise.stop().then(() => 'stopped'), new Promise((r) => (timer = setTimeout(() => r('hung'), 30_000)))]);
    clearTimeout(timer);
    expect(outcome).toBe('stopped');
  });
});
