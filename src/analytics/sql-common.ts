/**
 * SQL fragments shared by the funnel and metric compilers. Identifiers are checked against
 * IDENTIFIER before being embedded; every value goes through `Params.add` as a typed
 * ClickHouse query parameter ({name:Type}).
 */
import { AnalyticsInputError } from './errors.ts';
import { IDENTIFIER, type EventRef, type FilterScalar, type PropertyFilter } from './model.ts';
import { DEFAULT_RANGE_DAYS, defaultRangeMs } from '../util/default-range.ts';
import { parseDateInput as readDate } from '../util/dates.ts';
import { addDays, DEFAULT_TIME_ZONE, isTimeZone, zonedDate, zonedMidnight, zonedWallClock } from '../util/zone.ts';

export type ParamValue = string | number | boolean | string[] | number[];

export interface CompiledQuery {
  sql: string;
  params: Record<string, ParamValue>;
}

/** Collects query parameters under generated names. */
export class Params {
  readonly values: Record<string, ParamValue> = {};
  private counter = 0;
  add(prefix: string, type: string, value: ParamValue): string {
    const name = `${prefix}${this.counter++}`;
    this.values[name] = value;
    return `{${name}:${type}}`;
  }
  set(name: string, type: string, value: ParamValue): string {
    this.values[name] = value;
    return `{${name}:${type}}`;
  }
}

/** Guards every identifier spliced into SQL, even those that came from validated files. */
export function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new AnalyticsInputError('invalid_identifier', `"${name}" is not a valid identifier`);
  return name;
}

/**
 * A property's value as text: strings unquoted, numbers and booleans as their JSON text, so
 * ids and breakdowns work whatever JSON type the client sent. '' when absent.
 */
export function propertyText(column: string, key: string): string {
  return `if(JSONType(${column}, ${key}) = 'String', JSONExtractString(${column}, ${key}), JSONExtractRaw(${column}, ${key}))`;
}

/** A literal-quoted, validated property key. */
export function keyLiteral(name: string): string {
  return `'${ident(name)}'`;
}

function scalarType(v: FilterScalar): 'String' | 'Float64' | 'Bool' {
  return typeof v === 'string' ? 'String' : typeof v === 'number' ? 'Float64' : 'Bool';
}

function extract(column: string, key: string, type: 'String' | 'Float64' | 'Bool'): string {
  return type === 'String' ? `JSONExtractString(${column}, ${key})` : type === 'Float64' ? `JSONExtractFloat(${column}, ${key})` : `JSONExtractBool(${column}, ${key})`;
}

/** One property filter as a boolean SQL expression. Only events carrying the property match. */
export function filterSql(column: string, filter: PropertyFilter, params: Params): string {
  const key = keyLiteral(filter.property);
  const has = `JSONHas(${column}, ${key})`;
  if (filter.op === 'in') {
    const values = filter.value as FilterScalar[];
    const type = scalarType(values[0] as FilterScalar);
    const param =
      type === 'String'
        ? params.add('f', 'Array(String)', values.map(String))
        : type === 'Float64'
          ? params.add('f', 'Array(Float64)', values.map(Number))
          : params.add(
              'f',
              'Array(UInt8)',
              values.map((v) => (v ? 1 : 0)),
            );
    return `(${has} AND has(${param}, ${extract(column, key, type)}))`;
  }
  const value = filter.value as FilterScalar;
  const type = scalarType(value);
  const param = type === 'Bool' ? params.add('f', 'UInt8', value ? 1 : 0) : params.add('f', type, value as string | number);
  const op = { eq: '=', neq: '!=', gt: '>', lt: '<' }[filter.op];
  return `(${has} AND ${extract(column, key, type)} ${op} ${param})`;
}

/** An event of `e` (events AS e) as a definition counts it: its name, its call type (track unless the plan says page or screen), its filters. */
export function eventCondition(ref: EventRef, params: Params): string {
  return [`e.event = '${ident(ref.event)}'`, `e.type = '${ref.callType ?? 'track'}'`, ...ref.filters.map((f) => filterSql('e.properties', f, params))].join(' AND ');
}

/**
 * Each id's own first link: the user it was linked to earliest (ties to the smaller user id, as
 * privacy/identity.ts breaks them). A link of an id to itself (an SDK that sends the userId as
 * anonymousId) links nothing.
 */
const FIRST_LINKS = `(SELECT alias_id, argMin(user_id, (first_seen, user_id)) AS linked_user FROM identity_links WHERE alias_id != user_id GROUP BY alias_id)`;

/**
 * The links a path follows past its first: aliases, an old userId merged into a new one. Read
 * from the alias calls in `events` (event '' leads its sort key, so the track events are not
 * read) rather than from every device's link in identity_links: a hop over those costs as much
 * as the first one, and doubled the time of a funnel over 10M events.
 */
const ALIAS_LINKS = `(SELECT previous_id AS alias_id, argMin(user_id, (timestamp, user_id)) AS linked_user FROM events WHERE event = '' AND type = 'alias' AND previous_id != '' AND user_id != '' AND previous_id != user_id GROUP BY previous_id)`;

/** Links followed from an id to its person: an anonymousId → an old userId → the new one → a newer one. */
const IDENTITY_HOPS = 3;

/**
 * The person each linked id belongs to: its first link, followed through the users' own first
 * links (an alias merged the old userId into a new one) for up to IDENTITY_HOPS links. A path
 * stops before a user already on it (a → b, then b → a), as privacy/identity.ts stops, so the
 * funnels, KPIs and `persons` attribute to the person that erasure and export find.
 */
function resolvedLinks(hops: number): string {
  const on = Array.from({ length: hops }, (_, i) => `l${i + 1}`);
  const joins = on.slice(1).map((l, i) => `LEFT JOIN ${ALIAS_LINKS} AS ${l} ON ${l}.alias_id = ${on[i]}.linked_user`);
  // Hop k stops the path when it leads nowhere or back to an id already on it.
  const stops = on.slice(1).flatMap((l, i) => {
    const path = ['l1.alias_id', ...on.slice(0, i + 1).map((p) => `${p}.linked_user`)];
    return [`${l}.linked_user = '' OR ${l}.linked_user IN (${path.join(', ')})`, `${on[i]}.linked_user`];
  });
  const person = `multiIf(${[...stops, `${on[hops - 1]}.linked_user`].join(', ')})`;
  return `(SELECT l1.alias_id AS alias_id, ${person} AS linked_user FROM ${FIRST_LINKS} AS l1 ${joins.join(' ')})`;
}

/**
 * Identity stitching. The key of an event is its user_id, or its anonymous_id before login;
 * identity_links maps anonymous ids (and aliased previous ids) to the user they were linked
 * to, keeping the earliest link, so pre-login events join the person who later identified, and
 * an old userId's events the user it was aliased to.
 */
export const IDENTITY_LINKS_SUBQUERY = resolvedLinks(IDENTITY_HOPS);
export const EVENT_KEY = `if(e.user_id != '', e.user_id, e.anonymous_id)`;
/** The person of an event whose key is `key` (a column or EVENT_KEY), once joined by identityJoinOn(key). */
export const personOf = (key: string): string => `if(links.linked_user != '', links.linked_user, ${key})`;
export const identityJoinOn = (key: string): string => `LEFT JOIN ${IDENTITY_LINKS_SUBQUERY} AS links ON links.alias_id = ${key}`;
export const PERSON = personOf(EVENT_KEY);
export const IDENTITY_JOIN = identityJoinOn(EVENT_KEY);

/** Renders epoch ms as the text ClickHouse accepts for DateTime64(3, 'UTC') parameters. */
export function chDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** The zone name, checked: an unknown one is refused with `invalid_time_zone`, never read as UTC. */
export function checkTimeZone(name: string, where = 'time zone'): string {
  if (!isTimeZone(name)) throw new AnalyticsInputError('invalid_time_zone', `${where}: "${name}" is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)`);
  return name;
}

/**
 * Parses a user-supplied date: `YYYY-MM-DD` (midnight in `timeZone`), a date-time without offset
 * (wall clock in `timeZone`) or an ISO date-time with one. For the end of a range, a bare date
 * means "through that day", so its end is the next local midnight.
 */
export function parseDateInput(raw: string, role: 'from' | 'to', timeZone: string = DEFAULT_TIME_ZONE, label: string = role): number {
  const date = readDate(raw);
  if (!date) throw new AnalyticsInputError('invalid_date', `${label}: "${raw}" is not a date (use YYYY-MM-DD or an ISO date-time)`);
  // A day runs from its midnight in the zone (through it, for the end of a range); a date-time
  // without an offset is a time on the zone's clock; one with an offset is an instant.
  const day = raw.trim();
  const ms = date.dateOnly ? zonedMidnight(role === 'to' ? addDays(day, 1) : day, timeZone) : date.wallClock ? zonedWallClock(date.ms, timeZone) : date.ms;
  if (ms < 0) throw new AnalyticsInputError('invalid_date', `${label}: "${raw}" is before 1970`);
  return ms;
}

export interface TimeRange {
  fromMs: number;
  toMs: number;
  /** The IANA zone whose calendar cuts days, weeks and months (decision 0038); absent: UTC. */
  timeZone?: string | undefined;
}

/** How a range came about, returned with every result so screens and the CLI can say it. */
export interface RangeInfo {
  from: string;
  to: string;
  /** True when neither a start nor an end was given: the range is Balise's default. */
  isDefault: boolean;
  /** The default's length, for "last 90 days" labels. */
  defaultDays: number;
  /** The project time zone the range's days and every bucket follow. */
  timeZone: string;
}

/** The zone of a range, as a query parameter: every calendar function of the compiled SQL takes it. */
export function zoneParam(range: TimeRange, params: Params): string {
  return params.set('tz', 'String', range.timeZone ?? DEFAULT_TIME_ZONE);
}

/**
 * The requested range, or the default one (DEFAULT_RANGE_DAYS whole days of the zone up to the
 * end of today). A bare `to` date keeps the default length before it; a bare `from` runs to
 * today's end.
 */
export function resolveRange(
  opts: { from?: string | undefined; to?: string | undefined; timeZone?: string | undefined },
  now: number = Date.now(),
): TimeRange & { isDefault: boolean; timeZone: string } {
  const timeZone = checkTimeZone(opts.timeZone ?? DEFAULT_TIME_ZONE);
  const fallback = defaultRangeMs(now, DEFAULT_RANGE_DAYS, timeZone);
  const toMs = opts.to ? parseDateInput(opts.to, 'to', timeZone) : fallback.toMs;
  // A bare `to` keeps the default's number of local days (a DST change makes one of them 23 or 25 h).
  const bareTo = opts.to !== undefined && readDate(opts.to)?.dateOnly === true;
  const fromMs = opts.from
    ? parseDateInput(opts.from, 'from', timeZone)
    : bareTo
      ? zonedMidnight(addDays((opts.to as string).trim(), 1 - DEFAULT_RANGE_DAYS), timeZone)
      : opts.to
        ? toMs - (fallback.toMs - fallback.fromMs)
        : fallback.fromMs;
  if (toMs <= fromMs) {
    // Said with the dates as given (an end date is through that day, not the midnight after it).
    const fromText = opts.from?.trim() ?? `${zonedDate(fromMs, timeZone)} (the default start)`;
    const toText = opts.to?.trim() ?? `today, ${zonedDate(toMs - 1, timeZone)} (the default end)`;
    throw new AnalyticsInputError('invalid_range', `the range is empty: from ${fromText} comes after to ${toText}`);
  }
  return { fromMs, toMs, isDefault: !opts.from && !opts.to, timeZone };
}

export function rangeInfo(range: TimeRange & { isDefault?: boolean }): RangeInfo {
  return {
    from: new Date(range.fromMs).toISOString(),
    to: new Date(range.toMs).toISOString(),
    isDefault: range.isDefault ?? false,
    defaultDays: DEFAULT_RANGE_DAYS,
    timeZone: range.timeZone ?? DEFAULT_TIME_ZONE,
  };
}
