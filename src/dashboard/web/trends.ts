import { zonedDate } from '../../util/zone.ts';
import type { TrendsResult } from '../../api/trends.ts';
import { getJson } from './api.ts';
import { chartBox, draw, PALETTE } from './charts.ts';
import { append, byId, clear, el, table } from './dom.ts';
import { formatCount } from './format.ts';
import type { Range } from './range.ts';

export async function renderTrends(range: Range): Promise<void> {
  const trends = await getJson<TrendsResult>('/api/trends', { from: range.from, to: range.to, limit: '8' });
  const root = byId('trends-body');
  clear(root);
  const chart = chartBox('Events per day for the busiest events', 260);
  // Today is still going: its count is partial, drawn dashed and starred rather than as a drop.
  const today = zonedDate(Date.now(), trends.timeZone);
  const partial = trends.days.map((d) => d >= today);
  append(
    root,
    el(
      'p',
      { class: 'muted' },
      `Track events per day (in ${trends.timeZone}), the ${trends.series.length} busiest events from ${trends.from} to ${trends.to}.${partial.some(Boolean) ? ' * today is not over yet.' : ''}`,
    ),
    el(
      'div',
      { class: 'split wide-left' },
      chart.box,
      table(
        'Events in the period',
        [
          { header: 'Event', cell: (s: TrendsResult['series'][number]) => s.event },
          { header: 'Events', cell: (s) => formatCount(s.total), numeric: true },
        ],
        trends.series,
      ),
    ),
  );
  draw(chart.canvas, {
    type: 'line',
    data: {
      labels: trends.days.map((d, i) => (partial[i] ? `${d}*` : d)),
      datasets: trends.series.map((s, i) => ({
        label: s.event,
        data: s.counts,
        borderColor: PALETTE[i % PALETTE.length],
        backgroundColor: PALETTE[i % PALETTE.length],
        pointRadius: 0,
        borderWidth: 2,
        segment: { borderDash: (ctx) => (partial[ctx.p1DataIndex] ? [5, 4] : undefined) },
      })),
    },
    options: { interaction: { mode: 'index', intersect: false }, scales: { y: { beginAtZero: true } }, plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } } },
  });
}
