import { describe, expect, it } from 'vitest';
import { API_ERROR_STATUS, BaliseError, ERROR_STATUS, HttpError, INGEST_ERROR_STATUS, QUARANTINE_CODES, RemoteError, TOOL_ERROR_STATUS, renderError, sendError } from '../../src/errors.ts';

describe('the error contract (src/errors.ts)', () => {
  it('lists each code once, in one group', () => {
    const all = [INGEST_ERROR_STATUS, API_ERROR_STATUS, TOOL_ERROR_STATUS].flatMap((group) => Object.keys(group));
    expect(all.length).toBeGreaterThan(60);
    expect(new Set(all).size).toBe(all.length);
    expect(Object.keys(ERROR_STATUS).sort()).toEqual([...all].sort());
    for (const code of all) expect(code).toMatch(/^[a-z][a-z0-9_]*$/);
  });

  it.each([
    ['invalid_json', 400],
    ['missing_write_key', 401],
    ['not_found', 404],
    ['payload_too_large', 413],
    ['unsupported_encoding', 415],
    ['funnel_not_found', 404],
    ['retention_not_found', 404],
    ['person_not_found', 404],
    ['sql_error', 400],
    ['plan_invalid', 400],
    ['unauthorized', 401],
    ['forbidden', 403],
    ['engine_unreachable', 502],
  ] as const)('renders %s as %i with success: false, its code and message', (code, status) => {
    expect(renderError(new BaliseError(code, 'why'))).toEqual({ status, headers: {}, body: { success: false, code, message: 'why' } });
  });

  it('answers every *_not_found code with 404 and no other code with 404, as the admin API did before the list', () => {
    for (const [code, status] of Object.entries(ERROR_STATUS)) expect(status === 404, code).toBe(code.endsWith('not_found'));
  });

  it('asks for a retry on 429 and 503, after 2 s unless told otherwise', () => {
    expect(renderError(new BaliseError('too_many_requests', 'slow down')).headers).toEqual({ 'Retry-After': '2' });
    expect(renderError(new BaliseError('queue_full', 'full')).headers).toEqual({ 'Retry-After': '2' });
    expect(renderError(new BaliseError('engine_unavailable', 'later'), { retryAfterSeconds: 5 }).headers).toEqual({ 'Retry-After': '5' });
    expect(renderError(new BaliseError('invalid_json', 'bad')).headers).toEqual({});
  });

  it('keeps the details (limits, lint messages) in the body, and an HttpError its own status', () => {
    expect(renderError(new BaliseError('batch_too_large', 'too many', { maxBatchEvents: 3 })).body).toEqual({ success: false, code: 'batch_too_large', message: 'too many', maxBatchEvents: 3 });
    expect(renderError(new HttpError(404, 'invalid_write_key', 'unknown write key')).status).toBe(404);
  });

  it('answers anything else as 500 internal_error and says nothing of it', () => {
    for (const error of [new Error('secret path /etc/x'), 'boom', new RemoteError('something_remote', 'from elsewhere')]) {
      expect(renderError(error)).toEqual({ status: 500, headers: {}, body: { success: false, code: 'internal_error', message: 'internal error' } });
    }
  });

  it('writes the rendered error to a response, with the headers res.json of express would send', () => {
    const written: { headers?: Record<string, string>; status?: number; body?: unknown } = {};
    const res = {
      writeHead: (status: number, headers: Record<string, string>) => Object.assign(written, { status, headers }),
      end: (body: Buffer) => (written.body = JSON.parse(body.toString())),
    };
    sendError(res, new BaliseError('overloaded', 'busy'));
    const bytes = JSON.stringify({ success: false, code: 'overloaded', message: 'busy' }).length;
    expect(written).toEqual({
      headers: { 'Retry-After': '2', 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(bytes) },
      status: 503,
      body: { success: false, code: 'overloaded', message: 'busy' },
    });
  });

  it('passes a remote code on as it came', () => {
    expect(new RemoteError('funnel_not_found', 'no funnel').code).toBe('funnel_not_found');
  });

  it('keeps plan violations and malformed events apart from errors: they are quarantine verdicts', () => {
    expect(QUARANTINE_CODES).toContain('plan_violation');
    expect(Object.keys(ERROR_STATUS)).not.toContain('plan_violation');
  });
});
