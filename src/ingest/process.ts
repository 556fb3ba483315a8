import { randomUUID } from 'node:crypto';
import type { QuarantineCode } from '../errors.ts';
import type { EventType, JsonObject, Violation } from '../types.ts';
import type { PlanValidator } from '../plan/model.ts';
import type { IngestJobData } from '../queue/jobs.ts';
import { isPlainObject } from '../util/objects.ts';
import { piiRules } from './pii.ts';
import { EVENT_LINE_LAYOUT } from '../warehouse/rows.ts';
import type { LiveEvent } from '../live/model.ts';
import { encodeQuarantine, encodeSteps, liveEvent, normalizeStep, sizeStep, suppressed, suppressedRaw, validateStep, type Judged, type Quarantined, type ViolationLabel } from './steps.ts';

export type EventOutcome =
  | { index: number; messageId: string; status: 'accepted'; planStatus: 'valid' | 'warned' | 'unplanned'; violations?: Violation[] }
  | { index: number; messageId: string; status: 'quarantined'; code: QuarantineCode; violations: Violation[] }
  /** From a person erased with suppression on (BALISE_SUPPRESS_ERASED): not stored anywhere. */
  | { index: number; messageId: string; status: 'suppressed' };

export interface ProcessedRequest {
  job: IngestJobData;
  outcomes: EventOutcome[];
  accepted: number;
  quarantined: number;
  suppressed: number;
  /** One entry per violation, labelled for metrics (unplanned names folded to keep labels bounded). */
  violationLabels: ViolationLabel[];
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
  /** Where a missing messageId comes from (normalize.ts): random UUIDs unless a test fixes them. */
  newId?: () => string;
  /** A browser request's address (request-ip.ts), for events without `context.ip`. */
  requestIp?: string;
}

/**
 * Runs every event of one request through the steps (steps.ts). Nothing is dropped: each event
 * becomes an `events` row (valid, warned, unplanned) or a `quarantine` row (plan violation,
 * malformed, too large), unless it is suppressed (an erased person's), and the request becomes
 * one job. The events that pass the plan are encoded together, then each is size-checked.
 */
export function processEvents(rawEvents: unknown[], validator: PlanValidator, options: ProcessOptions): ProcessedRequest {
  const quarantineIds: string[] = [];
  const job: IngestJobData = { events: [], eventLayout: EVENT_LINE_LAYOUT, ids: [], quarantine: [], quarantineIds, receivedAt: options.receivedAt };
  // One per event, at its index, whichever pass decides it.
  const outcomes: EventOutcome[] = new Array<EventOutcome>(rawEvents.length);
  const labels: ViolationLabel[] = [];
  let suppressedCount = 0;
  // The current plan's rules, whichever version validates: they say what may be stored now.
  const privacy = { rules: piiRules(validator.plan), key: options.piiKey };
  const ctx = {
    receivedAt: options.receivedAt,
    source: options.source,
    routeType: options.routeType,
    batchContext: isPlainObject(options.batchContext) ? (options.batchContext as JsonObject) : undefined,
    batchSentAt: options.batchSentAt,
    historical: options.historical,
    newId: options.newId ?? randomUUID,
    requestIp: options.requestIp,
  };
  // Described only while someone watches; trimmed to the first `liveBudget` by index at the end.
  const live: { index: number; event: LiveEvent }[] = [];
  const liveBudget = options.liveBudget ?? 0;
  const quarantine = (index: number, q: Quarantined): void => {
    job.quarantine.push(encodeQuarantine(q.row));
    quarantineIds.push(q.row.message_id);
    outcomes[index] = { index, messageId: q.messageId, status: 'quarantined', code: q.code, violations: q.violations };
    labels.push(...q.labels);
    if (liveBudget > 0) live.push({ index, event: q.live() });
  };

  const passed: { index: number; raw: unknown; judged: Judged }[] = [];
  rawEvents.forEach((raw, index) => {
    const normalized = normalizeStep(raw, ctx, privacy);
    if (!normalized.ok) {
      // An erased person's ids are stored nowhere, not even in a malformed payload kept as sent.
      if (suppressedRaw(raw, options.isSuppressed)) {
        suppressedCount++;
        outcomes[index] = { index, messageId: normalized.quarantine.messageId, status: 'suppressed' };
        return;
      }
      return quarantine(index, normalized.quarantine);
    }
    const original = normalized.value;
    if (suppressed(original, options.isSuppressed)) {
      suppressedCount++;
      outcomes[index] = { index, messageId: original.messageId, status: 'suppressed' };
      return;
    }
    const validated = validateStep(original, validator, privacy);
    if (!validated.ok) return quarantine(index, validated.quarantine);
    // Warnings are counted even when the event is then too large to keep as an event.
    labels.push(...validated.value.labels);
    passed.push({ index, raw, judged: validated.value });
  });

  const lines = encodeSteps(passed.map((p) => p.judged));
  passed.forEach(({ index, raw, judged }, i) => {
    const sized = sizeStep(lines[i]!, raw, judged, options.maxEventBytes, privacy);
    if (!sized.ok) return quarantine(index, sized.quarantine);
    const { event, verdict } = judged;
    job.events.push(sized.value);
    job.ids.push(event.messageId);
    outcomes[index] = verdict.violations.length
      ? { index, messageId: event.messageId, status: 'accepted', planStatus: verdict.status, violations: verdict.violations }
      : { index, messageId: event.messageId, status: 'accepted', planStatus: verdict.status };
    if (liveBudget > 0) live.push({ index, event: liveEvent(event, verdict) });
  });
  return {
    job,
    outcomes,
    accepted: job.events.length,
    quarantined: job.quarantine.length,
    suppressed: suppressedCount,
    violationLabels: labels,
    live: live
      .sort((a, b) => a.index - b.index)
      .slice(0, liveBudget)
      .map((l) => l.event),
  };
}
