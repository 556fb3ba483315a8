import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/index.ts';
import { startBalise, type RunningBalise, type Roles } from '../../src/cli/runtime.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { QueueKeys } from '../../src/queue/jobs.ts';
import type { LiveHubOptions } from '../../src/live/hub.ts';
import type { Warehouse } from '../../src/warehouse/client.ts';
import { queryRows } from '../../src/warehouse/query.ts';
import { FIXTURE_PLAN } from './plans.ts';

export interface Stack {
  baseUrl: string;
  writeKey: string;
  adminToken: string;
  dataDir: string;
  warehouse: Warehouse;
  balise: RunningBalise;
  query<T>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  /** Rows of `events` whose message_id starts with `prefix`, and how many distinct ids they hold: exactly once is total = distinct = sent. */
  countEvents(prefix: string): Promise<{ total: number; distinct: number }>;
  /** Waits until `SELECT count() FROM table` reaches `count`. */
  waitForRows(table: string, count: number, timeoutMs?: number): Promise<void>;
  /**
   * Waits until the queue holds no waiting, delayed or active job: every job acknowledged so far
   * is then inserted (a job completes only after its insert). The timeout bounds a hang only.
   */
  waitForDrained(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface StackOptions {
  planDir?: string;
  env?: Record<string, string>;
  roles?: Roles;
  lockDurationMs?: number;
  /** Its own queue and dedupe window (default: Balise's own, in the stack's own redis-server). */
  queueKeys?: Partial<QueueKeys>;
  /** Off for tests that stage a Redis outage themselves. */
  superviseRedis?: boolean;
  /** The live view's rate cap and per-viewer queue. */
  live?: LiveHubOptions;
}

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export function tempDir(prefix = 'balise-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * A real Balise for integration tests: redis-server (unix socket in a temp data dir), embedded
 * chDB in the same dir, migrations applied, API on a free port and the worker, in this process.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dataDir = options.env?.BALISE_DATA_DIR ?? tempDir();
  const config = loadConfig(
    {
      PORT: '0',
      BALISE_DATA_DIR: dataDir,
      BALISE_PLAN_DIR: options.planDir ?? FIXTURE_PLAN,
      BALISE_WRITE_KEYS: 'test:test-write-key-123',
      BALISE_ADMIN_TOKEN: 'test-admin-token-0123456789',
      BALISE_BATCH_MAX_WAIT_MS: '100',
      // The test process shares the loop with the stack (and chDB queries block it) and the box
      // with other test files: event-loop shedding is tested on its own (tests/faults).
      BALISE_MAX_EVENT_LOOP_DELAY_MS: '60000',
      BALISE_MAX_REQUEST_WAIT_MS: '60000',
      LOG_LEVEL: 'silent',
      ...options.env,
    },
    REPO_ROOT,
  );
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const balise = await startBalise(config, options.roles ?? { api: true, worker: true }, logger, {
    lockDurationMs: options.lockDurationMs,
    queueKeys: options.queueKeys,
    superviseRedis: options.superviseRedis,
    live: options.live,
  });
  const warehouse = balise.warehouse;
  if (!warehouse) throw new Error('the test stack opens the engine in this process');
  const query = <T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> => queryRows<T>(warehouse, sql, params);
  return {
    baseUrl: balise.baseUrl ?? '',
    writeKey: [...balise.writeKeys.values()][0]!,
    adminToken: balise.adminToken,
    dataDir,
    warehouse,
    balise,
    query,
    async countEvents(prefix) {
      const [row] = await query<{ total: string; distinct: string }>(`SELECT count() AS total, uniqExact(message_id) AS distinct FROM events WHERE startsWith(message_id, {p:String})`, { p: prefix });
      return { total: Number(row!.total), distinct: Number(row!.distinct) };
    },
    async waitForRows(table, count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last = -1;
      while (Date.now() < deadline) {
        const [row] = await query<{ n: string }>(`SELECT count() AS n FROM ${table}`);
        last = Number(row?.n ?? 0);
        if (last >= count) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`${table} has ${last} rows after ${timeoutMs} ms, expected ${count}`);
    },
    async waitForDrained(timeoutMs = 600_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const counts = await balise.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
        if (Object.values(counts).every((n) => n === 0)) return;
        if (Date.now() > deadline) throw new Error(`queue not drained after ${timeoutMs} ms: ${JSON.stringify(counts)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: () => balise.stop(),
  };
}

/** POSTs JSON to the stack with the write key as HTTP Basic user. */
export async function post(
  stack: Pick<Stack, 'baseUrl' | 'writeKey'>,
  route: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${stack.baseUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${stack.writeKey}:`).toString('base64')}`, ...headers },
    body: typeof body === 'string' ? body : body instanceof Uint8Array ? new Blob([new Uint8Array(body)]) : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** The value of the first sample of metric `name` on `baseUrl`'s /metrics whose labels include every one of `labels` (comma-separated `k="v"`); 0 when none does. */
export async function metricSample(baseUrl: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((label) => l.includes(label)));
  return Number(line?.split(' ').pop() ?? 0);
}
