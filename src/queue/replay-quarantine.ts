/**
 * Re-validates quarantined events against the current plan and moves those that now pass into
 * `events`, exactly once: every moved message_id is recorded in `quarantine_replays`, and ids
 * already there or already in `events` are skipped (covers a crash between the two inserts).
 * With a deduper, moved ids are claimed in the same window as live ingest: the client resending
 * a replayed event later is a duplicate, and an event the client already resent is not moved.
 */
import { randomBytes } from 'node:crypto';
import { storedIds } from './batcher.ts';
import type { Deduper } from './dedupe.ts';
import { isPlainObject } from '../util/objects.ts';
import type { EventRow, NormalizedEvent, PlanVerdict, Violation } from '../types.ts';
import type { PlanValidator } from '../plan/model.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { insertJsonLines } from '../warehouse/insert.ts';
import { queryRows } from '../warehouse/query.ts';
import { eventRowLine, toEventRow, tooLargeMessage } from '../warehouse/rows.ts';

export interface ReplayQuarantineOptions {
  /** The ingest's per-event limit (BALISE_MAX_EVENT_BYTES): a larger event stays, as at ingest. */
  maxEventBytes: number;
  /** The form a moved event is stored in: the current plan's privacy rules (default: as it was kept). */
  storedForm?: (event: NormalizedEvent) => NormalizedEvent;
  /** Only this event name. */
  event?: string;
  /** Only rows received at or after this time (epoch milliseconds). */
  since?: number;
  /** Rows read per page (default 5000). */
  batchSize?: number;
  /** The live ingest's messageId window (the worker's); without it only ClickHouse is checked. */
  deduper?: Deduper;
  /** How many events that stay are explained one by one in `stays` (default 100). */
  maxExplained?: number;
}

/** Why one event stays in quarantine, per plan version tried. */
export interface QuarantineStay {
  messageId: string;
  event: string;
  /** The version the client declared (context.plan.version), if any. */
  declaredVersion?: string;
  /** Each version tried, in order (its own, then the current one), with what it refused. */
  tried: { version: string; violations: Violation[] }[];
  /** The same in one sentence. */
  why: string;
}

export interface ReplayQuarantineResult {
  /** Quarantined events considered (not yet replayed, not already in events). */
  examined: number;
  /** Moved into `events`. */
  moved: number;
  /** Still invalid under the current plan (or unreadable); left in quarantine. */
  stillInvalid: number;
  /** Already stored in `events` by live ingest (the client resent it): not examined, not moved again; recorded as resolved. */
  alreadyStored: number;
  /** Payloads too malformed to be an event (no JSON object, a bad timestamp or id…): never replayed; the sender must be fixed. */
  malformed: number;
  /** Moved because the current version accepts them although the version they declare does not. */
  movedUnderCurrent: number;
  /** Why each event stays (the first `maxExplained`); `staysNotExplained` counts the rest. */
  stays: QuarantineStay[];
  staysNotExplained: number;
}

const summary = (violations: Violation[]): string => violations.map((v) => v.message).join('; ') || 'no reason recorded';

/**
 * Re-validates one event: against the version it declares (as at ingest), then, when that
 * version cannot accept it, against the current one. The plan is usually fixed by publishing a
 * new version, and the client's declared version never changes (decision 0027).
 */
export function revalidate(validator: PlanValidator, event: NormalizedEvent, unjudged?: readonly string[]): { verdict: PlanVerdict; underCurrent: boolean; tried: QuarantineStay['tried'] } {
  const own = validator.validate(event, unjudged);
  const tried = [{ version: own.planVersion, violations: own.violations }];
  if (own.status !== 'quarantined' || own.planVersion === validator.latestVersion) return { verdict: own, underCurrent: false, tried };
  const current = validator.validate({ ...event, declaredPlanVersion: validator.latestVersion }, unjudged);
  tried.push({ version: current.planVersion, violations: current.violations });
  return current.status === 'quarantined' ? { verdict: own, underCurrent: false, tried } : { verdict: current, underCurrent: true, tried };
}

function explain(messageId: string, event: NormalizedEvent, tried: QuarantineStay['tried'], judgedAtIngest: readonly string[]): QuarantineStay {
  const declared = event.declaredPlanVersion;
  // A version that now accepts what is left of the event says nothing: the reason is the replaced value.
  const parts = tried
    .map((t, i) => ({ t, i }))
    .filter(({ t }) => t.violations.length > 0 || judgedAtIngest.length === 0)
    .map(({ t, i }) => `${i === 0 && declared === t.version ? `declared version ${t.version}` : `version ${t.version}${i > 0 ? ' (current)' : ''}`}: ${summary(t.violations)}`);
  if (judgedAtIngest.length) parts.push(`${judgedAtIngest.join(', ')} failed the plan at ingest and was then hashed or dropped by its privacy rules: it cannot be checked again`);
  return { messageId, event: event.event || event.type, ...(declared ? { declaredVersion: declared } : {}), tried, why: parts.join(' | ') };
}

interface Candidate {
  message_id: string;
  received_ms: string;
  raw: string;
  /** The violations found at ingest, as JSON. */
  violations: string;
}

/**
 * Which of the values the privacy rules replaced at ingest the plan judged valid then: replay
 * leaves those out of its verdict (the hash of an email is not an email). One that failed then
 * still counts: the value it was judged on is gone.
 */
function replacedValues(event: NormalizedEvent, violationsAtIngest: string): { unjudged: string[]; judgedAtIngest: string[] } {
  const rewritten = event.piiRewritten ?? [];
  if (rewritten.length === 0) return { unjudged: [], judgedAtIngest: [] };
  let failed: string[] = [];
  try {
    const parsed: unknown = JSON.parse(violationsAtIngest);
    if (Array.isArray(parsed)) failed = parsed.map((v: unknown) => (isPlainObject(v) && typeof v.path === 'string' ? v.path : ''));
  } catch {
    // Unreadable: nothing is known to have failed at ingest.
  }
  const failedAt = (path: string) => failed.some((f) => f === path || f.startsWith(`${path}/`));
  return { unjudged: rewritten.filter((p) => !failedAt(p)), judgedAtIngest: rewritten.filter(failedAt) };
}

function parseRaw(raw: string): NormalizedEvent | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (!isPlainObject(value)) return undefined;
    const e = value as Partial<NormalizedEvent>;
    if (typeof e.type !== 'string' || typeof e.messageId !== 'string' || typeof e.event !== 'string') return undefined;
    return {
      ...(e as NormalizedEvent),
      piiRewritten: Array.isArray(e.piiRewritten) ? e.piiRewritten.filter((p) => typeof p === 'string') : undefined,
      properties: e.properties ?? {},
      traits: e.traits ?? {},
      context: e.context ?? {},
    };
  } catch {
    return undefined;
  }
}

/** The rows whose messageId live ingest has not stored, claimed so that it will not store them either. */
async function claimForEvents(warehouse: Warehouse, deduper: Deduper, batchId: string, rows: EventRow[]): Promise<EventRow[]> {
  const claims = await deduper.claim(
    batchId,
    rows.map((r) => r.message_id),
    'events',
  );
  const uncertain = rows.filter((_, i) => claims[i] === 'uncertain').map((r) => r.message_id);
  const stored = await storedIds(warehouse, uncertain, 'events');
  return rows.filter((r, i) => claims[i] === 'new' || (claims[i] === 'uncertain' && !stored.has(r.message_id)));
}

export async function replayQuarantine(warehouse: Warehouse, validator: PlanValidator, opts: ReplayQuarantineOptions): Promise<ReplayQuarantineResult> {
  const batchSize = opts.batchSize ?? 5000;
  const scope = ['message_id NOT IN (SELECT message_id FROM quarantine_replays)'];
  if (opts.event !== undefined) scope.push('event = {event:String}');
  if (opts.since !== undefined) scope.push("received_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')");
  // Rows too malformed to normalise keep the client's payload, not a NormalizedEvent: counted apart.
  const MALFORMED = "arrayExists(r -> startsWith(r, 'malformed:'), reasons)";
  const chosen = ["message_id != ''", `NOT ${MALFORMED}`, ...scope];
  const inEvents = opts.event === undefined ? 'message_id IN (SELECT message_id FROM events)' : 'message_id IN (SELECT message_id FROM events WHERE event = {event:String})';
  const filters = [...chosen, `NOT ${inEvents}`, '(toUnixTimestamp64Milli(received_at), message_id) > ({cursor_ms:Int64}, {cursor_id:String})'];
  const query = `SELECT message_id, toString(toUnixTimestamp64Milli(received_at)) AS received_ms, raw, violations FROM quarantine FINAL WHERE ${filters.join(' AND ')} ORDER BY received_at, message_id LIMIT {limit:UInt32}`;
  const filterParams: Record<string, unknown> = {};
  if (opts.event !== undefined) filterParams.event = opts.event;
  if (opts.since !== undefined) filterParams.since = Math.trunc(opts.since);

  // The client resent them and live ingest stored them: counted, never examined, and recorded as
  // resolved (data health and People then show them once, as stored; the next run does not count them again).
  const alreadyStored = `SELECT DISTINCT message_id FROM quarantine FINAL WHERE ${[...chosen, inEvents].join(' AND ')}`;
  const [resent] = await queryRows<{ ids: string }>(warehouse, `SELECT count() AS ids FROM (${alreadyStored})`, filterParams);
  if (Number(resent?.ids ?? 0) > 0) {
    await warehouse.client.command({
      query: `INSERT INTO quarantine_replays (message_id, replayed_at, plan_version) SELECT message_id, now64(3), '' FROM (${alreadyStored})`,
      query_params: filterParams,
    });
  }
  const [malformed] = await queryRows<{ n: string }>(warehouse, `SELECT count() AS n FROM quarantine FINAL WHERE ${[MALFORMED, ...scope].join(' AND ')}`, filterParams);
  const result: ReplayQuarantineResult = {
    examined: 0,
    moved: 0,
    stillInvalid: 0,
    alreadyStored: Number(resent?.ids ?? 0),
    malformed: Number(malformed?.n ?? 0),
    movedUnderCurrent: 0,
    stays: [],
    staysNotExplained: 0,
  };
  const maxExplained = opts.maxExplained ?? 100;
  const stay = (s: QuarantineStay): void => {
    result.stillInvalid++;
    if (result.stays.length < maxExplained) result.stays.push(s);
    else result.staysNotExplained++;
  };
  const seen = new Set<string>();
  let cursor = { ms: '-1', id: '' };
  for (;;) {
    const rows = await queryRows<Candidate>(warehouse, query, { ...filterParams, cursor_ms: cursor.ms, cursor_id: cursor.id, limit: batchSize });
    if (rows.length === 0) break;
    const last = rows[rows.length - 1]!;
    cursor = { ms: last.received_ms, id: last.message_id };

    let moved: EventRow[] = [];
    const underCurrent = new Set<string>();
    for (const row of rows) {
      // The same event may have been quarantined twice (client retry): examine it once.
      if (seen.has(row.message_id)) continue;
      seen.add(row.message_id);
      result.examined++;
      const event = parseRaw(row.raw);
      if (!event) {
        stay({ messageId: row.message_id, event: '', tried: [], why: 'the stored event cannot be read back (not a normalised event)' });
        continue;
      }
      const { unjudged, judgedAtIngest } = replacedValues(event, row.violations);
      const { verdict, underCurrent: current, tried } = revalidate(validator, event, unjudged);
      // A value that failed the plan as sent and was then hashed or dropped keeps its verdict: a
      // dropped one is simply missing now, and would let the event pass.
      if (verdict.status === 'quarantined' || judgedAtIngest.length > 0) {
        stay(explain(row.message_id, event, tried, judgedAtIngest));
        continue;
      }
      // Stored as live ingest stores it: the plan's privacy rules now (it was judged as kept).
      const stored = opts.storedForm ? opts.storedForm(event) : event;
      // Judged as the ingest judges it: the event's queued line (quarantine has no size limit of its own).
      const bytes = Buffer.byteLength(eventRowLine(stored, verdict));
      if (bytes > opts.maxEventBytes) {
        stay({ ...explain(row.message_id, event, [], []), why: tooLargeMessage(opts.maxEventBytes, bytes) });
        continue;
      }
      if (current) underCurrent.add(event.messageId);
      moved.push(toEventRow(stored, verdict));
    }
    const batchId = randomBytes(9).toString('base64url');
    if (moved.length > 0 && opts.deduper) {
      const valid = moved.length;
      moved = await claimForEvents(warehouse, opts.deduper, batchId, moved);
      result.alreadyStored += valid - moved.length;
    }
    if (moved.length > 0) {
      await insertJsonLines(
        warehouse,
        'events',
        moved.map((r) => JSON.stringify(r)),
      );
      const now = Date.now();
      await insertJsonLines(
        warehouse,
        'quarantine_replays',
        moved.map((r) => JSON.stringify({ message_id: r.message_id, replayed_at: now, plan_version: r.plan_version })),
      );
      // Committed only once stored: a crash before leaves the claims "uncertain", checked against ClickHouse.
      await opts.deduper?.commit(batchId);
      result.moved += moved.length;
      result.movedUnderCurrent += moved.filter((r) => underCurrent.has(r.message_id)).length;
    }
    if (rows.length < batchSize) break;
  }
  return result;
}
