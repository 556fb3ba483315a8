/** Shared shapes that cross module boundaries: the normalised event and its warehouse row. */

export type EventType = 'track' | 'identify' | 'page' | 'screen' | 'group' | 'alias';
export const EVENT_TYPES: readonly EventType[] = ['track', 'identify', 'page', 'screen', 'group', 'alias'];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * An event after the ingest has normalised it (Segment spec field names, timestamps resolved
 * to epoch milliseconds, ids checked to be strings). This is what the plan validates.
 */
export interface NormalizedEvent {
  type: EventType;
  messageId: string;
  /** track: event name; page/screen: page or screen name ('' when absent); others ''. */
  event: string;
  userId: string;
  anonymousId: string;
  groupId: string;
  previousId: string;
  /** Corrected for client clock skew: receivedAt − (sentAt − timestamp). */
  timestamp: number;
  /** The client's own timestamp before that correction (null when it sent none). */
  originalTimestamp?: number | null;
  sentAt: number | null;
  receivedAt: number;
  /**
   * The message's own time, from the body alone: the client's timestamp as sent (uncorrected),
   * else its sentAt, else 0 (no time in the body: keyed on 1970-01-01). Unlike `timestamp` it does not move when the same body is
   * resent later, so the warehouse keys duplicates on it (migration 003). Absent from events
   * quarantined before it existed.
   */
  messageTime?: number;
  properties: JsonObject;
  traits: JsonObject;
  context: JsonObject;
  /** The plan version the client declared (context.plan.version), if any. */
  declaredPlanVersion: string | undefined;
  source: string;
  /**
   * Set on a quarantined event's stored form only: JSON pointers of the values the plan's privacy
   * rules hashed or dropped before it was kept ("/properties/email"). Replay cannot judge those
   * values again; the plan judged them as sent, at ingest.
   */
  piiRewritten?: string[];
}

/** One violation of the tracking plan, precise enough to fix the instrumentation. */
export interface Violation {
  /** JSON pointer into the event, e.g. "/properties/daily_rate". */
  path: string;
  /** Stable rule code, e.g. "required", "type", "enum", "unplanned_event", "deprecated_event". */
  rule: string;
  message: string;
}

/**
 * The plan's verdict on one event. A violation is a result, not an exception.
 * - valid: stored in `events`.
 * - warned: stored in `events` with its violations recorded (mode `warn`, policies `warn`/`strip`).
 * - unplanned: stored in `events` (unplanned policy `allow`).
 * - quarantined: stored in `quarantine` with its violations (mode `enforce`).
 */
export interface PlanVerdict {
  status: 'valid' | 'warned' | 'unplanned' | 'quarantined';
  /** The version actually used to validate (the declared one when known, else the latest). */
  planVersion: string;
  violations: Violation[];
  /** Set when the plan strips undeclared properties: what to store instead of the event's own. */
  properties?: JsonObject;
}

/** A row of the `events` table, as inserted with JSONEachRow. */
export interface EventRow {
  message_id: string;
  type: EventType;
  event: string;
  user_id: string;
  anonymous_id: string;
  group_id: string;
  previous_id: string;
  timestamp: number;
  /** The client's timestamp before clock-skew correction (migration 002). */
  original_timestamp?: number | null;
  sent_at: number | null;
  received_at: number;
  /** Day of `messageTime` (YYYY-MM-DD); when absent the table derives it from the columns above. */
  message_date?: string;
  properties: string;
  traits: string;
  context: string;
  source: string;
  library_name: string;
  library_version: string;
  plan_version: string;
  plan_status: PlanVerdict['status'];
  violations: string;
}

/** A row of the `quarantine` table. */
export interface QuarantineRow {
  message_id: string;
  received_at: number;
  source: string;
  type: string;
  event: string;
  plan_version: string;
  reasons: string[];
  violations: string;
  raw: string;
}
