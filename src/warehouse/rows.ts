/**
 * How an event becomes a row of `events` or `quarantine`. Pure: the ingest builds its rows here,
 * and quarantine replay and the demo build theirs with the same functions.
 */
import type { EventRow, JsonObject, NormalizedEvent, PlanVerdict, QuarantineRow, Violation } from '../types.ts';
import { isPlainObject } from '../util/objects.ts';

function libraryOf(context: JsonObject): { name: string; version: string } {
  const library = context.library;
  if (isPlainObject(library)) {
    return { name: String(library.name ?? ''), version: String(library.version ?? '') };
  }
  return { name: '', version: '' };
}

const DAY_MS = 86_400_000;
const YEAR_2000 = Date.UTC(2000, 0, 1);
const YEAR_2099 = Date.UTC(2099, 0, 1);

/**
 * The day the warehouse keys an event on (migration 003). Clocks outside 2000–2098 share
 * 1970-01-01, so with yearly partitions one insert never spans more than 100 of them.
 */
export function messageDate(messageTime: number | undefined): string | undefined {
  if (messageTime === undefined || !Number.isFinite(messageTime)) return undefined;
  if (messageTime < YEAR_2000 || messageTime >= YEAR_2099) return '1970-01-01';
  const day = Math.floor(messageTime / DAY_MS);
  // Nearly every event of a batch (and of a minute) falls on the same day: format it once.
  if (day !== lastDay) {
    lastDay = day;
    lastDayText = new Date(day * DAY_MS).toISOString().slice(0, 10);
  }
  return lastDayText;
}
let lastDay = NaN;
let lastDayText = '';

/**
 * The message's own time (decision 0011). Ingest always sets it; an event normalised before it
 * existed (an old quarantine row replayed) gets what migration 003's column default computes.
 */
function messageTimeOf(event: NormalizedEvent): number {
  return event.messageTime ?? (event.sentAt === null ? event.timestamp : event.timestamp - event.receivedAt + event.sentAt);
}

/**
 * The columns of an `events` line as the ingest queues it, in order: `JSONCompactEachRow`, one
 * JSON array per row (docs/decisions/0041-compact-lines-and-group-commit.md). A job says which layout its
 * lines have (`IngestJobData.eventLayout`), so a change of this list is a new layout, and jobs
 * queued with an older one still load.
 */
export const EVENT_LINE_COLUMNS = [
  'message_id',
  'type',
  'event',
  'user_id',
  'anonymous_id',
  'group_id',
  'previous_id',
  'timestamp',
  'original_timestamp',
  'sent_at',
  'received_at',
  'message_date',
  'properties',
  'traits',
  'context',
  'source',
  'library_name',
  'library_version',
  'plan_version',
  'plan_status',
  'violations',
] as const satisfies readonly (keyof EventRow)[];

/** The layout `eventRowLine` writes; a job without one holds JSONEachRow objects (queued before layouts existed). */
export const EVENT_LINE_LAYOUT = 1;

/** The columns of each known layout: a worker keeps loading what an older API queued. */
const LAYOUTS: Record<number, readonly string[]> = { 1: EVENT_LINE_COLUMNS };

/** The columns of a layout, or undefined for one this version does not know (queued by a newer API). */
export function eventLineColumns(layout: number): readonly string[] | undefined {
  return LAYOUTS[layout];
}

/**
 * The row as one line of the job, encoded once: an array of its values in EVENT_LINE_COLUMNS
 * order, without the 21 column names every JSONEachRow line repeats (a third of its bytes).
 * `properties`, `traits` and `context` stay JSON objects in the line, and ClickHouse stores each
 * object's text as the String column (`input_format_json_read_objects_as_strings`, set on every
 * insert in insert.ts): the stored text is what JSON.stringify of the object gives, without
 * stringifying it twice (docs/decisions/0015-rows-encoded-once.md).
 */
export function eventRowLine(event: NormalizedEvent, verdict: PlanVerdict): string {
  return wellFormedStringify(rowValues(event, verdict, (value) => value));
}

/** A JSON escape of a UTF-16 surrogate that is a real escape (its backslash not itself escaped). */
const ESCAPED_SURROGATE = /(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/g;

/**
 * JSON.stringify, with every lone UTF-16 surrogate made U+FFFD: every row encoder here calls it.
 * A client may send half of an emoji (a string cut by its length in UTF-16 units): valid JSON,
 * but not Unicode. JSON.stringify writes it as an escape such as \ud83d, and ClickHouse's JSON
 * functions refuse a text holding one, so every property of that event read as empty. U+FFFD is
 * what a UTF-8 encoder or decoder makes of it (Buffer.from, TextEncoder). JSON.stringify writes a
 * surrogate pair as it is, never escaped, so an escaped surrogate is always a lone one; when there
 * is none, the check is one scan.
 */
function wellFormedStringify(value: unknown): string {
  const text = JSON.stringify(value);
  return text.includes('\\ud') ? text.replace(ESCAPED_SURROGATE, '$1\\ufffd') : text;
}

/** Between two rows in the JSON of an array of rows. */
const ROW_SEPARATOR = '],[';

/**
 * The lines of many rows, as `eventRowLine` writes each: one `JSON.stringify` of them all, cut
 * between rows, costs about half of one call per row (decision 0052). The cut is taken only
 * when the separator occurs exactly between rows, never inside a value (a string holding
 * "],[", nested arrays); otherwise each row is encoded alone.
 */
export function eventRowLines(rows: readonly { event: NormalizedEvent; verdict: PlanVerdict }[]): string[] {
  const oneByOne = () => rows.map(({ event, verdict }) => eventRowLine(event, verdict));
  if (rows.length < 2) return oneByOne();
  // Replacing an escape moves no row separator: the cut below still holds.
  const text = wellFormedStringify(rows.map(({ event, verdict }) => rowValues(event, verdict, (value) => value)));
  const lines: string[] = [];
  let start = 1;
  for (let at = text.indexOf(ROW_SEPARATOR, start); at !== -1; at = text.indexOf(ROW_SEPARATOR, start)) {
    // More separators than gaps between rows: one is inside a value, so no cut can be trusted.
    if (lines.length === rows.length - 1) return oneByOne();
    lines.push(text.slice(start, at + 1));
    start = at + 2;
  }
  // Every gap between two rows holds a separator, so what remains is the last row.
  lines.push(text.slice(start, -1));
  return lines;
}

/** The final warehouse row as an object, its JSON columns as text: quarantine replay, the demo, tests. */
export function toEventRow(event: NormalizedEvent, verdict: PlanVerdict): EventRow {
  const values = rowValues(event, verdict, wellFormedStringify);
  return Object.fromEntries(EVENT_LINE_COLUMNS.map((column, i) => [column, values[i]])) as unknown as EventRow;
}

/** The row's values in EVENT_LINE_COLUMNS order: the one place the row mapping is written. */
function rowValues(event: NormalizedEvent, verdict: PlanVerdict, encode: (value: JsonObject) => unknown): { [K in keyof typeof EVENT_LINE_COLUMNS]: unknown } {
  const library = libraryOf(event.context);
  return [
    event.messageId,
    event.type,
    event.event,
    event.userId,
    event.anonymousId,
    event.groupId,
    event.previousId,
    event.timestamp,
    event.originalTimestamp ?? null,
    event.sentAt,
    event.receivedAt,
    messageDate(messageTimeOf(event)),
    // The plan may have stripped undeclared properties (policy `strip`).
    encode(verdict.properties ?? event.properties),
    encode(event.traits),
    encode(event.context),
    event.source,
    library.name,
    library.version,
    verdict.planVersion,
    verdict.status,
    verdict.violations.length ? wellFormedStringify(verdict.violations) : '',
  ];
}

/**
 * One queued `events` line as a column → value record, whatever its layout (undefined: a
 * JSONEachRow object line). For what reads queued rows rather than loading them: a person's
 * export and erasure, the tests.
 */
export function eventLineRecord(line: string, layout: number | undefined): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return {};
  }
  const columns = layout === undefined ? undefined : eventLineColumns(layout);
  if (columns && Array.isArray(value)) return Object.fromEntries(columns.map((column, i) => [column, value[i]]));
  return isPlainObject(value) ? value : {};
}

/** A plan violation: the normalised event is kept whole so that replay can re-validate it. */
export function toQuarantineRow(event: NormalizedEvent, verdict: PlanVerdict): QuarantineRow {
  return {
    message_id: event.messageId,
    received_at: event.receivedAt,
    source: event.source,
    type: event.type,
    event: event.event,
    plan_version: verdict.planVersion,
    reasons: [...new Set(verdict.violations.map((v) => v.rule))],
    violations: wellFormedStringify(verdict.violations),
    raw: wellFormedStringify(event),
  };
}

/**
 * An event too malformed to normalise is still kept, verbatim, with the reason. It cannot be
 * replayed as-is (its `raw` is the client's payload, marked by reasons starting "malformed:").
 * `callType`: the route's (or the normalised event's) type, which wins over the payload's.
 */
/**
 * The user, anonymous and previous id keys of a raw event as clients spell them (camelCase, or
 * snake_case): whose a quarantined payload is, for privacy and for suppression at ingest alike.
 */
export const RAW_USER_KEYS = ['userId', 'user_id'] as const;
export const RAW_ANONYMOUS_KEYS = ['anonymousId', 'anonymous_id'] as const;
export const RAW_PREVIOUS_KEYS = ['previousId', 'previous_id'] as const;

export function toMalformedRow(raw: unknown, rejection: { code: string; message: string; path?: string }, receivedAt: number, source: string, rawText: string, callType?: string): QuarantineRow {
  const obj = isPlainObject(raw) ? raw : {};
  const violation: Violation = { path: rejection.path ?? '', rule: rejection.code, message: rejection.message };
  return {
    message_id: typeof obj.messageId === 'string' ? obj.messageId.slice(0, 255) : '',
    received_at: receivedAt,
    source,
    type: callType ?? (typeof obj.type === 'string' ? obj.type.slice(0, 32) : ''),
    event: typeof obj.event === 'string' ? obj.event.slice(0, 200) : '',
    plan_version: '',
    reasons: [`malformed:${rejection.code}`],
    violations: wellFormedStringify([violation]),
    raw: rawText,
  };
}

/**
 * Why an event is too large, at ingest and at replay alike: the limit holds for its row as stored,
 * which is what was sent plus the fields Balise adds (ids, times, plan version).
 */
export function tooLargeMessage(maxEventBytes: number, rowBytes: number): string {
  return `event is larger than ${maxEventBytes} bytes once stored (${rowBytes} with the fields Balise adds): over the per-event limit, BALISE_MAX_EVENT_BYTES`;
}
