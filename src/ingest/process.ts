import type { EventType, JsonObject, PlanValidator, Violation } from '../types.ts';
import type { IngestJobData } from '../queue/jobs.ts';
import { isPlainObject } from '../util/objects.ts';
import { normalizeEvent, truncateDepth } from './normalize.ts';
import { applyPii, applyPiiToRaw, piiRules } from './pii.ts';
import { eventRowLine, toMalformedRow, toQuarantineRow } from '../warehouse/rows.ts';
import type { LiveEvent } from '../live/model.ts';

export type EventOutcome =
  | { index: number; messageId: string; status: 'accepted'; planStatus: 'valid' | 'warned' | 'unplanned'; violations?: Violation[] }
  | { index: number; messageId: string; status: 'quarantined'; code: string; violations: Violation[] }
  /** From a person erased with suppression on (BALISE_SUPPRESS_ERASED): not stored anywhere. */
  | { index: number; messageId: string; status: 'suppressed' };

export interface ProcessedRequest {
  job: IngestJobData;
  outcomes: EventOutcome[];
  accepted: number;
  quarantined: number;
  suppressed: number;
  /** One entry per violation, labelled for metrics (unplanned names folded to keep labels bounded). */
  violationLabels: { event: string; version: string; rule: string }[];
  /** For the live view: the first `liveBudget` events, as they were judged (empty when nobody watches). */
  live: LiveEvent[];
}

export interface ProcessOptions {
  receivedAt: number;
  source: string;
  routeType?: EventType;
  batchContext?: unknown;
  batchSentAt?: unknown;
  maxEventBytes: number;
  /** Imported history: timestamps are kept as they are (no clock-skew correction). */
  historical?: boolean;
  /** HMAC key of the plan's `pii_action: hash` (src/config/secrets.ts). */
  piiKey: string;
  /** True when one of these ids belongs to an erased person on the suppression list. */
  isSuppressed?: (ids: readonly string[]) => boolean;
  /** How many events to describe for the live view (0 or absent: none, at no cost). */
  liveBudget?: number;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

function libraryName(context: JsonObject | undefined): string {
  const library = context?.library;
  return isPlainObject(library) ? text(library.name) : '';
}

/** A malformed event has no normalised form: show what the client sent, as far as it reads. */
function liveMalformed(raw: unknown, messageId: string, options: ProcessOptions, code: string, violations: Violation[]): LiveEvent {
  const r = isPlainObject(raw) ? raw : {};
  return {
    receivedAt: options.receivedAt,
    messageId,
    type: text(r.type) || (options.routeType ?? ''),
    event: text(r.event) || text(r.name),
    source: options.source,
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

function byteLength(text: string): number {
  // Cheap upper bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  return text.length * 3 < 1024 ? text.length : Buffer.byteLength(text);
}

/**
 * Validates and shapes every event of one request. Nothing is dropped: each event becomes an
 * `events` row (valid, warned, unplanned) or a `quarantine` row (plan violation or malformed).
 */
export function processEvents(rawEvents: unknown[], validator: PlanValidator, options: ProcessOptions): ProcessedRequest {
  const quarantineIds: string[] = [];
  const job: IngestJobData = { events: [], ids: [], quarantine: [], quarantineIds, receivedAt: options.receivedAt };
  const outcomes: EventOutcome[] = [];
  const violationLabels: ProcessedRequest['violationLabels'] = [];
  let suppressed = 0;
  // The current plan's rules, whichever version validates: they say what may be stored now.
  const pii = piiRules(validator.plan);
  const batchContext = isPlainObject(options.batchContext) ? (options.batchContext as JsonObject) : undefined;
  const live: LiveEvent[] = [];
  const liveBudget = options.liveBudget ?? 0;
  rawEvents.forEach((raw, index) => {
    const normalized = normalizeEvent(raw, {
      receivedAt: options.receivedAt,
      source: options.source,
      routeType: options.routeType,
      batchContext,
      batchSentAt: options.batchSentAt,
      historical: options.historical,
    });
    if (!normalized.ok) {
      // A too-deep event could overflow the stack when serialised whole: keep its top levels.
      const kept = applyPiiToRaw(normalized.rejection.code === 'too_deep' ? truncateDepth(raw) : raw, options.source, pii, options.piiKey);
      const rawText = JSON.stringify(kept) ?? 'null';
      const row = toMalformedRow(raw, normalized.rejection, options.receivedAt, options.source, rawText);
      job.quarantine.push(JSON.stringify(row));
      quarantineIds.push(row.message_id);
      const violations = [{ path: '', rule: normalized.rejection.code, message: normalized.rejection.message }];
      outcomes.push({ index, messageId: row.message_id, status: 'quarantined', code: normalized.rejection.code, violations });
      violationLabels.push({ event: '(malformed)', version: '', rule: normalized.rejection.code });
      if (live.length < liveBudget) live.push(liveMalformed(kept, row.message_id, options, normalized.rejection.code, violations));
      return;
    }
    const original = normalized.event;
    if (options.isSuppressed?.([original.userId, original.anonymousId, original.previousId])) {
      suppressed++;
      outcomes.push({ index, messageId: original.messageId, status: 'suppressed' });
      return;
    }
    // Validated as sent (a hashed email is no longer an email), stored as the plan allows: the
    // properties its policy keeps (`strip`), then its PII rules, so nothing raw reaches a row.
    const judged = validator.validate(original);
    const { properties: policyProperties, ...verdict } = judged;
    const event = applyPii(policyProperties ? { ...original, properties: policyProperties } : original, pii, options.piiKey);
    const observe = (status: LiveEvent['verdict'], code?: string, violations = verdict.violations): void => {
      if (live.length >= liveBudget) return;
      live.push({
        receivedAt: event.receivedAt,
        messageId: event.messageId,
        type: event.type,
        event: event.event,
        source: event.source,
        library: libraryName(event.context),
        userId: event.userId,
        anonymousId: event.anonymousId,
        verdict: status,
        ...(code ? { code } : {}),
        planVersion: verdict.planVersion,
        violations,
        properties: event.properties,
      });
    };
    for (const v of verdict.violations) {
      violationLabels.push({ event: v.rule === 'unplanned_event' ? '(unplanned)' : event.event || event.type, version: verdict.planVersion, rule: v.rule });
    }
    if (verdict.status === 'quarantined') {
      job.quarantine.push(JSON.stringify(toQuarantineRow(event, verdict)));
      quarantineIds.push(event.messageId);
      outcomes.push({ index, messageId: event.messageId, status: 'quarantined', code: 'plan_violation', violations: verdict.violations });
      observe('quarantined', 'plan_violation');
      return;
    }
    const line = eventRowLine(event, verdict);
    if (byteLength(line) > options.maxEventBytes) {
      const rejection = { code: 'event_too_large' as const, message: `event is larger than ${options.maxEventBytes} bytes` };
      const row = toMalformedRow(raw, rejection, options.receivedAt, options.source, JSON.stringify(applyPiiToRaw(raw, options.source, pii, options.piiKey)));
      job.quarantine.push(JSON.stringify(row));
      quarantineIds.push(row.message_id);
      const violations = [{ path: '', rule: rejection.code, message: rejection.message }];
      outcomes.push({ index, messageId: event.messageId, status: 'quarantined', code: rejection.code, violations });
      observe('quarantined', rejection.code, violations);
      return;
    }
    job.events.push(line);
    job.ids.push(event.messageId);
    outcomes.push(
      verdict.violations.length
        ? { index, messageId: event.messageId, status: 'accepted', planStatus: verdict.status, violations: verdict.violations }
        : { index, messageId: event.messageId, status: 'accepted', planStatus: verdict.status },
    );
    observe(verdict.status);
  });
  return { job, outcomes, accepted: job.events.length, quarantined: job.quarantine.length, suppressed, violationLabels, live };
}
