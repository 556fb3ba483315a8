/**
 * Metabase native questions compiled from the same KPI definitions as the API, through the
 * analytics compilers. Metabase runs plain SQL, so the compilers' typed query parameters are
 * rendered here as ClickHouse literals, and the time bounds become expressions relative to
 * now(): the question stays current and its SQL text is stable, which keeps provisioning
 * idempotent. Buckets and cohorts follow the project time zone (decision 0038), inlined as a
 * literal like every other parameter.
 */
import { SNAKE_NAME } from '../plan/file-schemas.ts';
import { quoteString } from '../util/sql-quote.ts';
import { DEFAULT_TIME_ZONE } from '../util/zone.ts';
import { basename } from 'node:path';
import { compileFunnel } from '../analytics/funnel-sql.ts';
import { compileMetric } from '../analytics/metric-sql.ts';
import { compileRetention } from '../analytics/retention-sql.ts';
import type { EventMetric, FunnelDefinition, KpiDefinitions, MetricDefinition, RetentionDefinition, TimeGrain } from '../analytics/model.ts';
import type { CompiledQuery, ParamValue } from '../analytics/sql-common.ts';
import { MetabaseError } from './errors.ts';

export interface Question {
  /** "kpi:<metric id>", "funnel:<funnel id>" or "retention:<retention id>". */
  key: string;
  kind: 'kpi' | 'funnel' | 'retention';
  name: string;
  description: string;
  sql: string;
  display: 'line' | 'funnel' | 'table';
  visualization_settings: Record<string, unknown>;
}

/** The marker that identifies a Balise-managed card whatever its title becomes. */
export const markerOf = (key: string) => `balise:${key}`;
/** The key after "balise:", with the plan's own KPI id pattern (it refused `a__b`, the marker took it). */
const MARKER = new RegExp(`\\bbalise:((?:kpi|funnel|retention):${SNAKE_NAME})\\b`);
export function keyFromDescription(description: string | null | undefined): string | undefined {
  return description ? MARKER.exec(description)?.[1] : undefined;
}

/** A ClickHouse string literal (util/sql-quote.ts). */
export const quote = quoteString;

function literal(value: ParamValue, type: string): string {
  if (Array.isArray(value)) return `[${(value as (string | number)[]).map((v) => literal(v, type.replace(/^Array\((.*)\)$/, '$1'))).join(', ')}]`;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new MetabaseError('metabase_invalid_question', `non-finite number in a question: ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? '1' : '0';
  return quote(value);
}

/**
 * Replaces every `{name:Type}` placeholder: `bounds` gives SQL expressions for time bounds,
 * every other parameter becomes a literal of its value.
 */
export function inlineParams(query: CompiledQuery, bounds: Record<string, string>): string {
  return query.sql.replace(/\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}/g, (placeholder, name: string, type: string) => {
    if (name in bounds) return bounds[name] as string;
    const value = query.params[name];
    if (value === undefined) throw new MetabaseError('metabase_invalid_question', `no value for ${placeholder}`);
    return literal(value, type);
  });
}

const NOW = `now64(3, 'UTC')`;
/** How far back each grain's series goes in Metabase. */
const LOOKBACK: Record<TimeGrain, string> = { day: '30 DAY', week: '12 WEEK', month: '12 MONTH' };
const FUNNEL_LOOKBACK = '365 DAY';
/** compileMetric/compileFunnel need numbers for the bounds they compute; these are replaced. */
const placeholderRange = (timeZone: string) => ({ fromMs: 2 * 86_400_000, toMs: 3 * 86_400_000, timeZone });

const STEP: Record<TimeGrain, string> = { day: 'INTERVAL 1 DAY', week: 'INTERVAL 1 WEEK', month: 'INTERVAL 1 MONTH' };

/**
 * The first day of the series: the start of the period `lookback` ago, in the project zone, so
 * the first point is a whole week or month, not the days of it that fall in the window.
 */
function seriesStartDate(grain: TimeGrain, timeZone: string): string {
  const back = `${NOW} - INTERVAL ${LOOKBACK[grain]}`;
  const zone = `'${timeZone}'`;
  return grain === 'day' ? `toDate(${back}, ${zone})` : grain === 'week' ? `toStartOfWeek(${back}, 1, ${zone})` : `toStartOfMonth(${back}, ${zone})`;
}

/** That first day's start in the zone, as the instant the compiled queries take for `from`. */
const seriesStart = (grain: TimeGrain, timeZone: string): string => `toDateTime64(toDateTime(${seriesStartDate(grain, timeZone)}, '${timeZone}'), 3, 'UTC')`;

function metricSeriesSql(metric: EventMetric, grain: TimeGrain, timeZone: string): string {
  const lookback = LOOKBACK[grain];
  const from = seriesStart(grain, timeZone);
  return inlineParams(compileMetric(metric, placeholderRange(timeZone), grain), {
    previous_from: `${from} - INTERVAL ${lookback}`,
    from,
    to: NOW,
  });
}

/** Every period of the series, an empty one as 0 (a count, a sum): a line is not drawn across it. */
function filledOrder(grain: TimeGrain, timeZone: string): string {
  return `ORDER BY period WITH FILL FROM ${seriesStartDate(grain, timeZone)} TO toDate(${NOW}, '${timeZone}') + 1 STEP ${STEP[grain]}`;
}

export function metricQuestion(metric: MetricDefinition, all: MetricDefinition[], timeZone: string = DEFAULT_TIME_ZONE): Question {
  let sql: string;
  if (metric.type === 'ratio') {
    const find = (id: string): EventMetric => {
      const m = all.find((x) => x.id === id);
      if (!m || m.type === 'ratio') throw new MetabaseError('metabase_invalid_question', `metric ${metric.id}: ratio operand ${id} is not an event metric`);
      return m;
    };
    const numerator = metricSeriesSql(find(metric.numerator), metric.grain, timeZone);
    const denominator = metricSeriesSql(find(metric.denominator), metric.grain, timeZone);
    // Over the denominator's periods: one where nothing was accepted is 0 %, not left out.
    sql = [
      `SELECT toDate(d.key) AS period, if(d.value = 0, NULL, n.value / d.value) AS value`,
      `FROM (\n${denominator}\n) AS d`,
      `LEFT JOIN (\n${numerator}\n) AS n ON n.key = d.key`,
      `WHERE d.key NOT IN ('current', 'previous')`,
      `ORDER BY period`,
    ].join('\n');
  } else {
    // An average of no event is no value: only counts and sums are filled with 0.
    const order = metric.type === 'average' ? 'ORDER BY period' : filledOrder(metric.grain, timeZone);
    sql = [`SELECT toDate(key) AS period, value`, `FROM (\n${metricSeriesSql(metric, metric.grain, timeZone)}\n)`, `WHERE key NOT IN ('current', 'previous')`, order].join('\n');
  }
  const key = `kpi:${metric.id}`;
  return {
    key,
    kind: 'kpi',
    name: metric.title,
    description: describe(
      metric.description,
      `${metric.title} per ${metric.grain} (${timeZone}), generated by Balise from kpis/${basename(metric.file)}. The last point is the current ${metric.grain}, still under way.`,
      key,
    ),
    sql,
    display: 'line',
    visualization_settings: { 'graph.dimensions': ['period'], 'graph.metrics': ['value'], 'graph.x_axis.title_text': metric.grain, 'graph.y_axis.title_text': metric.unit || metric.title },
  };
}

export function funnelQuestion(funnel: FunnelDefinition, timeZone: string = DEFAULT_TIME_ZONE): Question {
  const inner = inlineParams(compileFunnel(funnel, { ...placeholderRange(timeZone), breakdown: undefined }), {
    from: `${NOW} - INTERVAL ${FUNNEL_LOOKBACK}`,
    to: NOW,
    scan_to: `${NOW} + toIntervalSecond(${Math.ceil(funnel.windowMs / 1000)})`,
  });
  // An optional step is counted by who did it, so its bar may be lower than the next one's.
  const columns = funnel.steps.map((s, i) => `(${quote(`${i + 1}. ${s.label}${s.optional ? ' (optional)' : ''}`)}, ${i === 0 ? 'entered' : `reached_${i + 1}`})`);
  const sql = [`SELECT s.1 AS step, s.2 AS entities`, `FROM (\n${inner}\n)`, `ARRAY JOIN [${columns.join(', ')}] AS s`, `WHERE dim = 'total'`].join('\n');
  const key = `funnel:${funnel.id}`;
  return {
    key,
    kind: 'funnel',
    name: `Funnel: ${funnel.title}`,
    description: describe(funnel.description, `${funnel.title} over the last ${FUNNEL_LOOKBACK.toLowerCase().replace(' day', ' days')}, generated by Balise from kpis/${basename(funnel.file)}.`, key),
    sql,
    display: 'funnel',
    visualization_settings: { 'funnel.dimension': 'step', 'funnel.metric': 'entities' },
  };
}

const ADD: Record<TimeGrain, string> = { day: 'addDays', week: 'addWeeks', month: 'addMonths' };

/**
 * Retention as a table: one row per cohort and period with at least one return, the cohort's
 * size, the rate, and whether the period had ended at query time (`incomplete` rows are lower
 * bounds, not drops). Cohorts from the start of the period the lookback (by grain) reaches, up to
 * now; returns up to now.
 */
export function retentionQuestion(def: RetentionDefinition, timeZone: string = DEFAULT_TIME_ZONE): Question {
  const range = placeholderRange(timeZone);
  const inner = inlineParams(compileRetention(def, { ...range, asOfMs: range.toMs }), {
    // The first cohort is a whole week or month, as in the KPI cards.
    from: seriesStart(def.grain, timeZone),
    to: NOW,
    as_of: NOW,
  });
  const sql = [
    `SELECT cohort, period, entered, entities AS retained, round(entities / entered, 4) AS rate,`,
    // Cohorts are local dates of the zone: compare them with today's local date.
    `  if(${ADD[def.grain]}(cohort, period + 1) <= toDate(${NOW}, ${quote(timeZone)}), 'complete', 'incomplete') AS status`,
    `FROM (`,
    `  SELECT cohort, period, entities, max(if(period = -1, entities, 0)) OVER (PARTITION BY cohort) AS entered`,
    `  FROM (\n${inner}\n)`,
    `)`,
    `WHERE period >= 0`,
    `ORDER BY cohort, period`,
  ].join('\n');
  const key = `retention:${def.id}`;
  return {
    key,
    kind: 'retention',
    name: `Retention: ${def.title}`,
    description: describe(
      def.description,
      `${def.title}: ${def.start.event} then ${def.return.event}, by ${def.grain} (${timeZone}), cohorts of the last ${LOOKBACK[def.grain].toLowerCase()}s; incomplete periods are under way; generated by Balise from kpis/${basename(def.file)}.`,
      key,
    ),
    sql,
    display: 'table',
    visualization_settings: {},
  };
}

/**
 * What the question is and where it comes from lives here, not in a leading SQL comment: some
 * ClickHouse JDBC versions fail on a query that starts with `--`.
 */
function describe(text: string, origin: string, key: string): string {
  return `${text ? `${text}\n\n` : ''}${origin}\nManaged by Balise (${markerOf(key)}): edit tracking-plan/kpis, then run \`balise metabase provision\`.`;
}

/** Every question, KPIs first, in definition order; periods cut in `timeZone` (the project's). */
export function questionsFor(definitions: KpiDefinitions, timeZone: string = DEFAULT_TIME_ZONE): Question[] {
  return [
    ...definitions.metrics.map((m) => metricQuestion(m, definitions.metrics, timeZone)),
    ...definitions.funnels.map((f) => funnelQuestion(f, timeZone)),
    ...definitions.retention.map((r) => retentionQuestion(r, timeZone)),
  ];
}
