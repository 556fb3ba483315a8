/**
 * Stopping `balise up` while its redis-server is frozen (SIGSTOP: connected, answering nothing):
 * the stop keeps to its grace, and the redis-server, resumed to take its SIGTERM, writes its AOF
 * and exits rather than being left behind stopped.
 */
import { describe, expect, it } from 'vitest';
import { startBalise } from '../../src/cli/runtime.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createRedis, isAlive } from '../../src/redis/server.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { REPO_ROOT, tempDir } from '../helpers/stack.ts';

describe('a stop with Redis frozen', () => {
  it('does not keep a stop waiting past the grace, and leaves no redis-server behind', { timeout: 90_000 }, async () => {
    const config = loadConfig({ PORT: '0', BALISE_DATA_DIR: tempDir(), BALISE_PLAN_DIR: FIXTURE_PLAN, BALISE_WRITE_KEYS: 'test:frozen-stop-key-123', LOG_LEVEL: 'silent' }, REPO_ROOT);
    const other = await startBalise(config, { api: true, worker: true }, createLogger('silent'));
    const admin = createRedis(other.redisTarget);
    const pid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);
    admin.disconnect();
    process.kill(pid, 'SIGSTOP');
    const started = Date.now();
    try {
      await other.stop();
    } finally {
      if (isAlive(pid)) process.kill(pid, 'SIGCONT');
    }
    // The grace (10 s) and a moment for redis-server to write its AOF and exit.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(isAlive(pid)).toBe(false);
  });
});
