/**
 * Sends one import batch to the running server, retrying what is worth retrying: connection
 * errors and 429/502/503/504 (honouring Retry-After), with exponential backoff and jitter.
 * Any other refusal is final and named by the server's error code.
 */
import { BaliseError, RemoteError } from '../errors.ts';
import type { Verdict } from './checkpoint.ts';

export interface SendOptions {
  url: string;
  writeKey: string;
  /** Attempts before giving up on one batch (the checkpoint keeps what was acknowledged). */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  onRetry?: (reason: string) => void;
  /** A request unanswered this long is abandoned and retried (its events, if stored, are deduplicated). */
  timeoutMs?: number;
}

const RETRYABLE = new Set([429, 502, 503, 504]);

export function backoffMs(attempt: number, base: number, max: number, retryAfterSeconds?: number): number {
  if (retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0) return Math.min(max, retryAfterSeconds * 1000);
  const ceiling = Math.min(max, base * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function sendBatch(body: string, options: SendOptions): Promise<Verdict> {
  const maxAttempts = options.maxAttempts ?? 12;
  const base = options.baseDelayMs ?? 250;
  const max = options.maxDelayMs ?? 30_000;
  const authorization = `Basic ${Buffer.from(`${options.writeKey}:`).toString('base64')}`;
  let lastReason = '';
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    let response: Response;
    try {
      response = await fetch(options.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body, signal: AbortSignal.timeout(options.timeoutMs ?? 120_000) });
    } catch (error) {
      lastReason = `unreachable (${(error as Error).message})`;
      options.onRetry?.(lastReason);
      await sleep(backoffMs(attempt, base, max));
      continue;
    }
    const payload = (await response.json().catch(() => ({}))) as { accepted?: unknown; quarantined?: unknown; suppressed?: unknown; code?: unknown; message?: unknown };
    if (response.ok) return { accepted: Number(payload.accepted ?? 0), quarantined: Number(payload.quarantined ?? 0), suppressed: Number(payload.suppressed ?? 0) };
    if (!RETRYABLE.has(response.status)) {
      const code = typeof payload.code === 'string' ? payload.code : `http_${response.status}`;
      throw new RemoteError(code, `the server refused an import batch: ${typeof payload.message === 'string' ? payload.message : `HTTP ${response.status}`}`);
    }
    lastReason = `HTTP ${response.status}${typeof payload.code === 'string' ? ` ${payload.code}` : ''}`;
    options.onRetry?.(lastReason);
    const retryAfter = response.headers.get('retry-after');
    await sleep(backoffMs(attempt, base, max, retryAfter === null ? undefined : Number(retryAfter)));
  }
  throw new BaliseError('import_server_unavailable', `gave up on a batch after ${maxAttempts} attempts (${lastReason}); run the same command again to resume`);
}
