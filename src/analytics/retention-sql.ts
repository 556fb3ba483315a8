/**
 * Compiles a retention definition to one ClickHouse query.
 *
 * Semantics (documented in README "Retention"):
 * - An entity (a stitched person, or a property value such as mission_id) enters at its first
 *   start event inside [from, to). Its cohort is the calendar day, week (Monday) or month of
 *   that entry, in the project time zone (opts.timeZone, UTC by default).
 * - It is retained in period k when some return event happens strictly after its entry and
 *   falls in the k-th calendar bucket after the cohort's (period 0 = the entry's own bucket).
 *   Returns are observed up to `asOf` (now), not only up to `to`: the cohort comes from the
 *   range, what it did afterwards is what retention asks.
 * - Counting whether a period holds at least one return is unaffected by duplicates; a late
 *   resend (another corrected timestamp under the same message_id) is folded by FINAL first.
 * Which periods are complete (their bucket ended before `asOf`) is decided by the caller from
 * the cohort dates: the query only counts.
 */
import type { RetentionDefinition, TimeGrain } from './model.ts';
import { chDateTime, eventCondition, ident, IDENTITY_JOIN, keyLiteral, Params, PERSON, propertyText, zoneParam, type CompiledQuery, type TimeRange } from './sql-common.ts';

export interface RetentionQueryOptions extends TimeRange {
  /** The end of observation (epoch ms): returns after it are not seen yet. */
  asOfMs: number;
}

/** The calendar bucket of epoch ms `ts` in the zone `tz` (a query parameter). */
const BUCKET: Record<TimeGrain, (ts: string, tz: string) => string> = {
  day: (ts, tz) => `toDate(fromUnixTimestamp64Milli(${ts}, ${tz}))`,
  week: (ts, tz) => `toStartOfWeek(fromUnixTimestamp64Milli(${ts}, ${tz}), 1)`,
  month: (ts, tz) => `toStartOfMonth(fromUnixTimestamp64Milli(${ts}, ${tz}))`,
};

/** Whole buckets between two bucket starts (weeks as days / 7: both are Mondays). */
const DISTANCE: Record<TimeGrain, (a: string, b: string) => string> = {
  day: (a, b) => `dateDiff('day', ${a}, ${b})`,
  week: (a, b) => `intDiv(dateDiff('day', ${a}, ${b}), 7)`,
  month: (a, b) => `dateDiff('month', ${a}, ${b})`,
};

/**
 * Result columns: cohort (Date), period (Int64; −1 = the cohort's size), entities (UInt64).
 * One row per cohort and per period in 0..periods−1 that somebody returned in.
 */
export function compileRetention(def: RetentionDefinition, opts: RetentionQueryOptions): CompiledQuery {
  const params = new Params();
  const from = params.set('from', "DateTime64(3, 'UTC')", chDateTime(opts.fromMs));
  const to = params.set('to', "DateTime64(3, 'UTC')", chDateTime(opts.toMs));
  const asOf = params.set('as_of', "DateTime64(3, 'UTC')", chDateTime(Math.max(opts.asOfMs, opts.toMs)));
  const periods = params.set('periods', 'Int64', def.periods);
  const tz = zoneParam(opts, params);
  const entity = def.entity.kind === 'person' ? PERSON : propertyText('e.properties', keyLiteral(def.entity.property));
  const isStart = eventCondition(def.start, params);
  const isReturn = eventCondition(def.return, params);
  const events = [...new Set([def.start.event, def.return.event].map((e) => `'${ident(e)}'`))].join(', ');

  const scan = [
    `SELECT ${entity} AS entity,`,
    `      toUnixTimestamp64Milli(e.timestamp) AS ts,`,
    `      (${isStart}) AND e.timestamp < ${to} AS is_start,`,
    `      (${isReturn}) AS is_return`,
    `    FROM events AS e FINAL${def.entity.kind === 'person' ? `\n    ${IDENTITY_JOIN}` : ''}`,
    `    WHERE e.event IN (${events}) AND e.timestamp >= ${from} AND e.timestamp < ${asOf}`,
  ].join('\n');
  const perEntity = [
    `SELECT entity, minIf(ts, is_start) AS t0, groupArrayIf(ts, is_return) AS returns`,
    `  FROM (\n    ${scan}\n  )`,
    `  WHERE entity != ''`,
    `  GROUP BY entity`,
    `  HAVING countIf(is_start) > 0`,
  ].join('\n');
  const bucket = (ts: string) => BUCKET[def.grain](ts, tz);
  const distance = DISTANCE[def.grain]('cohort', bucket('x'));
  const cohorts = [
    `SELECT ${bucket('t0')} AS cohort,`,
    `  arrayDistinct(arrayFilter(p -> p < ${periods}, arrayMap(x -> ${distance}, arrayFilter(x -> x > t0, returns)))) AS retained`,
    `FROM (\n  ${perEntity}\n)`,
  ].join('\n');
  const sql = [
    `SELECT cohort, period, count() AS entities`,
    `FROM (\n${cohorts}\n)`,
    // −1 stands for "entered": every entity counts once in its cohort's size.
    `ARRAY JOIN arrayConcat([toInt64(-1)], arrayMap(p -> toInt64(p), retained)) AS period`,
    `GROUP BY cohort, period`,
    `ORDER BY cohort, period`,
    `SETTINGS join_use_nulls = 0`,
  ].join('\n');
  return { sql, params: params.values };
}
