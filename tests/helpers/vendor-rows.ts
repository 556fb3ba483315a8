import { expect } from 'vitest';
import type { Stack } from './stack.ts';

/** An `events` row as the vendor-SDK tests read it back, JSON columns parsed. */
export interface StoredEvent {
  message_id: string;
  type: string;
  event: string;
  user_id: string;
  anonymous_id: string;
  group_id: string;
  previous_id: string;
  ts: number;
  properties: Record<string, unknown>;
  traits: Record<string, unknown>;
  context: Record<string, unknown> & { library?: { name?: string; version?: string }; page?: Record<string, unknown>; userAgent?: string };
  library_name: string;
  plan_status: string;
}

interface RawRow extends Omit<StoredEvent, 'ts' | 'properties' | 'traits' | 'context'> {
  ts: string;
  properties: string;
  traits: string;
  context: string;
}

/**
 * Every stored row (no FINAL: a duplicate would show) whose user, anonymous or previous id starts
 * with `tag`, once `expected` rows are there and no more arrive for a moment.
 */
export async function storedEvents(stack: Stack, tag: string, expected: number, timeoutMs = 20_000): Promise<StoredEvent[]> {
  const read = async () =>
    (
      await stack.query<RawRow>(
        `SELECT message_id, type, event, user_id, anonymous_id, group_id, previous_id, toUnixTimestamp64Milli(timestamp) AS ts,
                properties, traits, context, library_name, plan_status
         FROM events WHERE startsWith(user_id, {tag:String}) OR startsWith(anonymous_id, {tag:String}) OR startsWith(previous_id, {tag:String})
         ORDER BY timestamp, message_id`,
        { tag },
      )
    ).map((row) => ({ ...row, ts: Number(row.ts), properties: JSON.parse(row.properties), traits: JSON.parse(row.traits), context: JSON.parse(row.context) }) as StoredEvent);
  const deadline = Date.now() + timeoutMs;
  let rows = await read();
  while (rows.length < expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    rows = await read();
  }
  // Let a late duplicate (a retry of something already stored) land before counting.
  await new Promise((r) => setTimeout(r, 400));
  rows = await read();
  expect(rows.length, `rows for ${tag}: ${rows.map((r) => `${r.type}:${r.event}`).join(', ')}`).toBe(expected);
  expect(new Set(rows.map((r) => r.message_id)).size).toBe(expected);
  const [quarantined] = await stack.query<{ n: string }>(`SELECT count() AS n FROM quarantine WHERE position(raw, {tag:String}) > 0`, { tag });
  expect(Number(quarantined!.n)).toBe(0);
  return rows;
}

/** The one stored row of `type` (and event name, for track and page). */
export function one(rows: StoredEvent[], type: string, event?: string): StoredEvent {
  const matching = rows.filter((r) => r.type === type && (event === undefined || r.event === event));
  expect(matching, `${type} ${event ?? ''}`).toHaveLength(1);
  return matching[0]!;
}
