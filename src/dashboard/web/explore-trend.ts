/** Explore's trend answer: its title, chart (incomplete periods dashed) and tables. */
import type { TrendResult } from '../../analytics/explore.ts';
import { chartBox, draw, PALETTE } from './charts.ts';
import { append, clear, el, table } from './dom.ts';
import { MEASURES } from './explore-model.ts';
import { formatKpi } from './format.ts';

/** `asked`: the event and the summed or averaged property of the question on screen. */
export function renderTrendResult(box: HTMLElement, result: TrendResult, asked: { event: string; property: string }): void {
  clear(box);
  const unit = '';
  const labels = result.buckets.map((b, i) => `${b}${result.incomplete[i] ? '*' : ''}`);
  const chart = chartBox(`Trend ${result.id} per ${result.grain}`, 260);
  const measure =
    result.type === 'sum' || result.type === 'average' ? `${result.type === 'sum' ? 'Sum' : 'Average'} of ${asked.property}` : (MEASURES.find((m) => m.type === result.type)?.label ?? result.type);
  // Buckets are calendar days, weeks or months of the project zone: the title says which.
  const title = `${measure} · ${asked.event} per ${result.grain} (${result.timeZone})${result.breakdown ? ` by ${result.breakdown}` : ''}`;
  const rows = result.buckets.map((bucket, i) => ({ bucket, i }));
  append(
    box,
    el('h3', {}, title),
    result.incomplete.some(Boolean) ? el('p', { class: 'muted small' }, '* incomplete period (cut by the range, or not over yet): the value can still change.') : null,
    chart.box,
    table(
      `Trend ${result.id}${result.breakdown ? ` by ${result.breakdown}` : ''}`,
      [
        { header: `${result.grain} (${result.timeZone})`, cell: (r: { bucket: string; i: number }) => `${r.bucket}${result.incomplete[r.i] ? ' (incomplete)' : ''}` },
        ...result.series.map((s) => ({ header: s.value || 'Value', cell: (r: { bucket: string; i: number }) => formatKpi(s.values[r.i] ?? null, unit), numeric: true })),
      ],
      rows,
      'No events in this range.',
      { 'data-trend': result.id },
    ),
    table(
      'Totals over the range',
      [
        { header: result.breakdown ?? 'Series', cell: (s: TrendResult['series'][number]) => s.value || 'All events' },
        { header: 'Total', cell: (s) => el('span', { 'data-field': 'total' }, formatKpi(s.total, unit)), numeric: true },
      ],
      result.series,
      'No events in this range.',
      { 'data-trend-totals': result.id },
    ),
    result.otherValues ? el('p', { class: 'muted small' }, `${result.otherValues} more breakdown values not shown.`) : null,
  );
  draw(chart.canvas, {
    type: 'line',
    data: {
      labels,
      datasets: result.series.map((s, i) => ({
        label: s.value || 'Value',
        data: s.values,
        borderColor: PALETTE[i % PALETTE.length],
        backgroundColor: PALETTE[i % PALETTE.length],
        borderWidth: 2,
        pointRadius: 2,
        segment: { borderDash: (ctx) => (result.incomplete[ctx.p0DataIndex] || result.incomplete[ctx.p1DataIndex] ? [5, 4] : undefined) },
      })),
    },
    options: { interaction: { mode: 'index', intersect: false }, scales: { y: { beginAtZero: true } }, plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } } },
  });
}
