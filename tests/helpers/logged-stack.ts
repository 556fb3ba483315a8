import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/index.ts';
import { startBalise, type RunningBalise } from '../../src/cli/runtime.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { FIXTURE_PLAN } from './plans.ts';
import { REPO_ROOT, tempDir } from './stack.ts';

export interface LoggedStack {
  baseUrl: string;
  writeKey: string;
  adminToken: string;
  balise: RunningBalise;
  /** Everything the server logged so far (pino NDJSON). */
  logs(): string;
  query<T>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  stop(): Promise<void>;
}

/** Like startStack, but the server logs at `level` into memory, so tests can read what it wrote. */
export async function startLoggedStack(level = 'debug', env: Record<string, string> = {}): Promise<LoggedStack> {
  const config = loadConfig(
    {
      PORT: '0',
      BALISE_DATA_DIR: tempDir('balise-logged-'),
      BALISE_PLAN_DIR: FIXTURE_PLAN,
      BALISE_WRITE_KEYS: 'web:wk-logged-secret-4f9a2c',
      BALISE_ADMIN_TOKEN: 'adm-logged-secret-token-8e1d77',
      BALISE_BATCH_MAX_WAIT_MS: '100',
      LOG_LEVEL: level,
      ...env,
    },
    REPO_ROOT,
  );
  let captured = '';
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      captured += chunk.toString();
      callback();
    },
  });
  const balise = await startBalise(config, { api: true, worker: true }, createLogger(level, sink));
  return {
    baseUrl: balise.baseUrl ?? '',
    writeKey: [...balise.writeKeys.values()][0]!,
    adminToken: balise.adminToken,
    balise,
    logs: () => captured,
    async query<T>(sql: string, params: Record<string, unknown> = {}) {
      const result = await balise.warehouse!.client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
      return result.json<T>();
    },
    stop: () => balise.stop(),
  };
}
