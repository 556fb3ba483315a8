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

/** The aggregate of a metric type over the column holding the property's value (sum, average). */
const AGGREGATE: Record<EventMetric['type'], (value: string) => string> = {
  count: () => 'toFloat64(count())',
  unique_persons: () => 'toFloat64(uniqExact(person))',
  sum: (value) => `sum(${value})`,
  average: (value) => `avg(${value})`,
};

/** Per event row: its id (to fold copies), its time, and what the aggregates read (person, values). */
function rowColumns(metrics: readonly EventMetric[], valueAlias: (i: number) => string): string[] {
  const columns = [`e.message_id AS message_id`, `e.timestamp AS ts`];
  if (metrics.some((m) => m.type === 'unique_persons')) columns.push(`${PERSON} AS person`);
  metrics.forEach((m, i) => {
    if (m.type === 'average' || m.type === 'sum') columns.push(`JSONExtractFloat(e.properties, ${keyLiteral(m.property)}) AS ${valueAlias(i)}`);
  });
  return columns;
}

/** The events the metrics read, folded (FINAL), joined to the identity graph when one counts persons. */
const eventsSource = (metrics: readonly EventMetric[]): string => `FROM events AS e FINAL${metrics.some((m) => m.type === 'unique_persons') ? `\n  ${IDENTITY_JOIN}` : ''}`;

/**
 * Result columns: key ('current' | 'previous' | a bucket start 'YYYY-MM-DD...'), then one column
 * per metric (`valueColumns`). The metrics share one event and its filters: one scan, one fold.
 */
function compileOverPeriods(metrics: readonly EventMetric[], range: TimeRange, grain: TimeGrain, valueColumns: readonly string[]): CompiledQuery {
  const first = metrics[0]!;
  const params = new Params();
  const previousFromMs = range.fromMs - (range.toMs - range.fromMs);
  const prevFrom = params.set('previous_from', "DateTime64(3, 'UTC')", chDateTime(Math.max(0, previousFromMs)));
  const from = params.set('from', "DateTime64(3, 'UTC')", chDateTime(range.fromMs));
  const to = params.set('to', "DateTime64(3, 'UTC')", chDateTime(range.toMs));
  const tz = zoneParam(range, params);
  const condition = eventCondition('e.event', first.event, first.filters, 'e.properties', params);
  // One metric reads its property as `v`; several, each its own.
  const valueAlias = (i: number) => (metrics.length === 1 ? 'v' : `v_${i}`);
  const columns = rowColumns(metrics, valueAlias);
  const aggregates = metrics.map((m, i) => `${AGGREGATE[m.type](valueAlias(i))} AS ${valueColumns[i]}`);
  const sql = [
    `SELECT key, ${aggregates.join(', ')}`,
    `FROM (`,
    `  SELECT ${columns.join(', ')}`,
    `  ${eventsSource(metrics)}`,
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
 * Result columns: key ('current' | 'previous' | a bucket start 'YYYY-MM-DD...'), value.
 * `grain` overrides the metric's own (ratios use their own grain for both sides).
 */
export function compileMetric(metric: EventMetric, range: TimeRange, grain: TimeGrain = metric.grain): CompiledQuery {
  return compileOverPeriods([metric], range, grain, ['value']);
}

/** The result column of metric `i` of compileMetrics. */
export const valueColumn = (i: number): string => `value_${i}`;

/** Metrics of the same event and filters as one query that reads and folds their rows once: column valueColumn(i) is metric i's. */
export function compileMetrics(metrics: readonly EventMetric[], range: TimeRange, grain: TimeGrain): CompiledQuery {
  return compileOverPeriods(
    metrics,
    range,
    grain,
    metrics.map((_, i) => valueColumn(i)),
  );
}

/** Metrics that compileMetrics may answer together: the same event and the same filters. */
export const scanKey = (metric: EventMetric): string => `${metric.event} ${JSON.stringify(metric.filters)}`;

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
  const columns = rowColumns([metric], () => 'v');
  columns.push(`${metric.breakdown ? propertyText('e.properties', keyLiteral(metric.breakdown)) : "''"} AS bd`);
  const sql = [
    `SELECT key, bd, ${AGGREGATE[metric.type]('v')} AS value`,
    `FROM (`,
    `  SELECT ${columns.join(', ')}`,
    `  ${eventsSource([metric])}`,
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
