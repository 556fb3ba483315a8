import { EVENT_TYPES, type EventType, type JsonObject, type NormalizedEvent } from '../types.ts';
import { parseIsoDateTime } from '../util/dates.ts';
import { isPlainObject } from '../util/objects.ts';
import type { QuarantineCode } from '../errors.ts';

// Re-exported: the ingest's files import it from here.

/** Why one event could not be normalised; the event is kept in quarantine with this code. */
export interface EventRejection {
  code: Exclude<QuarantineCode, 'plan_violation'>;
  message: string;
  /** The field at fault as a JSON pointer (`/timestamp`, `/userId`), when there is one. */
  path?: string;
}

/** What checkStructure finds: the codes a batch-level context can also be refused with. */
export interface StructureProblem extends EventRejection {
  code: 'too_deep' | 'forbidden_key';
}

export type NormalizeResult = { ok: true; event: NormalizedEvent } | { ok: false; rejection: EventRejection };

export interface NormalizeContext {
  receivedAt: number;
  source: string;
  /** Set by the single-event routes (/v1/track …); batch items carry their own `type`. */
  routeType?: EventType;
  /** Batch-level fields the Segment spec lets events inherit. */
  batchContext?: JsonObject;
  batchSentAt?: unknown;
  /**
   * Imported history (`POST /v1/import`): the archive's timestamp is already the corrected one,
   * and its sentAt is years before our receivedAt, so no clock-skew correction is applied.
   */
  historical?: boolean;
  /** Gives an event without a messageId its id (the ingest passes randomUUID; a test, a fixed sequence). */
  newId: () => string;
  /** A browser request's address (request-ip.ts): the `context.ip` of an event that has none. */
  requestIp?: string;
}

export const MAX_DEPTH = 16;
const MAX_ID_LENGTH = 255;
const MAX_EVENT_NAME_LENGTH = 200;
const EARLIEST_TIMESTAMP = Date.UTC(2000, 0, 1);
/** After clock-skew correction a timestamp can only be in the future by this much. */
const MAX_FUTURE_MS = 24 * 3600 * 1000;
const STORABLE_MIN = Date.UTC(1900, 0, 1);
const STORABLE_MAX = Date.UTC(2299, 11, 31);
/**
 * Keys that can pollute prototypes once a parsed body meets a naive merge or Object.assign:
 * `__proto__` directly, and `constructor.prototype` as a two-step path. `constructor` alone is a
 * legitimate property name (a builder's name, a design field) and is harmless without a
 * `prototype` under it, as is `prototype` anywhere else on a plain object.
 */
const PROTO_KEY = '__proto__';
/** A lone UTF-16 surrogate (JSON's "\ud800" escape): with the u flag a valid pair is one code point. */
const LONE_SURROGATE = /\p{Cs}/u;

function reject(code: EventRejection['code'], message: string, path?: string): NormalizeResult {
  return { ok: false, rejection: path ? { code, message, path } : { code, message } };
}

/** Depth and key check in one walk; returns the first problem found. */
export function checkStructure(value: unknown, depth = 0, underConstructor = false): StructureProblem | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > MAX_DEPTH) return { code: 'too_deep', message: `nesting deeper than ${MAX_DEPTH} levels` };
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = checkStructure(item, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  // for-in, not Object.keys: no array of keys per object, 2-4 times faster on events. A parsed
  // object's prototype has no enumerable keys, so it visits the same keys.
  for (const key in value) {
    if (key === PROTO_KEY || (underConstructor && key === 'prototype')) {
      return { code: 'forbidden_key', message: underConstructor ? `key "constructor.prototype" is not allowed` : `key "${key}" is not allowed` };
    }
    const problem = checkStructure((value as Record<string, unknown>)[key], depth + 1, key === 'constructor');
    if (problem) return problem;
  }
  return undefined;
}

/** A copy cut at `maxDepth`, so an event refused for its nesting can still be kept (and serialised). */
export function truncateDepth(value: unknown, maxDepth = MAX_DEPTH, depth = 0): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= maxDepth) return '[truncated: nested too deep]';
  if (Array.isArray(value)) return value.map((item) => truncateDepth(item, maxDepth, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = truncateDepth(item, maxDepth, depth + 1);
  return copy;
}

/** ISO 8601 date-time strings (Segment's format; util/dates.ts) or epoch milliseconds; nothing else. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value.length > 64) return undefined;
  return parseIsoDateTime(value.trim());
}

/** DateTime64(3) holds 1900-01-01 … 2299-12-31: a device clock outside that is not kept. */
function storableTime(ms: number | undefined): number | null {
  return ms === undefined || ms < STORABLE_MIN || ms > STORABLE_MAX ? null : Math.round(ms);
}

function optionalId(raw: Record<string, unknown>, field: string): string | EventRejection {
  const value = raw[field];
  if (value === undefined || value === null || value === '') return '';
  if (typeof value !== 'string') return { code: 'invalid_id', message: `${field} must be a string, got ${typeof value}`, path: `/${field}` };
  if (value.length > MAX_ID_LENGTH) return { code: 'invalid_id', message: `${field} is longer than ${MAX_ID_LENGTH} characters`, path: `/${field}` };
  // Not Unicode: every encoder downstream (Redis keys, ClickHouse) turns it into U+FFFD, so two
  // different ids would become one (a dropped "duplicate", two people merged).
  if (LONE_SURROGATE.test(value)) return { code: 'invalid_id', message: `${field} contains a lone UTF-16 surrogate (not valid Unicode)`, path: `/${field}` };
  return value;
}

/** Absent means empty; anything but a plain object is refused. Returns undefined when refused. */
function optionalObject(raw: Record<string, unknown>, field: string): JsonObject | undefined {
  const value = raw[field];
  if (value === undefined || value === null) return {};
  return isPlainObject(value) ? (value as JsonObject) : undefined;
}

/**
 * Turns one Segment-spec event into a NormalizedEvent, or says why it cannot be stored as an
 * event. Pure: the clock, the source and the id source come in through `ctx`.
 */
export function normalizeEvent(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  if (!isPlainObject(raw)) return reject('not_an_object', 'each event must be a JSON object');
  const structure = checkStructure(raw);
  if (structure) return { ok: false, rejection: structure };

  const type = ctx.routeType ?? raw.type;
  if (typeof type !== 'string' || !EVENT_TYPES.includes(type as EventType)) {
    return reject('invalid_type', `type must be one of ${EVENT_TYPES.join(', ')}`, '/type');
  }
  const eventType = type as EventType;

  let event = '';
  if (eventType === 'track') {
    if (raw.event === undefined || raw.event === null || raw.event === '') return reject('missing_event_name', 'track events need an "event" name', '/event');
    if (typeof raw.event !== 'string' || raw.event.length > MAX_EVENT_NAME_LENGTH)
      return reject('invalid_event_name', `event must be a string of at most ${MAX_EVENT_NAME_LENGTH} characters`, '/event');
    if (LONE_SURROGATE.test(raw.event)) return reject('invalid_event_name', 'event contains a lone UTF-16 surrogate (not valid Unicode)', '/event');
    event = raw.event;
  } else if (eventType === 'page' || eventType === 'screen') {
    if (raw.name !== undefined && raw.name !== null) {
      if (typeof raw.name !== 'string' || raw.name.length > MAX_EVENT_NAME_LENGTH) return reject('invalid_event_name', `name must be a string of at most ${MAX_EVENT_NAME_LENGTH} characters`, '/name');
      if (LONE_SURROGATE.test(raw.name)) return reject('invalid_event_name', 'name contains a lone UTF-16 surrogate (not valid Unicode)', '/name');
      event = raw.name;
    }
  }

  const ids: Record<'userId' | 'anonymousId' | 'groupId' | 'previousId' | 'messageId', string> = { userId: '', anonymousId: '', groupId: '', previousId: '', messageId: '' };
  for (const field of Object.keys(ids) as (keyof typeof ids)[]) {
    const value = optionalId(raw, field);
    if (typeof value !== 'string') return { ok: false, rejection: value };
    ids[field] = value;
  }
  if (!ids.userId && !ids.anonymousId) return reject('missing_identity', 'userId or anonymousId is required');
  if (eventType === 'alias' && !ids.previousId) return reject('invalid_id', 'alias events need a previousId', '/previousId');
  // An alias merges previousId into userId: without the userId it links nothing.
  if (eventType === 'alias' && !ids.userId) return reject('invalid_id', 'alias events need a userId (the id previousId becomes)', '/userId');
  if (eventType === 'group' && !ids.groupId) return reject('invalid_id', 'group events need a groupId', '/groupId');

  let properties = optionalObject(raw, 'properties');
  let traits = optionalObject(raw, 'traits');
  const ownContext = optionalObject(raw, 'context');
  if (!properties) return reject('invalid_field', 'properties must be an object', '/properties');
  if (!traits) return reject('invalid_field', 'traits must be an object', '/traits');
  if (!ownContext) return reject('invalid_field', 'context must be an object', '/context');
  let context = ctx.batchContext ? { ...ctx.batchContext, ...ownContext } : ownContext;
  if (ctx.requestIp && context.ip === undefined) context = { ...context, ip: ctx.requestIp };
  // RudderStack sends identify traits only in context.traits (on group, context.traits are the
  // user's, not the group's, so only identify borrows them).
  if (eventType === 'identify' && raw.traits === undefined && isPlainObject(context.traits)) traits = context.traits as JsonObject;
  if (eventType === 'page' || eventType === 'screen') {
    // Segment puts a page name in `name` and its category in `category`; keep both with the
    // properties for analysts (Segment's browser SDK copies category there itself). Jitsu sends
    // the name only in the properties.
    if (event && properties.name === undefined) properties = { ...properties, name: event };
    if (!event && typeof properties.name === 'string' && properties.name.length <= MAX_EVENT_NAME_LENGTH) event = properties.name;
    if (typeof raw.category === 'string' && raw.category && properties.category === undefined) properties = { ...properties, category: raw.category };
  }

  const rawTimestamp = raw.timestamp ?? raw.originalTimestamp;
  const clientTimestamp = rawTimestamp === undefined ? undefined : parseTime(rawTimestamp);
  if (rawTimestamp !== undefined && clientTimestamp === undefined)
    return reject(
      'invalid_timestamp',
      `timestamp ${JSON.stringify(rawTimestamp)?.slice(0, 80)} is not an ISO 8601 date-time (e.g. 2026-12-01T10:00:00.000Z) or epoch milliseconds`,
      raw.timestamp === undefined ? '/originalTimestamp' : '/timestamp',
    );
  const rawSentAt = raw.sentAt ?? ctx.batchSentAt;
  const sentAt = rawSentAt === undefined || rawSentAt === null ? null : (parseTime(rawSentAt) ?? null);
  if (rawSentAt !== undefined && rawSentAt !== null && sentAt === null)
    return reject('invalid_timestamp', `sentAt ${JSON.stringify(rawSentAt)?.slice(0, 80)} is not an ISO 8601 date-time (e.g. 2026-12-01T10:00:00.000Z) or epoch milliseconds`, '/sentAt');

  // Clock-skew correction: the device clock may be wrong, but (sentAt − timestamp) is a
  // duration measured on that same clock, so it is trustworthy relative to our receivedAt.
  let timestamp = clientTimestamp ?? ctx.receivedAt;
  if (clientTimestamp !== undefined && sentAt !== null && !ctx.historical) timestamp = ctx.receivedAt - (sentAt - clientTimestamp);
  if (timestamp < EARLIEST_TIMESTAMP || timestamp > ctx.receivedAt + MAX_FUTURE_MS) {
    const sane = (t: number | undefined) => t === undefined || (t >= EARLIEST_TIMESTAMP && t <= ctx.receivedAt + MAX_FUTURE_MS);
    // The timestamp as sent is fine: the clock-skew correction (receivedAt − (sentAt − timestamp)) put it out of range.
    if (sane(clientTimestamp) && sentAt !== null) {
      const days = Math.round((sentAt - clientTimestamp!) / 86_400_000);
      return reject(
        'invalid_timestamp',
        `sentAt ${new Date(sentAt).toISOString()} is ${Math.abs(days)} days ${days < 0 ? 'before' : 'after'} the timestamp: corrected for clock skew, the event would be before 2000 or more than a day in the future`,
        '/sentAt',
      );
    }
    return reject('invalid_timestamp', 'timestamp is before 2000 or more than a day in the future', '/timestamp');
  }

  const plan = isPlainObject(context.plan) ? context.plan : undefined;
  // A number (`version: 2`) is a declared version too: read as text, it is not a published one,
  // and the verdict says so (unknown_plan_version) instead of ignoring it.
  const declaredPlanVersion = plan && (typeof plan.version === 'string' || typeof plan.version === 'number') ? String(plan.version) : undefined;

  return {
    ok: true,
    event: {
      type: eventType,
      messageId: ids.messageId || ctx.newId(),
      event,
      userId: ids.userId,
      anonymousId: ids.anonymousId,
      groupId: ids.groupId,
      previousId: ids.previousId,
      timestamp: Math.round(timestamp),
      originalTimestamp: storableTime(clientTimestamp),
      // Only used to correct the clock when the event has a timestamp: one DateTime64 cannot hold is not kept.
      sentAt: sentAt === null ? null : storableTime(sentAt),
      receivedAt: ctx.receivedAt,
      // A body with no time at all gets 0 (keyed on 1970-01-01), not its arrival: every resend of
      // it, whatever day it arrives, must land under one key and fold (decision 0011).
      messageTime: clientTimestamp ?? sentAt ?? 0,
      properties,
      traits,
      context,
      declaredPlanVersion,
      source: ctx.source,
    },
  };
}
