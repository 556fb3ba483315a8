/**
 * The per-event path as explicit steps: normalize → (suppression) → validate → encode → size
 * check. Each step is pure and answers either "go on" with its value or "quarantine" with the row
 * that keeps the event; `processEvents` (process.ts) runs them in order and stops at the first
 * quarantine. Privacy runs inside the steps, so nothing raw reaches a row: a malformed event is
 * kept with its PII rules applied, a valid one is validated as sent and then stored as the plan
 * allows (its `strip` policy, then its PII rules).
 */
import type { QuarantineCode } from '../errors.ts';
import type { LiveEvent } from '../live/model.ts';
import type { PlanValidator } from '../plan/model.ts';
import type { JsonObject, NormalizedEvent, PlanVerdict, QuarantineRow, Violation } from '../types.ts';
import { isPlainObject } from '../util/objects.ts';
import { eventRowLines, RAW_ANONYMOUS_KEYS, RAW_PREVIOUS_KEYS, RAW_USER_KEYS, toMalformedRow, toQuarantineRow, tooLargeMessage } from '../warehouse/rows.ts';
import { normalizeEvent, truncateDepth, type NormalizeContext } from './normalize.ts';
import { applyPii, applyPiiToRaw, rewrittenPaths, type PiiRules } from './pii.ts';

/** The plan's PII rules and the HMAC key of `pii_action: hash` (src/config/secrets.ts). */
export interface Privacy {
  rules: PiiRules;
  key: string;
}

/** A violation counted for metrics (unplanned names folded, to keep label sets bounded). */
export interface ViolationLabel {
  event: string;
  version: string;
  rule: string;
}

/** Why a step stopped an event, and the row that keeps it in `quarantine`. */
export interface Quarantined {
  code: QuarantineCode;
  /** The id the answer names: the event's own, or the one normalize gave it. */
  messageId: string;
  violations: Violation[];
  row: QuarantineRow;
  labels: ViolationLabel[];
  /** The event for the live view; called only while someone watches. */
  live: () => LiveEvent;
}

/** A verdict that lets the event into `events` (valid, warned or unplanned). */
export type PassingVerdict = Omit<PlanVerdict, 'status' | 'properties'> & { status: Exclude<PlanVerdict['status'], 'quarantined'> };

export type Step<T> = { ok: true; value: T } | { ok: false; quarantine: Quarantined };

const go = <T>(value: T): Step<T> => ({ ok: true, value });

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

function libraryName(context: JsonObject | undefined): string {
  const library = context?.library;
  return isPlainObject(library) ? text(library.name) : '';
}

/** How an event that reached its stored form shows in the live view. */
export function liveEvent(event: NormalizedEvent, verdict: Pick<PlanVerdict, 'status' | 'planVersion' | 'violations'>, code?: string): LiveEvent {
  return {
    receivedAt: event.receivedAt,
    messageId: event.messageId,
    type: event.type,
    event: event.event,
    source: event.source,
    library: libraryName(event.context),
    userId: event.userId,
    anonymousId: event.anonymousId,
    verdict: verdict.status,
    ...(code ? { code } : {}),
    planVersion: verdict.planVersion,
    violations: verdict.violations,
    properties: event.properties,
  };
}

/** A malformed event has no normalised form: the live view shows what the client sent, as far as it reads. */
function liveMalformed(kept: unknown, messageId: string, ctx: NormalizeContext, code: string, violations: Violation[]): LiveEvent {
  const r = isPlainObject(kept) ? kept : {};
  return {
    receivedAt: ctx.receivedAt,
    messageId,
    type: text(r.type) || (ctx.routeType ?? ''),
    event: text(r.event) || text(r.name),
    source: ctx.source,
    library: libraryName(isPlainObject(r.context) ? (r.context as JsonObject) : undefined),
    userId: text(r.userId),
    anonymousId: text(r.anonymousId),
    verdict: 'quarantined',
    code,
    planVersion: '',
    violations,
    properties: isPlainObject(r.properties) ? (r.properties as JsonObject) : {},
  };
}

/** Violations as metric labels: the event name, unless the event is not in the plan at all. */
export function violationLabels(event: NormalizedEvent, verdict: Pick<PlanVerdict, 'planVersion' | 'violations'>): ViolationLabel[] {
  return verdict.violations.map((v) => ({ event: v.rule === 'unplanned_event' ? '(unplanned)' : event.event || event.type, version: verdict.planVersion, rule: v.rule }));
}

/** 1. Segment's fields checked and filled in; a malformed event is kept as sent, its PII rules applied. */
/**
 * What quarantine keeps of a payload it cannot read as an event: the payload as sent, less the
 * write key a single-event body may carry (a secret, not data), with the personal-data rules applied.
 */
function storedRaw(raw: unknown, source: string, privacy: Privacy, callType?: string): unknown {
  const rest = isPlainObject(raw) && 'writeKey' in raw ? Object.fromEntries(Object.entries(raw).filter(([key]) => key !== 'writeKey')) : raw;
  return applyPiiToRaw(rest, source, privacy.rules, privacy.key, callType);
}

export function normalizeStep(raw: unknown, ctx: NormalizeContext, privacy: Privacy): Step<NormalizedEvent> {
  const normalized = normalizeEvent(raw, ctx);
  if (normalized.ok) return go(normalized.event);
  const { rejection } = normalized;
  // A too-deep event could overflow the stack when serialised whole: keep its top levels.
  const kept = storedRaw(rejection.code === 'too_deep' ? truncateDepth(raw) : raw, ctx.source, privacy, ctx.routeType);
  const row = toMalformedRow(raw, rejection, ctx.receivedAt, ctx.source, JSON.stringify(kept) ?? 'null', ctx.routeType);
  const violations = [{ path: rejection.path ?? '', rule: rejection.code, message: rejection.message }];
  return {
    ok: false,
    quarantine: {
      code: rejection.code,
      messageId: row.message_id,
      violations,
      row,
      labels: [{ event: '(malformed)', version: '', rule: rejection.code }],
      live: () => liveMalformed(kept, row.message_id, ctx, rejection.code, violations),
    },
  };
}

/**
 * The ids a payload names, as far as they can be read: an erased person's malformed event is
 * suppressed too. Its owner (its userId, else its anonymousId) and an alias's previousId: another
 * user's event on a device the erased person used first is that user's, and is kept.
 */
export function suppressedRaw(raw: unknown, isSuppressed: ((ids: readonly string[]) => boolean) | undefined): boolean {
  if (!isSuppressed || !isPlainObject(raw)) return false;
  const readable = (keys: readonly string[]) => keys.flatMap((key) => (typeof raw[key] === 'string' && raw[key] !== '' ? [raw[key]] : typeof raw[key] === 'number' ? [String(raw[key])] : []));
  // Spelled as privacy reads a quarantined payload (camelCase or snake_case): what erasure would find is suppressed.
  const [owner] = [...readable(RAW_USER_KEYS), ...readable(RAW_ANONYMOUS_KEYS)];
  const ids = [...(owner === undefined ? [] : [owner]), ...readable(RAW_PREVIOUS_KEYS)];
  return ids.length > 0 && isSuppressed(ids);
}

/** 2. From a person erased with suppression on (BALISE_SUPPRESS_ERASED): stored nowhere, not even in quarantine. */
export function suppressed(event: NormalizedEvent, isSuppressed: ((ids: readonly string[]) => boolean) | undefined): boolean {
  return isSuppressed?.([event.userId || event.anonymousId, event.previousId]) ?? false;
}

/** An event that passed the plan, in the form it is stored in, with its verdict and metric labels. */
export interface Judged {
  event: NormalizedEvent;
  verdict: PassingVerdict;
  labels: ViolationLabel[];
}

/**
 * The form an event is stored in: the properties the plan's policy keeps (`strip`), then its PII
 * rules. Validation sees the event as sent (a hashed email is no longer an email).
 */
export function storedForm(original: NormalizedEvent, policyProperties: JsonObject | undefined, privacy: Privacy): NormalizedEvent {
  return applyPii(policyProperties ? { ...original, properties: policyProperties } : original, privacy.rules, privacy.key);
}

/**
 * The stored form of a quarantined event, saying which values its privacy rules replaced (replay
 * cannot judge them again, nor apply the rules to them twice); an empty list says none were.
 */
function withRewritten(original: NormalizedEvent, stored: NormalizedEvent): NormalizedEvent {
  return { ...stored, piiRewritten: rewrittenPaths(original, stored) };
}

/** 3. Checked against the plan version it declares (else the latest) as sent; a violation of a blocking rule quarantines it. */
export function validateStep(original: NormalizedEvent, validator: PlanValidator, privacy: Privacy): Step<Judged> {
  const { properties: policyProperties, ...verdict } = validator.validate(original);
  const event = storedForm(original, policyProperties, privacy);
  const labels = violationLabels(event, verdict);
  const { status } = verdict;
  if (status !== 'quarantined') return go({ event, verdict: { ...verdict, status }, labels });
  return {
    ok: false,
    quarantine: {
      code: 'plan_violation',
      messageId: event.messageId,
      violations: verdict.violations,
      row: toQuarantineRow(withRewritten(original, event), verdict),
      labels,
      live: () => liveEvent(event, verdict, 'plan_violation'),
    },
  };
}

/**
 * 4. The rows of a request's events that passed the plan, one line of the job payload each
 * (JSONCompactEachRow), in order. The one place an accepted event is serialised for the queue:
 * a change of the payload encoding changes this function.
 */
export function encodeSteps(judged: readonly Judged[]): string[] {
  return eventRowLines(judged);
}

/** A quarantine row as one line of the job payload. */
export function encodeQuarantine(row: QuarantineRow): string {
  return JSON.stringify(row);
}

/** Within `maxBytes` once encoded: a UTF-16 unit is at most 3 UTF-8 bytes, so nearly every row is judged by its length alone. */
function fits(line: string, maxBytes: number): boolean {
  return line.length * 3 <= maxBytes || Buffer.byteLength(line) <= maxBytes;
}

/** 5. The encoded row within the per-event limit; a larger event is kept as sent (PII rules applied) in quarantine. */
export function sizeStep(line: string, raw: unknown, judged: Judged, maxEventBytes: number, privacy: Privacy): Step<string> {
  if (fits(line, maxEventBytes)) return go(line);
  const { event, verdict } = judged;
  const rejection = { code: 'event_too_large' as const, message: tooLargeMessage(maxEventBytes, Buffer.byteLength(line)) };
  const violations = [{ path: '', rule: rejection.code, message: rejection.message }];
  return {
    ok: false,
    quarantine: {
      code: rejection.code,
      messageId: event.messageId,
      violations,
      row: toMalformedRow(raw, rejection, event.receivedAt, event.source, JSON.stringify(storedRaw(raw, event.source, privacy, event.type)), event.type),
      // The plan's warnings are already counted by the validate step.
      labels: [],
      live: () => liveEvent(event, { status: 'quarantined', planVersion: verdict.planVersion, violations }, rejection.code),
    },
  };
}
