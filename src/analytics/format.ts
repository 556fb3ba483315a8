/** Plain-text renderings of analytics results for the CLI (pure: rows of cells in, strings out). */
import { zonedDate } from '../util/zone.ts';
import Table from 'cli-table3';
import { formatDuration } from '../util/duration.ts';
import { funnelStepRules } from '../util/funnel-rules.ts';
import { changesInPoints, pointChange, runsPastToday } from '../util/kpi-change.ts';
import type { FunnelResult, KpiResult, RetentionResult, SqlResult } from './results.ts';
import type { RangeInfo } from './sql-common.ts';

/** Whether tables may carry ANSI colour: only for a terminal, never under NO_COLOR (the CLI decides). */
export interface FormatOptions {
  colour?: boolean;
}

const cyan = (text: string) => `\x1b[36m${text}\x1b[39m`;

/**
 * The header in colour when the CLI asks for it. cli-table3's own colouring is off: its colour
 * library second-guesses the CLI's decision (it turns itself off whenever a CI variable is set,
 * even on a terminal), and the CLI alone knows about NO_COLOR and the terminal.
 */
function table(head: string[], options: FormatOptions): Table.Table {
  return new Table({ head: options.colour ? head.map(cyan) : head, style: { head: [], border: [] } });
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
/** A conversion rate, or '–' when nobody was there to convert (0 of 0 is no rate, not 0 %). */
const rate = (x: number, base: number): string => (base > 0 ? pct(x) : '–');

function fmtNumber(v: number | null, unit = ''): string {
  if (v === null) return '–';
  if (unit === '%') return pct(v);
  const text = Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(2);
  return unit ? `${text} ${unit}` : text;
}

/** "2026-01-01 → 2026-03-31 (Europe/Paris; default: last 90 days)": bare dates of the zone, `to` inclusive, as typed. */
export function formatRange(range: RangeInfo): string {
  // The days are those of the project zone: its midnights, not UTC's, start and end them.
  const zone = range.timeZone;
  const lastDay = zonedDate(Date.parse(range.to) - 1, zone);
  return `${zonedDate(Date.parse(range.from), zone)} → ${lastDay} (${zone}${range.isDefault ? `; default: last ${range.defaultDays} days` : ''})`;
}

/**
 * One retention cell: the share of the cohort, "…" after it while the period is under way (a
 * lower bound, not a drop), blank for a period that has not started.
 */
function retentionCell(cell: RetentionResult['cohorts'][number]['cells'][number]): string {
  if (cell.status === 'future' || cell.rate === null) return '';
  return `${pct(cell.rate)}${cell.status === 'incomplete' ? '…' : ''}`;
}

export function formatRetention(result: RetentionResult, options: FormatOptions = {}): string {
  const entity = result.entity.kind === 'person' ? 'persons' : result.entity.property;
  const lines = [
    `${result.title} (${result.id}) · ${entity} · ${result.start.event} → ${result.return.event} · by ${result.grain}`,
    `cohorts entered ${formatRange(result.range)}; returns seen up to ${result.asOf.slice(0, 16).replace('T', ' ')} UTC`,
  ];
  const periods = Array.from({ length: result.periods }, (_, k) => `${result.grain[0]?.toUpperCase()}${k}`);
  const t = table([`${result.grain} of entry`, 'Entered', ...periods], options);
  for (const c of result.cohorts) t.push([c.cut ? `${c.cohort} (part)` : c.cohort, c.entered.toLocaleString('en-US'), ...c.cells.map(retentionCell)]);
  const curve = result.curve.map((p) => (p.rate === null ? '' : pct(p.rate)));
  t.push(['All complete', '', ...curve]);
  lines.push(t.toString(), `… = period under way (lower bound); blank = not started yet. "All complete" counts only cohorts that lived the whole period.`);
  if (result.cohorts.some((c) => c.cut)) lines.push(`(part) = the range cuts this ${result.grain}: its cohort holds only the entries of the days inside the range.`);
  return lines.join('\n');
}

export function formatFunnel(result: FunnelResult, options: FormatOptions = {}): string {
  const entity = result.entity.kind === 'person' ? 'persons' : result.entity.property;
  const lines = [`${result.title} (${result.id}) · ${entity} · ${result.order} order · window ${formatDuration(result.windowMs)}`, formatRange(result.range)];
  const steps = table(['#', 'Step', 'Count', 'From previous', 'From start', 'Drop-off', 'Median time'], options);
  for (const s of result.steps) {
    steps.push([
      s.index,
      s.optional ? `${s.label} (optional)` : s.label,
      s.count.toLocaleString('en-US'),
      s.index === 1 ? '' : rate(s.conversionFromPrevious, result.steps[s.previousStep - 1]?.count ?? 0),
      rate(s.conversionFromStart, result.entered),
      s.index === 1 ? '' : s.dropOff.toLocaleString('en-US'),
      formatDuration(s.medianMsFromPrevious),
    ]);
  }
  lines.push(steps.toString(), `Overall conversion: ${rate(result.conversion, result.entered)} (${result.converted} of ${result.entered})`);
  const ttc = result.timeToConvert;
  if (ttc)
    lines.push(
      `Time to convert: median ${formatDuration(ttc.median)} (10% ${formatDuration(ttc.p10)}, 25% ${formatDuration(ttc.p25)}, 75% ${formatDuration(ttc.p75)}, 90% ${formatDuration(ttc.p90)})`,
    );
  const rules = funnelStepRules(result.order, result.steps);
  if (rules.length) lines.push(`Step rules: ${rules.join('; ')}`);
  const head = ['', 'Entered', ...result.steps.slice(1).map((s) => s.label), 'Conversion'];
  if (result.breakdown) {
    const t = table([result.breakdown.property, ...head.slice(1)], options);
    for (const g of result.breakdown.groups) t.push([g.value, ...g.counts.map(String), rate(g.conversion, g.counts[0] ?? 0)]);
    const touch = result.breakdown.source === 'event' ? (result.breakdown.attribution === 'first' ? ' (value at the entry step)' : ' (value at the last step reached)') : ' (latest traits)';
    lines.push(`By ${result.breakdown.property}${touch}:`, t.toString());
  }
  if (result.cohorts.rows.length > 0) {
    const t = table([`${result.cohorts.grain} of entry`, ...head.slice(1)], options);
    for (const g of result.cohorts.rows) t.push([`${g.value}${g.incomplete ? ' *' : ''}`, ...g.counts.map(String), rate(g.conversion, g.counts[0] ?? 0)]);
    lines.push(`By ${result.cohorts.grain}ly cohort:`, t.toString());
    if (result.cohorts.rows.some((g) => g.incomplete)) lines.push(`* still converting (entrants inside the ${formatDuration(result.windowMs)} window) or cut by the range: not final.`);
  }
  return lines.join('\n');
}

/** As the dashboard's tile tells it (util/kpi-change.ts): a rate in points, anything else in relative %. */
function changeText(k: KpiResult, now: number): string {
  if (k.period === 'not_started') return 'not started';
  const under = runsPastToday(k, now) ? ' (so far)' : '';
  if (changesInPoints(k)) {
    const points = pointChange(k.value, k.previous);
    return points === null ? '–' : `${points >= 0 ? '+' : ''}${points.toFixed(1)} pts${under}`;
  }
  return k.change === null ? '–' : `${k.change >= 0 ? '+' : ''}${pct(k.change)}${under}`;
}

export function formatKpis(kpis: KpiResult[], options: FormatOptions = {}, now: number = Date.now()): string {
  const t = table(['KPI', 'Value', 'Previous', 'Change', 'Period'], options);
  for (const k of kpis) {
    t.push([k.title, fmtNumber(k.value, k.unit), fmtNumber(k.previous, k.unit), changeText(k, now), formatRange(k.range)]);
  }
  return t.toString();
}

export function formatSql(result: SqlResult, options: FormatOptions = {}): string {
  const t = table(
    result.columns.map((c) => c.name),
    options,
  );
  const cell = (v: unknown) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  for (const row of result.rows) t.push(row.map(cell));
  const totals = result.totals ? `\ntotals: ${result.columns.map((c, i) => `${c.name} = ${cell(result.totals![i])}`).join(', ')}` : '';
  return `${t.toString()}\n${result.rows.length} row(s)${result.truncated ? ' (truncated)' : ''}${totals}`;
}

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break; objects as JSON. */
function csvField(v: unknown): string {
  const text = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The rows as CSV with a header line (CRLF line ends, as RFC 4180 and spreadsheets expect). */
export function formatSqlCsv(result: SqlResult): string {
  return [result.columns.map((c) => csvField(c.name)), ...result.rows.map((row) => row.map(csvField))].map((cells) => cells.join(',')).join('\r\n') + '\r\n';
}
