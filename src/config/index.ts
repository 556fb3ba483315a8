import path from 'node:path';
import { ConfigError } from '../errors.ts';
import { isTimeZone } from '../util/zone.ts';

/** Everything Balise reads from the environment, parsed once. Documented in README.md ("Configuration"). */
export interface Config {
  port: number;
  /** BALISE_API_PROCESSES: the API children of `balise up` (undefined: decided by the cores, src/cli/serve.ts). */
  apiProcesses: number | undefined;
  host: string;
  redisUrl: string | undefined;
  clickhouse: {
    url: string | undefined;
    user: string;
    password: string;
    database: string;
    cluster: string | undefined;
  };
  dataDir: string;
  planDir: string;
  /** source name → write key; empty means "use the generated key in the data dir". */
  writeKeys: Map<string, string>;
  adminToken: string | undefined;
  /** BALISE_TOKENS: SHA-256 of each role token → its name and role (the tokens themselves are never configured). */
  tokens: Map<string, { name: string; role: TokenRole }>;
  /** BALISE_PII_KEY: HMAC key of `pii_action: hash`; unset: generated into the data dir. */
  piiKey: string | undefined;
  metabase: { url: string | undefined; user: string | undefined; password: string | undefined };
  logLevel: string;
  /** `json` (one object per line), `pretty` (pino-pretty), or `auto`: pretty on a terminal, JSON otherwise. */
  logFormat: LogFormat;
  /** NO_COLOR is set (https://no-color.org): no ANSI colour in logs or CLI tables, even on a terminal. */
  noColor: boolean;
  /** Where CLI commands find the running server (BALISE_URL); unset: http://127.0.0.1:PORT. */
  serverUrl: string | undefined;
  /** BALISE_TIMEZONE: the project time zone (IANA), overriding plan.yaml's `timezone:` (decision 0038). */
  timeZone: string | undefined;
  /** BALISE_KPIS_WRITABLE: admins may save Explore definitions into the plan's kpis/ through the API (decision 0039). */
  kpisWritable: boolean;
  ingest: {
    maxRequestBytes: number;
    maxEventBytes: number;
    maxBatchEvents: number;
    /** Above this many waiting jobs the API answers 503 with Retry-After. */
    maxQueueDepth: number;
    /** Load shedding (src/ingest/admission.ts): requests and body bytes admitted at once. */
    maxRequestsInFlight: number;
    maxBytesInFlight: number;
    /** Smoothed event-loop delay above which new ingest requests get 503 `overloaded`. */
    maxEventLoopDelayMs: number;
    /** A body not received within this gets 408 `body_timeout` and its connection closed. */
    bodyTimeoutMs: number;
    headersTimeoutMs: number;
    /** Admitted but not reached within this (loop or CPU busy): 503 `overloaded`, not processed. */
    maxRequestWaitMs: number;
  };
  privacy: {
    /** BALISE_SUPPRESS_ERASED: events from an erased person's ids are dropped at ingest. */
    suppressErased: boolean;
    /** BALISE_RETENTION_DAYS: table → days its rows are kept (a ClickHouse TTL); absent tables keep rows forever. */
    retentionDays: Map<string, number>;
  };
  worker: {
    batchMaxRows: number;
    batchMaxWaitMs: number;
    concurrency: number;
    attempts: number;
    backoffMs: number;
    /** How long the worker remembers a stored messageId (its in-memory fast path; decision 0011). */
    dedupeWindowSeconds: number;
    /** At most this many messageIds remembered per worker process: the bound on that memory. */
    dedupeMaxIds: number;
    /** A job active this long without its worker renewing the lock is taken back (worker died). */
    lockMs: number;
    /** `balise worker` alone serves GET /health and /metrics on this port when set. */
    metricsPort: number | undefined;
  };
}

type Env = Record<string, string | undefined>;

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function flag(env: Env, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new ConfigError(name, `expected true or false, got "${env[name]}"`);
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `not a URL: "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL, got "${parsed.protocol}"`);
  }
  return raw;
}

export function parseWriteKeys(raw: string | undefined): Map<string, string> {
  const keys = new Map<string, string>();
  if (!raw) return keys;
  for (const pair of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = pair.indexOf(':');
    const source = at > 0 ? pair.slice(0, at).trim() : '';
    const key = at > 0 ? pair.slice(at + 1).trim() : '';
    if (!source || !key) throw new ConfigError('BALISE_WRITE_KEYS', `expected "source:key" pairs, got "${pair}"`);
    if (key.length < 8) throw new ConfigError('BALISE_WRITE_KEYS', `key for source "${source}" is shorter than 8 characters`);
    if (keys.has(source)) throw new ConfigError('BALISE_WRITE_KEYS', `source "${source}" is listed twice`);
    keys.set(source, key);
  }
  return keys;
}

/** Tables that take a retention period (src/warehouse/retention.ts keeps the column each is aged by). */
export const RETENTION_TABLES = [
  'events',
  'events_before_003',
  'quarantine',
  'quarantine_before_005',
  'quarantine_replays',
  'identity_links',
  'identity_links_before_025',
  'privacy_requests',
  'audit_log',
] as const;
export type RetentionTable = (typeof RETENTION_TABLES)[number];

/** "events:395,quarantine:90" → table → days. */
export function parseRetention(raw: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const pair of (raw ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^([a-z_0-9]+)\s*:\s*(\d+)$/.exec(pair);
    if (!match) throw new ConfigError('BALISE_RETENTION_DAYS', `expected "table:days" pairs, got "${pair}"`);
    const [, table, days] = match as unknown as [string, string, string];
    if (!(RETENTION_TABLES as readonly string[]).includes(table)) throw new ConfigError('BALISE_RETENTION_DAYS', `"${table}" is not one of ${RETENTION_TABLES.join(', ')}`);
    if (Number(days) < 1 || Number(days) > 36_500) throw new ConfigError('BALISE_RETENTION_DAYS', `${table}: days must be between 1 and 36500, got ${days}`);
    if (out.has(table)) throw new ConfigError('BALISE_RETENTION_DAYS', `"${table}" is listed twice`);
    out.set(table, Number(days));
  }
  // The identity graph must outlive the events it stitches: without its links, a person's
  // anonymous events no longer count as theirs, and erasing the person leaves them behind.
  const links = out.get('identity_links') ?? Infinity;
  const events = out.get('events') ?? Infinity;
  if (links < events) {
    throw new ConfigError(
      'BALISE_RETENTION_DAYS',
      `identity_links (${links} days) must be kept at least as long as events (${events === Infinity ? 'forever' : `${events} days`}): an anonymous event whose link expired no longer belongs to its person, in funnels or in an erasure`,
    );
  }
  return out;
}

export const TOKEN_ROLES = ['viewer', 'analyst', 'admin'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** "pm:viewer:<sha256 hex>,ana:analyst:<sha256 hex>" (print one with `balise token new`). */
export function parseTokens(raw: string | undefined): Map<string, { name: string; role: TokenRole }> {
  const out = new Map<string, { name: string; role: TokenRole }>();
  const names = new Set<string>();
  for (const entry of (raw ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^([A-Za-z0-9_.@-]{1,64}):([a-z]+):([0-9a-f]{64})$/.exec(entry);
    if (!match) throw new ConfigError('BALISE_TOKENS', `expected "name:role:sha256-hex" entries, got "${entry.slice(0, 80)}"`);
    const [, name, role, hash] = match as unknown as [string, string, string, string];
    if (!(TOKEN_ROLES as readonly string[]).includes(role)) throw new ConfigError('BALISE_TOKENS', `${name}: role must be one of ${TOKEN_ROLES.join(', ')}, got "${role}"`);
    if (names.has(name) || out.has(hash)) throw new ConfigError('BALISE_TOKENS', `"${name}" (or its token) is listed twice`);
    names.add(name);
    out.set(hash, { name, role: role as TokenRole });
  }
  return out;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const logFormat = (env.LOG_FORMAT || 'auto') as LogFormat;
  if (!LOG_FORMATS.includes(logFormat)) throw new ConfigError('LOG_FORMAT', `expected one of ${LOG_FORMATS.join(', ')}, got "${env.LOG_FORMAT}"`);
  const database = env.CLICKHOUSE_DATABASE || 'balise';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new ConfigError('CLICKHOUSE_DATABASE', `not a valid identifier: "${database}"`);
  const cluster = env.CLICKHOUSE_CLUSTER || undefined;
  if (cluster && !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(cluster)) throw new ConfigError('CLICKHOUSE_CLUSTER', `not a valid cluster name: "${cluster}"`);
  // The embedded engine is one node: a cluster name there would be ignored, and the user would believe in a layout they do not have.
  if (cluster && !env.CLICKHOUSE_URL)
    throw new ConfigError('CLICKHOUSE_CLUSTER', `is "${cluster}" but CLICKHOUSE_URL is not set: a cluster needs ClickHouse servers (the embedded engine is one node)`);
  const adminToken = env.BALISE_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 16) throw new ConfigError('BALISE_ADMIN_TOKEN', 'must be at least 16 characters');
  const piiKey = env.BALISE_PII_KEY || undefined;
  if (piiKey !== undefined && piiKey.length < 32) throw new ConfigError('BALISE_PII_KEY', 'must be at least 32 characters');
  const timeZone = env.BALISE_TIMEZONE || undefined;
  if (timeZone !== undefined && !isTimeZone(timeZone)) throw new ConfigError('BALISE_TIMEZONE', `"${timeZone}" is not an IANA time zone (e.g. Europe/Paris, UTC)`);
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    apiProcesses: env.BALISE_API_PROCESSES ? integer(env, 'BALISE_API_PROCESSES', 0, 0, 64) : undefined,
    host: env.HOST || '127.0.0.1',
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    clickhouse: {
      url: url(env, 'CLICKHOUSE_URL', ['http:', 'https:']),
      user: env.CLICKHOUSE_USER || 'default',
      password: env.CLICKHOUSE_PASSWORD || '',
      database,
      cluster,
    },
    dataDir: path.resolve(cwd, env.BALISE_DATA_DIR || '.data'),
    planDir: path.resolve(cwd, env.BALISE_PLAN_DIR || 'tracking-plan'),
    writeKeys: parseWriteKeys(env.BALISE_WRITE_KEYS),
    adminToken,
    tokens: parseTokens(env.BALISE_TOKENS),
    piiKey,
    metabase: {
      url: url(env, 'METABASE_URL', ['http:', 'https:']),
      user: env.METABASE_USER || undefined,
      password: env.METABASE_PASSWORD || undefined,
    },
    logLevel,
    logFormat,
    noColor: Boolean(env.NO_COLOR),
    serverUrl: url(env, 'BALISE_URL', ['http:', 'https:'])?.replace(/\/+$/, ''),
    timeZone,
    kpisWritable: flag(env, 'BALISE_KPIS_WRITABLE'),
    ingest: {
      maxRequestBytes: integer(env, 'BALISE_MAX_REQUEST_BYTES', 500 * 1024, 1024, 100 * 1024 * 1024),
      maxEventBytes: integer(env, 'BALISE_MAX_EVENT_BYTES', 32 * 1024, 256, 10 * 1024 * 1024),
      maxBatchEvents: integer(env, 'BALISE_MAX_BATCH_EVENTS', 2500, 1, 100_000),
      maxQueueDepth: integer(env, 'BALISE_MAX_QUEUE_DEPTH', 20_000, 1, 10_000_000),
      maxRequestsInFlight: integer(env, 'BALISE_MAX_REQUESTS_IN_FLIGHT', 256, 1, 1_000_000),
      maxBytesInFlight: integer(env, 'BALISE_MAX_BYTES_IN_FLIGHT', 32 * 1024 * 1024, 1024, 64 * 1024 * 1024 * 1024),
      maxEventLoopDelayMs: integer(env, 'BALISE_MAX_EVENT_LOOP_DELAY_MS', 100, 1, 60_000),
      bodyTimeoutMs: integer(env, 'BALISE_BODY_TIMEOUT_MS', 10_000, 100, 600_000),
      headersTimeoutMs: integer(env, 'BALISE_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
      maxRequestWaitMs: integer(env, 'BALISE_MAX_REQUEST_WAIT_MS', 2000, 10, 600_000),
    },
    privacy: {
      suppressErased: flag(env, 'BALISE_SUPPRESS_ERASED'),
      retentionDays: parseRetention(env.BALISE_RETENTION_DAYS),
    },
    worker: {
      batchMaxRows: integer(env, 'BALISE_BATCH_MAX_ROWS', 20_000, 1, 10_000_000),
      batchMaxWaitMs: integer(env, 'BALISE_BATCH_MAX_WAIT_MS', 1000, 1, 600_000),
      concurrency: integer(env, 'BALISE_WORKER_CONCURRENCY', 400, 1, 100_000),
      attempts: integer(env, 'BALISE_INSERT_ATTEMPTS', 12, 1, 1000),
      backoffMs: integer(env, 'BALISE_INSERT_BACKOFF_MS', 500, 1, 3_600_000),
      dedupeWindowSeconds: integer(env, 'BALISE_DEDUPE_WINDOW_SECONDS', 3600, 1, 30 * 86_400),
      dedupeMaxIds: integer(env, 'BALISE_DEDUPE_MAX_IDS', 200_000, 0, 100_000_000),
      lockMs: integer(env, 'BALISE_WORKER_LOCK_MS', 30_000, 1000, 600_000),
      metricsPort: env.BALISE_WORKER_METRICS_PORT ? integer(env, 'BALISE_WORKER_METRICS_PORT', 0, 0, 65535) : undefined,
    },
  };
}
