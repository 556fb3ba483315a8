/**
 * Compiles an event metric (count, unique persons, sum or average of a property) to one query that
 * answers the period, the previous period of the same length, and a series over the grain.
 * Rows are deduplicated by message_id first (FINAL folds a late resend under the same key,
 * keeping the first copy; LIMIT 1 BY catches what only shares the id), so a resent event never
 * counts twice.
 */
import type { EventMetric, TimeGrain } from './model.ts';
import { chDateTime, eventCondition, IDENTITY_JOIN, keyLiteral, Params, PERSON, propertyText, zoneParam, type CompiledQuery, type TimeRange } from './sql-common.ts';

/** The bucket of a row's time, cut by the calendar of the zone `tz` (a query parameter). */
const BUCKET: Record<TimeGrain, (tz: string) => string> = {
  day: (tz) => `toDate(ts, ${tz})`,
  week: (tz) => `toStartOfWeek(ts, 1, ${tz})`,
  month: (tz) => `toStartOfMonth(ts, ${tz})`,
};

const AGGREGATE: Record<EventMetric['type'], string> = {
  count: 'toFloat64(count())',
  unique_persons: 'toFloat64(uniqExact(person))',
  sum: 'sum(v)',
  average: 'avg(v)',
};

/** Per event row: its id (to fold copies), its time, and what the aggregate reads (person, value). */
function rowColumns(metric: EventMetric): string[] {
  const columns = [`e.message_id AS message_id`, `e.timestamp AS ts`];
  if (metric.type === 'unique_persons') columns.push(`${PERSON} AS person`);
  if (metric.type === 'average' || metric.type === 'sum') columns.push(`JSONExtractFloat(e.properties, ${keyLiteral(metric.property)}) AS v`);
  return columns;
}

/**
 * Result columns: key ('current' | 'previous' | a bucket start 'YYYY-MM-DD...'), value.
 * `grain` overrides the metric's own (ratios use their own grain for both sides).
 */
export function compileMetric(metric: EventMetric, range: TimeRange, grain: TimeGrain = metric.grain): CompiledQuery {
  const params = new Params();
  const previousFromMs = range.fromMs - (range.toMs - range.fromMs);
  const prevFrom = params.set('previous_from', "DateTime64(3, 'UTC')", chDateTime(Math.max(0, previousFromMs)));
  const from = params.set('from', "DateTime64(3, 'UTC')", chDateTime(range.fromMs));
  const to = params.set('to', "DateTime64(3, 'UTC')", chDateTime(range.toMs));
  const tz = zoneParam(range, params);
  const condition = eventCondition('e.event', metric.event, metric.filters, 'e.properties', params);
  const columns = rowColumns(metric);
  const aggregate = AGGREGATE[metric.type];
  const sql = [
    `SELECT key, ${aggregate} AS value`,
    `FROM (`,
    `  SELECT ${columns.join(', ')}`,
    `  FROM events AS e FINAL${metric.type === 'unique_persons' ? `\n  ${IDENTITY_JOIN}` : ''}`,
    `  WHERE ${condition} AND e.timestamp >= ${prevFrom} AND e.timestamp < ${to}`,
    `  LIMIT 1 BY message_id`,
    `)`,
    `ARRAY JOIN if(ts >= ${from}, ['current', toString(${BUCKET[grain](tz)})], ['previous']) AS key`,
    `GROUP BY key`,
    `ORDER BY key`,
    `SETTINGS join_use_nulls = 0`,
  ].join('\n');
  return { sql, params: params.values };
}

/**
 * An ad-hoc trend: the metric per bucket of `grain` over [from, to), split by the metric's
 * breakdown property when it has one. Result columns: key ('total' | a bucket start), bd (the
 * breakdown value, '' when the event lacks it or there is no breakdown), value. The 'total' row of
 * each value is computed over the whole range (unique persons are not a sum of buckets).
 */
export function compileTrend(metric: EventMetric, range: TimeRange, grain: TimeGrain = metric.grain): CompiledQuery {
  const params = new Params();
  const from = params.set('from', "DateTime64(3, 'UTC')", chDateTime(range.fromMs));
  const to = params.set('to', "DateTime64(3, 'UTC')", chDateTime(range.toMs));
  const tz = zoneParam(range, params);
  const condition = eventCondition('e.event', metric.event, metric.filters, 'e.properties', params);
  const columns = rowColumns(metric);
  columns.push(`${metric.breakdown ? propertyText('e.properties', keyLiteral(metric.breakdown)) : "''"} AS bd`);
  const sql = [
    `SELECT key, bd, ${AGGREGATE[metric.type]} AS value`,
    `FROM (`,
    `  SELECT ${columns.join(', ')}`,
    `  FROM events AS e FINAL${metric.type === 'unique_persons' ? `\n  ${IDENTITY_JOIN}` : ''}`,
    `  WHERE ${condition} AND e.timestamp >= ${from} AND e.timestamp < ${to}`,
    `  LIMIT 1 BY message_id`,
    `)`,
    `ARRAY JOIN ['total', toString(${BUCKET[grain](tz)})] AS key`,
    `GROUP BY key, bd`,
    `ORDER BY key, bd`,
    `SETTINGS join_use_nulls = 0`,
  ].join('\n');
  return { sql, params: params.values };
}
