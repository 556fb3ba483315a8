/**
 * People and entities: resolve any id of a person (userId, anonymousId, an aliased previousId) to
 * the stitched person the analytics use, and list everything they did with the plan's verdict,
 * quarantined events included. An entity (e.g. mission_id = msn_1) gets the same timeline.
 */
import { AnalyticsInputError } from '../analytics/errors.ts';
import { IDENTITY_JOIN, IDENTITY_LINKS_SUBQUERY, keyLiteral, PERSON, propertyText } from '../analytics/sql-common.ts';
import { RAW_OWNER } from '../privacy/tables.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';

export const TIMELINE_LIMIT = 1000;

export interface TimelineEvent {
  message_id: string;
  type: string;
  event: string;
  timestamp: string;
  user_id: string;
  anonymous_id: string;
  /** valid | warned | unplanned (stored in `events`) or quarantined (held in `quarantine`). */
  verdict: string;
  plan_version: string;
  /** Rules broken (violation rule codes); empty when valid. */
  reasons: string[];
  properties: string;
}

export interface Timeline {
  /** person: the stitched person id and every id that resolves to it; entity: property = value. */
  subject: { kind: 'person'; person: string; ids: string[] } | { kind: 'entity'; property: string; value: string };
  events: TimelineEvent[];
  truncated: boolean;
}

const MAX_ID = 512;

function checkId(id: string, what: string): string {
  if (!id || id.length > MAX_ID) throw new AnalyticsInputError('invalid_parameter', `${what} must be 1 to ${MAX_ID} characters`);
  return id;
}

interface Row extends Omit<TimelineEvent, 'reasons'> {
  reasons: string[] | string;
  violations: string;
}

/**
 * Stored and held rows as one timeline, oldest first. A held (quarantined) row whose message was
 * stored since, as the client's resend, is shown once, as stored.
 */
function shape(stored: Row[], held: Row[]): { events: TimelineEvent[]; truncated: boolean } {
  const storedIds = new Set(stored.map((r) => r.message_id));
  const events = [...stored, ...held.filter((r) => !storedIds.has(r.message_id))]
    .map(({ violations, ...r }) => {
      const reasons = Array.isArray(r.reasons) ? r.reasons : ruleCodes(violations);
      return { ...r, reasons };
    })
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.message_id.localeCompare(b.message_id));
  return { events: events.slice(0, TIMELINE_LIMIT), truncated: events.length > TIMELINE_LIMIT };
}

/** Rule codes out of an event row's `violations` JSON (warned events keep theirs there). */
function ruleCodes(violations: string): string[] {
  if (!violations) return [];
  try {
    const parsed = JSON.parse(violations) as unknown;
    return Array.isArray(parsed) ? [...new Set(parsed.map((v) => String((v as { rule?: unknown }).rule ?? '')).filter(Boolean))] : [];
  } catch {
    return [];
  }
}

const EVENT_COLUMNS = `e.message_id AS message_id, toString(e.type) AS type, toString(e.event) AS event, toString(e.timestamp) AS timestamp, e.user_id AS user_id, e.anonymous_id AS anonymous_id,
  toString(e.plan_status) AS verdict, toString(e.plan_version) AS plan_version, e.violations AS violations, [] AS reasons, e.properties AS properties`;

/** Held events are not in `events` until replayed; a replayed one is shown once, from `events`. */
const QUARANTINE_COLUMNS = `q.message_id AS message_id, toString(q.type) AS type, q.event AS event, toString(fromUnixTimestamp64Milli(toInt64(JSONExtractFloat(q.raw, 'timestamp')), 'UTC')) AS timestamp,
  JSONExtractString(q.raw, 'userId') AS user_id, JSONExtractString(q.raw, 'anonymousId') AS anonymous_id, 'quarantined' AS verdict, toString(q.plan_version) AS plan_version,
  '' AS violations, arrayMap(r -> toString(r), q.reasons) AS reasons, JSONExtractRaw(q.raw, 'properties') AS properties`;
const NOT_REPLAYED = `q.message_id NOT IN (SELECT message_id FROM quarantine_replays)`;

/**
 * The person behind `id`: the user an anonymous or aliased id was first linked to (the same rule
 * as the funnels' and metrics' PERSON), else the id itself. Their ids: that person plus every id
 * linked to them. Null when no event carries any of them.
 */
export async function resolvePerson(warehouse: Warehouse, id: string): Promise<{ person: string; ids: string[] } | null> {
  checkId(id, 'the id');
  const [link] = await queryRows<{ linked_user: string }>(warehouse, `SELECT linked_user FROM ${IDENTITY_LINKS_SUBQUERY} WHERE alias_id = {id:String}`, { id });
  const person = link?.linked_user || id;
  const aliases = await queryRows<{ alias_id: string }>(warehouse, `SELECT alias_id FROM ${IDENTITY_LINKS_SUBQUERY} WHERE linked_user = {person:String} ORDER BY alias_id`, { person });
  const ids = [person, ...aliases.map((a) => a.alias_id).filter((a) => a !== person)];
  const [seen] = await queryRows<{ n: string }>(
    warehouse,
    `SELECT (SELECT count() FROM events WHERE user_id IN {ids:Array(String)} OR anonymous_id IN {ids:Array(String)})
          + (SELECT count() FROM quarantine WHERE JSONExtractString(raw, 'userId') IN {ids:Array(String)} OR JSONExtractString(raw, 'anonymousId') IN {ids:Array(String)}) AS n`,
    { ids },
  );
  return Number(seen?.n ?? 0) > 0 ? { person, ids } : null;
}

/** Every event of a stitched person, oldest first, with the plan's verdict. */
export async function personTimeline(warehouse: Warehouse, id: string): Promise<Timeline | null> {
  const resolved = await resolvePerson(warehouse, id);
  if (!resolved) return null;
  const params = { ids: resolved.ids, person: resolved.person, limit: TIMELINE_LIMIT + 1 };
  const [stored, held] = await Promise.all([
    // Candidates by any of the ids, kept only when the stitching rule gives this person (an
    // anonymous id linked to someone else first stays with that someone, as in the funnels).
    queryRows<Row>(
      warehouse,
      `SELECT ${EVENT_COLUMNS} FROM events AS e FINAL ${IDENTITY_JOIN}
        WHERE (e.user_id IN {ids:Array(String)} OR e.anonymous_id IN {ids:Array(String)}) AND ${PERSON} = {person:String}
        ORDER BY e.timestamp LIMIT 1 BY message_id LIMIT {limit:UInt32} SETTINGS join_use_nulls = 0`,
      params,
    ),
    queryRows<Row>(
      warehouse,
      `SELECT ${QUARANTINE_COLUMNS} FROM quarantine AS q
        WHERE ${RAW_OWNER} IN {ids:Array(String)} AND ${NOT_REPLAYED}
        ORDER BY q.received_at LIMIT 1 BY message_id LIMIT {limit:UInt32}`,
      params,
    ),
  ]);
  return { subject: { kind: 'person', ...resolved }, ...shape(stored, held) };
}

/** Every event carrying `property` = `value` (text comparison, as the funnels' entity), oldest first. */
export async function entityTimeline(warehouse: Warehouse, property: string, value: string): Promise<Timeline> {
  checkId(value, 'the value');
  const key = keyLiteral(property);
  const params = { value, limit: TIMELINE_LIMIT + 1 };
  const [stored, held] = await Promise.all([
    queryRows<Row>(
      warehouse,
      `SELECT ${EVENT_COLUMNS} FROM events AS e FINAL WHERE JSONHas(e.properties, ${key}) AND ${propertyText('e.properties', key)} = {value:String}
        ORDER BY e.timestamp LIMIT 1 BY message_id LIMIT {limit:UInt32}`,
      params,
    ),
    queryRows<Row>(
      warehouse,
      `SELECT ${QUARANTINE_COLUMNS} FROM quarantine AS q
        WHERE ${propertyText("JSONExtractRaw(q.raw, 'properties')", key)} = {value:String} AND ${NOT_REPLAYED}
        ORDER BY q.received_at LIMIT 1 BY message_id LIMIT {limit:UInt32}`,
      params,
    ),
  ]);
  return { subject: { kind: 'entity', property, value }, ...shape(stored, held) };
}
