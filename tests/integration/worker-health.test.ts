/**
 * A worker-only process's /health (its ops server, BALISE_WORKER_METRICS_PORT) tells whether it
 * can work, as an API process's does: failing once Redis has been gone past the grace, so the
 * compose healthcheck and a liveness probe see a worker that loads nothing. Found 2026-12-05: it
 * answered 200 for as long as the process lived.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBalise, type RunningBalise } from '../../src/cli/runtime.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createRedis } from '../../src/redis/server.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { freePort } from '../helpers/process.ts';
import { REPO_ROOT, tempDir } from '../helpers/stack.ts';

let balise: RunningBalise;
let opsUrl: string;

// Supervision off, so Redis stays down; a 1 s liveness grace instead of 30 s.
beforeAll(async () => {
  const port = await freePort();
  const config = loadConfig({ BALISE_DATA_DIR: tempDir(), BALISE_PLAN_DIR: FIXTURE_PLAN, BALISE_WORKER_METRICS_PORT: String(port), LOG_LEVEL: 'silent' }, REPO_ROOT);
  balise = await startBalise(config, { api: false, worker: true }, createLogger('silent'), { superviseRedis: false, redisLivenessGraceMs: 1000 });
  opsUrl = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await balise?.stop();
});

describe("a worker-only process's /health", () => {
  it('is 200 while Redis answers and 503 once it has been gone past the grace', { timeout: 60_000 }, async () => {
    const health = () => fetch(`${opsUrl}/health`, { signal: AbortSignal.timeout(5000) });
    expect((await health()).status).toBe(200);

    const admin = createRedis(balise.redisTarget, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on('error', () => undefined);
    await admin.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    admin.disconnect();

    const deadline = Date.now() + 15_000;
    let answer = await health();
    while (answer.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      answer = await health();
    }
    expect(answer.status).toBe(503);
    expect(await answer.json()).toEqual({ status: 'failing', reason: expect.stringMatching(/^Redis unreachable for \d+ s$/) });
  });
});
