import type { Warehouse } from '../warehouse/client.ts';
import { queryRows as rows } from '../warehouse/query.ts';
import { UNRESOLVED_QUARANTINE } from '../warehouse/unresolved.ts';

export interface PlanHealth {
  eventsByPlanVersion: { plan_version: string; plan_status: string; events: number }[];
  violationsByRule: { event: string; type: string; plan_version: string; rule: string; count: number }[];
  /** Stored but flagged (mode warn, policies warn/strip): events per event and rule, with one example message. */
  warnedByRule: { event: string; type: string; plan_version: string; rule: string; count: number; example: string }[];
  quarantineExamples: { message_id: string; event: string; type: string; received_at: string; reasons: string[]; violations: string }[];
  eventsSeen: { event: string; type: string; events: number; last_seen: string }[];
  /** Quarantined events per name, each once whatever it broke: the other side of a violation rate. */
  quarantinedByEvent: { event: string; type: string; count: number }[];
  quarantinedTotal: number;
  acceptedTotal: number;
}

/**
 * What the data behind the KPIs looks like: versions in use, violations, examples. Every figure
 * is of what was received in the range (received_at), stored and quarantined alike: a violation
 * rate over events stamped in the range but quarantined rows received in it mixed two periods
 * (a backfill of old events made today's rate 100 %).
 */
export async function planHealth(warehouse: Warehouse, sinceMs: number, untilMs: number = Date.now() + 86_400_000): Promise<PlanHealth> {
  const since = { since: sinceMs, until: untilMs };
  const [byVersion, violations, examples, seen, warned, quarantined] = await Promise.all([
    rows<{ plan_version: string; plan_status: string; events: string }>(
      warehouse,
      `SELECT plan_version, plan_status, count() AS events FROM events FINAL WHERE received_at >= fromUnixTimestamp64Milli({since:Int64}) AND received_at < fromUnixTimestamp64Milli({until:Int64}) GROUP BY plan_version, plan_status ORDER BY plan_version, plan_status`,
      since,
    ),
    rows<{ event: string; type: string; plan_version: string; rule: string; count: string }>(
      warehouse,
      `SELECT event, type, plan_version, arrayJoin(reasons) AS rule, count() AS count FROM quarantine FINAL WHERE received_at >= fromUnixTimestamp64Milli({since:Int64}) AND received_at < fromUnixTimestamp64Milli({until:Int64})
         AND ${UNRESOLVED_QUARANTINE}
       GROUP BY event, type, plan_version, rule ORDER BY count DESC LIMIT 200`,
      since,
    ),
    rows<PlanHealth['quarantineExamples'][number]>(
      warehouse,
      `SELECT message_id, event, type, toString(quarantine.received_at) AS received_at, reasons, violations FROM quarantine FINAL WHERE quarantine.received_at >= fromUnixTimestamp64Milli({since:Int64}) AND quarantine.received_at < fromUnixTimestamp64Milli({until:Int64})
         AND ${UNRESOLVED_QUARANTINE}
       ORDER BY quarantine.received_at DESC LIMIT 1 BY event, type, reasons LIMIT 50`,
      since,
    ),
    rows<{ event: string; type: string; events: string; last_seen: string }>(
      warehouse,
      `SELECT event, type, count() AS events, toString(max(received_at)) AS last_seen FROM events FINAL WHERE received_at >= fromUnixTimestamp64Milli({since:Int64}) AND received_at < fromUnixTimestamp64Milli({until:Int64}) GROUP BY event, type ORDER BY events DESC LIMIT 500`,
      since,
    ),
    rows<{ event: string; type: string; plan_version: string; rule: string; count: string; example: string }>(
      warehouse,
      // An event counts once per rule it broke, however many properties broke it.
      `SELECT event, type, plan_version, rule, count() AS count, any(message) AS example FROM (
         SELECT message_id, event, type, plan_version, JSONExtractString(v, 'rule') AS rule, any(JSONExtractString(v, 'message')) AS message
         FROM events FINAL ARRAY JOIN JSONExtractArrayRaw(violations) AS v
         WHERE plan_status = 'warned' AND received_at >= fromUnixTimestamp64Milli({since:Int64}) AND received_at < fromUnixTimestamp64Milli({until:Int64})
         GROUP BY message_id, event, type, plan_version, rule)
       GROUP BY event, type, plan_version, rule ORDER BY count DESC LIMIT 200`,
      since,
    ),
    // Each event once, whatever it broke: the rows above count it once per rule.
    rows<{ event: string; type: string; count: string }>(
      warehouse,
      `SELECT event, type, count() AS count FROM quarantine FINAL WHERE received_at >= fromUnixTimestamp64Milli({since:Int64}) AND received_at < fromUnixTimestamp64Milli({until:Int64})
         AND ${UNRESOLVED_QUARANTINE}
       GROUP BY event, type ORDER BY count DESC`,
      since,
    ),
  ]);
  const quarantinedByEvent = quarantined.map((r) => ({ ...r, count: Number(r.count) }));
  return {
    eventsByPlanVersion: byVersion.map((r) => ({ ...r, events: Number(r.events) })),
    violationsByRule: violations.map((r) => ({ ...r, count: Number(r.count) })),
    quarantineExamples: examples,
    eventsSeen: seen.map((r) => ({ ...r, events: Number(r.events) })),
    warnedByRule: warned.map((r) => ({ ...r, count: Number(r.count) })),
    quarantinedByEvent,
    quarantinedTotal: quarantinedByEvent.reduce((n, r) => n + r.count, 0),
    acceptedTotal: byVersion.reduce((n, r) => n + Number(r.events), 0),
  };
}

export interface LoadHealth {
  /** Seconds since the newest row was received; null on an empty table. */
  freshnessSeconds: number | null;
  insertedLastMinute: number;
  insertedPerMinute: { minute: string; rows: number }[];
}

export async function loadHealth(warehouse: Warehouse): Promise<LoadHealth> {
  const [fresh] = await rows<{ newest: string | null; last_minute: string }>(
    warehouse,
    `SELECT toUnixTimestamp64Milli(max(received_at)) AS newest, countIf(inserted_at >= now64(3) - INTERVAL 1 MINUTE) AS last_minute FROM events WHERE inserted_at >= now64(3) - INTERVAL 1 DAY`,
  );
  const perMinute = await rows<{ minute: string; rows: string }>(
    warehouse,
    `SELECT toString(toStartOfMinute(inserted_at)) AS minute, count() AS rows FROM events WHERE inserted_at >= now64(3) - INTERVAL 1 HOUR GROUP BY minute ORDER BY minute`,
  );
  const newest = fresh?.newest ? Number(fresh.newest) : 0;
  return {
    freshnessSeconds: newest > 0 ? Math.max(0, (Date.now() - newest) / 1000) : null,
    insertedLastMinute: Number(fresh?.last_minute ?? 0),
    insertedPerMinute: perMinute.map((r) => ({ minute: r.minute, rows: Number(r.rows) })),
  };
}
