/**
 * A Redis that keeps its connections open but answers nothing (a network partition, a stopped
 * process: here SIGSTOP): ingest must answer 503 rather than hang, /ready must answer, /health
 * must fail past the grace, and once Redis is back a resend is stored once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBalise, type RunningBalise } from '../../src/cli/runtime.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createRedis } from '../../src/redis/server.ts';
import { queryRows } from '../../src/warehouse/query.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { REPO_ROOT, tempDir } from '../helpers/stack.ts';

const WRITE_KEY = 'frozen-write-key-123';
let balise: RunningBalise;
let redisPid: number | undefined;

beforeAll(async () => {
  const config = loadConfig({ PORT: '0', BALISE_DATA_DIR: tempDir(), BALISE_PLAN_DIR: FIXTURE_PLAN, BALISE_WRITE_KEYS: `test:${WRITE_KEY}`, LOG_LEVEL: 'silent' }, REPO_ROOT);
  balise = await startBalise(config, { api: true, worker: true }, createLogger('silent'), { redisLivenessGraceMs: 1000 });
  const admin = createRedis(balise.redisTarget);
  redisPid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);
  admin.disconnect();
});
afterAll(async () => {
  if (redisPid) process.kill(redisPid, 'SIGCONT');
  await balise?.stop();
});

const get = (p: string) => fetch(`${balise.baseUrl}${p}`, { signal: AbortSignal.timeout(30_000) });
const track = (messageId: string) =>
  fetch(`${balise.baseUrl}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
    body: JSON.stringify({ type: 'track', event: 'redis_frozen', userId: 'u1', messageId }),
    signal: AbortSignal.timeout(30_000),
  });

describe('Redis frozen (connected, answering nothing)', () => {
  it('answers ingest with 503, /ready with not ready and /health with failing, then stores a resend once when it is back', { timeout: 90_000 }, async () => {
    expect(redisPid).toBeGreaterThan(0);
    process.kill(redisPid!, 'SIGSTOP');
    try {
      const res = await track('frozen-1');
      expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([503, 'queue_unavailable']);
      const ready = await get('/ready');
      expect([ready.status, ((await ready.json()) as { checks: Record<string, boolean> }).checks.redis]).toEqual([503, false]);
      const deadline = Date.now() + 20_000;
      let health = await get('/health');
      while (health.status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        health = await get('/health');
      }
      expect(health.status).toBe(503);
    } finally {
      process.kill(redisPid!, 'SIGCONT');
    }
    // The refused request may still have been queued once Redis woke up: the resend folds with it.
    let res = await track('frozen-1');
    for (let i = 0; i < 40 && res.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      res = await track('frozen-1');
    }
    expect(res.status).toBe(200);
    let stored: { n: string; d: string }[] = [];
    for (let i = 0; i < 80; i++) {
      stored = await queryRows<{ n: string; d: string }>(balise.warehouse!, `SELECT count() AS n, uniqExact(message_id) AS d FROM events FINAL WHERE message_id = 'frozen-1'`);
      if (Number(stored[0]?.n) > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(stored.map((r) => [Number(r.n), Number(r.d)])).toEqual([[1, 1]]);
    expect((await get('/health')).status).toBe(200);
  });
});
