/*
 * The one list of error codes, with the HTTP status each answers with (decision 0034). Every
 * error Balise raises on purpose carries one of these stable codes, and the code alone decides the
 * status when the error reaches a client, on `/v1` and `/api` alike. Clients and tests branch on
 * the codes: never rename one. A new code goes into the group of the surface that raises it.
 */

/** The ingest refuses a request (/v1, /api/s, /beacon, /sourceConfig) with one of these. */
export const INGEST_ERROR_STATUS = {
  invalid_utf8: 400,
  invalid_json: 400,
  invalid_body: 400,
  invalid_batch: 400,
  empty_batch: 400,
  batch_too_large: 400,
  invalid_gzip: 400,
  request_aborted: 400,
  /** The body could not be read; the answer keeps the body reader's own 4xx status. */
  invalid_request: 400,
  missing_write_key: 401,
  /** 404 on the settings route (`/v1/projects/:writeKey/settings`), as Segment's CDN answers. */
  invalid_write_key: 401,
  not_found: 404,
  /** An ingest path asked with another method than POST (a GET of /v1/track): it exists, for POST. */
  method_not_allowed: 405,
  body_timeout: 408,
  payload_too_large: 413,
  unsupported_encoding: 415,
  too_many_requests: 429,
  too_many_bytes: 429,
  overloaded: 503,
  queue_full: 503,
  queue_unavailable: 503,
  shutting_down: 503,
  // A batch-level context is held to the per-event rules: it refuses the whole request.
  too_deep: 400,
  forbidden_key: 400,
  /** Anything not raised on purpose (/v1 and /api alike). */
  internal_error: 500,
} as const satisfies Record<string, number>;

/** The read and admin API (/api) answers these, besides the ingest's not_found and internal_error. */
export const API_ERROR_STATUS = {
  unauthorized: 401,
  forbidden: 403,
  invalid_parameter: 400,
  invalid_argument: 400,
  invalid_date: 400,
  invalid_range: 400,
  invalid_breakdown: 400,
  invalid_attribution: 400,
  unknown_breakdown_property: 400,
  unknown_property: 400,
  invalid_ratio: 400,
  invalid_identifier: 400,
  invalid_live_filter: 400,
  invalid_subject: 400,
  identity_too_large: 400,
  explore_invalid: 400,
  sql_rejected: 400,
  sql_error: 400,
  query_timeout: 400,
  /** The engine stopped the query before it finished (a shutdown cancels analysts' queries): run it again. */
  query_cancelled: 503,
  kpi_definition_invalid: 400,
  plan_invalid: 400,
  alerts_invalid: 400,
  invalid_time_zone: 400,
  /** Save as code (POST /api/admin/kpis) is off on this server (BALISE_KPIS_WRITABLE). */
  kpi_write_disabled: 403,
  /** Save as code never overwrites: the id or the file exists already. */
  kpi_exists: 409,
  /** Another quarantine replay is running: two at once would both move the same events. */
  replay_running: 409,
  funnel_not_found: 404,
  retention_not_found: 404,
  person_not_found: 404,
  engine_unreachable: 502,
  engine_unavailable: 503,
} as const satisfies Record<string, number>;

/**
 * Raised by the CLI, start-up and tools, not answered over HTTP today; 400 (what the admin API
 * answered any deliberate error with before this list) if one ever is.
 */
export const TOOL_ERROR_STATUS = {
  usage: 400,
  invalid_since: 400,
  config_invalid: 400,
  dependency_missing: 400,
  migration_bad_name: 400,
  migration_duplicate_version: 400,
  migration_checksum_mismatch: 400,
  chdb_missing: 400,
  engine_locked: 400,
  redis_start_failed: 400,
  redis_unavailable: 400,
  redis_owner_missing: 400,
  port_in_use: 400,
  /** HOST does not resolve, is not this machine's, or PORT needs privileges: nothing can listen there. */
  listen_failed: 400,
  /** An API child of `up --api-processes` exited before it listened, without saying why. */
  api_process_failed: 400,
  /** A worker older than the API that queued the job: it fails, is retried, then dead-lettered. */
  job_layout_unknown: 400,
  /** A queued job whose rows key is gone (removed by hand, or lost by Redis): it fails, is retried, then dead-lettered. */
  job_rows_missing: 400,
  /** A queued job whose rows and ids differ in number: it fails rather than store a row under another's id. */
  job_rows_mismatch: 400,
  /** An insert's spool file took fewer bytes than it was given: the insert fails, and its jobs are retried. */
  spool_write_short: 400,
  plan_version_published: 400,
  plan_diff_base: 400,
  plan_exists: 400,
  /** `plan codegen --check`: the generated types are missing or older than the plan. */
  plan_codegen_stale: 400,
  write_key_missing: 400,
  admin_token_missing: 400,
  server_unreachable: 400,
  /** `plan views --apply`: the plan was reloaded, but another API process failed, did not answer, or holds other plan files (decision 0047). */
  plan_replicas_behind: 400,
  bench_unavailable: 400,
  demo_incomplete: 400,
  sdk_bundle_missing: 400,
  dashboard_missing: 400,
  import_checkpoint_invalid: 400,
  import_checkpoint_mismatch: 400,
  import_server_unavailable: 400,
  import_invalid_zip: 400,
  import_input_missing: 400,
  import_input_empty: 400,
  metabase_not_configured: 400,
  metabase_needs_clickhouse_server: 400,
  metabase_invalid_clickhouse_url: 400,
  metabase_invalid_question: 400,
  metabase_unreachable: 400,
  metabase_login_failed: 400,
  metabase_http_error: 400,
} as const satisfies Record<string, number>;

export const ERROR_STATUS = { ...INGEST_ERROR_STATUS, ...API_ERROR_STATUS, ...TOOL_ERROR_STATUS } as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * Why one event was quarantined instead of stored. Not an error: the request answers 200 and the
 * event is kept, with this code in its verdict (`results[].code`) and in its quarantine row.
 */
export const QUARANTINE_CODES = [
  'not_an_object',
  'invalid_type',
  'missing_event_name',
  'invalid_event_name',
  'invalid_id',
  'missing_identity',
  'invalid_field',
  'invalid_timestamp',
  'forbidden_key',
  'too_deep',
  'event_too_large',
  'plan_violation',
] as const;

export type QuarantineCode = (typeof QUARANTINE_CODES)[number];

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}

/** Every error Balise raises on purpose carries a stable, documented code. */
export class BaliseError extends Error {
  readonly code: string;
  constructor(
    code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An error another Balise process answered with (the CLI calling the API): its code is passed on as it came. */
export class RemoteError extends BaliseError {
  override readonly code: string;
  constructor(code: string, message: string) {
    super('internal_error', message);
    this.code = code;
  }
}

export class ConfigError extends BaliseError {
  constructor(variable: string, reason: string) {
    super('config_invalid', `${variable}: ${reason}`, { variable });
  }
}

export class MigrationError extends BaliseError {}

export class DependencyMissingError extends BaliseError {
  constructor(program: string, installHint: string) {
    super('dependency_missing', `${program} is not installed: ${installHint}`, { program });
  }
}

/**
 * An error answered with a status other than its code's: the settings route's 404, a body
 * reader's own 4xx. Everything else gets its status from ERROR_STATUS.
 */
export class HttpError extends BaliseError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details);
  }
}

/** Retry-After, in seconds, sent with 429 and 503 unless the caller says otherwise. */
const RETRY_AFTER_SECONDS = 2;

export interface RenderedError {
  status: number;
  headers: Record<string, string>;
  /**
   * The one error body of `/v1` and `/api`: `success: false` (what Segment clients read), the
   * stable `code`, a `message` for people, then the error's details (limits, lint messages).
   */
  body: { success: false; code: string; message: string; [detail: string]: unknown };
}

/**
 * Renders any error for an HTTP client. A BaliseError gets its code's status; anything else is a
 * fault of ours: 500 `internal_error`, with no detail (the caller logs it).
 */
export function renderError(error: unknown, options: { retryAfterSeconds?: number } = {}): RenderedError {
  const code: ErrorCode = error instanceof BaliseError && isErrorCode(error.code) ? error.code : 'internal_error';
  const known = code !== 'internal_error' && error instanceof BaliseError;
  const status = error instanceof HttpError ? error.status : ERROR_STATUS[code];
  const message = known ? error.message : 'internal error';
  const headers: Record<string, string> = status === 429 || status === 503 ? { 'Retry-After': String(options.retryAfterSeconds ?? RETRY_AFTER_SECONDS) } : {};
  return { status, headers, body: { success: false, code, message, ...(known ? error.details : {}) } };
}

/** The part of Node's HTTP response (express's included) that sendJson needs. */
export interface JsonResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: Buffer): unknown;
}

/** A JSON answer's bytes and the headers express's res.json sends with them, after `headers`. */
export function jsonAnswer(body: unknown, headers: Record<string, string> = {}): { headers: Record<string, string>; bytes: Buffer } {
  const bytes = Buffer.from(JSON.stringify(body));
  return { headers: { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(bytes.length) }, bytes };
}

/** Writes a JSON answer as express's res.json does (same headers, same bytes), straight to Node's response. */
export function sendJson(res: JsonResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const answer = jsonAnswer(body, headers);
  res.writeHead(status, answer.headers);
  res.end(answer.bytes);
}

export function sendError(res: JsonResponse, error: unknown, options?: { retryAfterSeconds?: number }): void {
  const { status, headers, body } = renderError(error, options);
  sendJson(res, status, body, headers);
}
