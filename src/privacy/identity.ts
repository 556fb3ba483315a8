/**
 * Every id of one person, as identity stitching links them: `identity_links` (anonymousId →
 * userId on identified events, previousId → userId on aliases), followed transitively from the
 * id asked for, plus the same pairs on quarantined events (never loaded, so not in the links).
 */
import { BaliseError } from '../errors.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';

/** A stitched person past this many ids is a shared id (a test device, a constant anonymousId), not a person. */
export const MAX_IDS = 10_000;
const MAX_ROUNDS = 50;

const QUARANTINE_PAIRS = `
  SELECT JSONExtractString(raw, 'userId') AS user_id, arrayJoin([JSONExtractString(raw, 'anonymousId'), JSONExtractString(raw, 'previousId')]) AS other
  FROM quarantine
  WHERE user_id != '' AND other != '' AND (user_id IN {ids:Array(String)} OR other IN {ids:Array(String)})`;

/** `pending`: links not in the warehouse yet (the queued rows', see queued.ts queuedLinks). */
export async function resolveIds(warehouse: Warehouse, subject: string, pending: readonly (readonly [string, string])[] = []): Promise<string[]> {
  if (subject.trim() === '') throw new BaliseError('invalid_subject', 'the id to resolve is empty');
  const ids = new Set([subject]);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const rows = await queryRows<{ a: string; b: string }>(
      warehouse,
      `SELECT alias_id AS a, user_id AS b FROM identity_links WHERE alias_id IN {ids:Array(String)} OR user_id IN {ids:Array(String)}
       UNION DISTINCT
       SELECT user_id AS a, other AS b FROM (${QUARANTINE_PAIRS})`,
      { ids: [...ids] },
    );
    const before = ids.size;
    for (const { a, b } of [...rows, ...pending.filter(([a, b]) => ids.has(a) || ids.has(b)).map(([a, b]) => ({ a, b }))]) {
      if (a) ids.add(a);
      if (b) ids.add(b);
    }
    if (ids.size > MAX_IDS) throw new BaliseError('identity_too_large', `"${subject}" links to more than ${MAX_IDS} ids: it is shared by many people, not one person's id`);
    if (ids.size === before) return [...ids].sort();
  }
  return [...ids].sort();
}
