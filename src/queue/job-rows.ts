/**
 * The event lines of a queued job live beside it, as one payload of bytes under a key of their
 * own (decision 0045). This file names those keys, reads them back, and sweeps the ones whose job
 * is gone.
 */
import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { BaliseError } from '../errors.ts';
import { jsonLinesBytes, jsonLinesText } from '../warehouse/insert.ts';
import type { QueuedJobData } from './jobs.ts';

/** A job id of our own, so the rows key can name its job before the job exists. */
export function newJobId(): string {
  return randomBytes(12).toString('base64url');
}

/**
 * Where a job's event lines are stored, in the queue's key space (`queue.qualifiedName`, which
 * keeps the `{hash tag}`). The time of writing ends the key, so the sweep leaves alone rows
 * whose job is still on its way to Redis.
 */
export function rowsKey(qualifiedName: string, jobId: string, writtenAt = Date.now()): string {
  return `${qualifiedName}:rows:${jobId}:${writtenAt.toString(36)}`;
}

/** The job id and time of writing a rows key names, or undefined for another key. */
export function parseRowsKey(qualifiedName: string, key: string): { jobId: string; writtenAt: number } | undefined {
  const head = `${qualifiedName}:rows:`;
  const match = key.startsWith(head) ? /^([A-Za-z0-9_-]+):([0-9a-z]+)$/.exec(key.slice(head.length)) : null;
  return match ? { jobId: match[1]!, writtenAt: Number.parseInt(match[2]!, 36) } : undefined;
}

/**
 * What is stored under a rows key: the lines joined by newlines, handed to ioredis as a string,
 * which it writes to its socket as it is. Given a Buffer, ioredis copies it, with the rest of the
 * command, into a second Buffer. Both lie outside the JavaScript heap, and at a job's size (up to
 * 2,000 lines, about 1 MB) they made the API process collect garbage more often. Redis holds the
 * same bytes either way: the lines are well-formed text (rows.ts, wellFormedStringify).
 */
export function jobRowsPayload(lines: readonly string[]): string {
  return jsonLinesText(lines);
}

/** A job's event lines as one payload: read from their key, or from the job itself when they ride inline (a small job, 0054, or one an API before 0045 queued). */
export async function readJobRows(redis: Redis, data: QueuedJobData): Promise<Buffer> {
  if (data.rows === undefined) return jsonLinesBytes(data.events ?? []);
  const payload = await redis.getBuffer(data.rows);
  if (payload === null) throw new BaliseError('job_rows_missing', `the event rows of this job (${data.rows}) are not in Redis: they were removed by hand, or Redis lost them`);
  return payload;
}

/**
 * Removes the rows keys whose job is gone or points elsewhere, once older than `graceMs`: the
 * worker died between a job's completion and the removal of its rows, a job was removed by hand,
 * an API process died between storing rows and adding their job, or an erasure rewrote them.
 * Rows younger than the grace may belong to a job being added. Returns how many were removed.
 */
export async function sweepOrphanRows(redis: Redis, queue: Queue<QueuedJobData>, graceMs: number, now = Date.now()): Promise<number> {
  await queue.waitUntilReady();
  let removed = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${queue.qualifiedName}:rows:*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const named = parseRowsKey(queue.qualifiedName, key);
      if (!named || now - named.writtenAt < graceMs) continue;
      const job = await queue.getJob(named.jobId);
      if (job?.data.rows !== key) removed += await redis.unlink(key);
    }
  } while (cursor !== '0');
  return removed;
}

/** Sweeps now and then every `intervalMs` (Redis unreachable: the next turn tries again); returns the stop. */
export function startRowsSweep(redis: Redis, queue: Queue<QueuedJobData>, options: { graceMs: number; intervalMs: number }, onSwept: (removed: number) => void): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout;
  const turn = async () => {
    const removed = await sweepOrphanRows(redis, queue, options.graceMs).catch(() => 0);
    if (removed > 0) onSwept(removed);
    // Never what keeps a process alive.
    if (!stopped) timer = setTimeout(() => void turn(), options.intervalMs).unref();
  };
  timer = setTimeout(() => void turn(), 0).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
