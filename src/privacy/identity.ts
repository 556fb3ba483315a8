/**
 * The ids of one person, as identity stitching and every KPI count them: an id belongs to the
 * user it was linked to first (`identity_links`: anonymousId → userId on identified events,
 * previousId → userId on aliases, the earliest link of each id winning, as `persons` and
 * src/analytics/sql-common.ts read it), plus the same pairs on quarantined events (never loaded,
 * so not in the links) and on rows still queued. A device shared by two users belongs to the one
 * who used it first: erasing or exporting the other never reaches the first one's data.
 */
import { BaliseError } from '../errors.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';

/** A stitched person past this many ids is a shared id (a test device, a constant anonymousId), not a person. */
export const MAX_IDS = 10_000;
const MAX_ROUNDS = 50;

/**
 * One link: `alias` (an anonymous or previous id) was linked to `user` at `at` (epoch ms).
 * `rank` orders the sources before time: a stored link (0), then one still queued (1, stored
 * soon), then one only a quarantined event makes (2). A device that a stored identify gives to one
 * user is that user's, as in every funnel and timeline, even if a quarantined event of another
 * user named it earlier; a device only a quarantined event names is that event's user's.
 */
interface Link {
  alias: string;
  user: string;
  at: number;
  rank: 0 | 1 | 2;
}

const LINKS = `
  SELECT alias_id AS alias, user_id AS user, toUnixTimestamp64Milli(first_seen) AS at, 0 AS rank
  FROM identity_links
  WHERE alias_id IN {ids:Array(String)} OR user_id IN {ids:Array(String)}
  UNION ALL
  SELECT alias, user, at, 2 AS rank FROM (
    SELECT JSONExtractString(raw, 'userId') AS user,
           arrayJoin([JSONExtractString(raw, 'anonymousId'), JSONExtractString(raw, 'previousId')]) AS alias,
           toUnixTimestamp64Milli(received_at) AS at
    FROM quarantine
    WHERE user != '' AND alias != '' AND (user IN {ids:Array(String)} OR alias IN {ids:Array(String)}))`;

/**
 * `pending`: [user, alias] links not in the warehouse yet (the queued rows', see queued.ts
 * queuedLinks), later than every stored one.
 */
export async function resolveIds(warehouse: Warehouse, subject: string, pending: readonly (readonly [string, string])[] = []): Promise<string[]> {
  if (subject.trim() === '') throw new BaliseError('invalid_subject', 'the id to resolve is empty');
  /** Every link that names one of `ids`, stored or pending. */
  const linksOf = async (ids: readonly string[]): Promise<Link[]> => {
    const wanted = new Set(ids);
    const stored = await queryRows<{ alias: string; user: string; at: string | number; rank: string | number }>(warehouse, LINKS, { ids });
    return [
      ...stored.map((l) => ({ alias: l.alias, user: l.user, at: Number(l.at), rank: Number(l.rank) === 0 ? (0 as const) : (2 as const) })),
      ...pending.filter(([user, alias]) => wanted.has(user) || wanted.has(alias)).map(([user, alias], i) => ({ alias, user, at: i, rank: 1 as const })),
    ];
  };
  /** The user each alias was linked to first, among `links`. */
  const firstUsers = (links: readonly Link[]): Map<string, string> => {
    const first = new Map<string, Link>();
    for (const link of links) {
      if (link.alias === link.user) continue;
      const known = first.get(link.alias);
      if (!known || link.rank < known.rank || (link.rank === known.rank && (link.at < known.at || (link.at === known.at && link.user < known.user)))) first.set(link.alias, link);
    }
    return new Map([...first].map(([alias, link]) => [alias, link.user]));
  };

  // Up: the person the subject belongs to (an anonymous id → its user; an aliased user → the new one).
  let person = subject;
  const visited = new Set([subject]);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const owner = firstUsers(await linksOf([person])).get(person);
    if (owner === undefined || visited.has(owner)) break;
    visited.add(owner);
    person = owner;
  }

  // Down: every id whose first link leads to the person, however many hops (anonymous id → old user id → new one).
  const ids = new Set([person]);
  let frontier = [person];
  for (let round = 0; round < MAX_ROUNDS && frontier.length > 0; round++) {
    const from = new Set(frontier);
    const candidates = [...new Set((await linksOf(frontier)).filter((l) => from.has(l.user) && !ids.has(l.alias)).map((l) => l.alias))];
    if (candidates.length === 0) break;
    const owners = firstUsers(await linksOf(candidates));
    frontier = candidates.filter((alias) => ids.has(owners.get(alias) ?? ''));
    for (const id of frontier) ids.add(id);
    if (ids.size > MAX_IDS) throw new BaliseError('identity_too_large', `"${subject}" links to more than ${MAX_IDS} ids: it is shared by many people, not one person's id`);
  }
  return [...ids].sort();
}
