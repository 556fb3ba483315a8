/** Plain-text renderings of analytics results for the CLI (pure: rows of cells in, strings out). */
import Table from 'cli-table3';
import { formatDuration } from '../util/duration.ts';
import type { FunnelResult, KpiResult, SqlResult } from './results.ts';

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

function fmtNumber(v: number | null, unit = ''): string {
  if (v === null) return '–';
  if (unit === '%') return pct(v);
  const text = Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(2);
  return unit ? `${text} ${unit}` : text;
}

export function formatFunnel(result: FunnelResult): string {
  const entity = result.entity.kind === 'person' ? 'persons' : result.entity.property;
  const lines = [`${result.title} (${result.id}) · ${entity} · ${result.order} order · window ${formatDuration(result.windowMs)}`, `${result.from.slice(0, 10)} → ${result.to.slice(0, 10)}`];
  const steps = new Table({ head: ['#', 'Step', 'Count', 'From previous', 'From start', 'Drop-off', 'Median time'] });
  for (const s of result.steps) {
    steps.push([s.index, s.label, s.count.toLocaleString('en-US'), s.index === 1 ? '' : pct(s.conversionFromPrevious), pct(s.conversionFromStart), s.index === 1 ? '' : s.dropOff.toLocaleString('en-US'), formatDuration(s.medianMsFromPrevious)]);
  }
  lines.push(steps.toString(), `Overall conversion: ${pct(result.conversion)} (${result.converted} of ${result.entered})`);
  const head = ['', 'Entered', ...result.steps.slice(1).map((s) => s.label), 'Conversion'];
  if (result.breakdown) {
    const t = new Table({ head: [result.breakdown.property, ...head.slice(1)] });
    for (const g of result.breakdown.groups) t.push([g.value, ...g.counts.map(String), pct(g.conversion)]);
    lines.push(`By ${result.breakdown.property}:`, t.toString());
  }
  if (result.cohorts.rows.length > 0) {
    const t = new Table({ head: [`${result.cohorts.grain} of entry`, ...head.slice(1)] });
    for (const g of result.cohorts.rows) t.push([g.value, ...g.counts.map(String), pct(g.conversion)]);
    lines.push(`By ${result.cohorts.grain}ly cohort:`, t.toString());
  }
  return lines.join('\n');
}

export function formatKpis(kpis: KpiResult[]): string {
  const t = new Table({ head: ['KPI', 'Value', 'Previous', 'Change', 'Period'] });
  for (const k of kpis) {
    t.push([k.title, fmtNumber(k.value, k.unit), fmtNumber(k.previous, k.unit), k.change === null ? '–' : `${k.change >= 0 ? '+' : ''}${pct(k.change)}`, `${k.from.slice(0, 10)} → ${k.to.slice(0, 10)}`]);
  }
  return t.toString();
}

export function formatSql(result: SqlResult): string {
  const t = new Table({ head: result.columns.map((c) => c.name) });
  for (const row of result.rows) t.push(row.map((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))));
  return `${t.toString()}\n${result.rows.length} row(s)${result.truncated ? ' (truncated)' : ''}`;
}
