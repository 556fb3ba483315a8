import { isIncomplete } from '../../util/periods.ts';
import { dayRangeMs } from '../../util/default-range.ts';
import type { TrendsResult } from '../../api/trends.ts';
import { getJson } from './api.ts';
import { chartBox, draw, PALETTE } from './charts.ts';
import { append, byId, clear, el, table } from './dom.ts';
import { formatCount } from './format.ts';
import type { Range } from './range.ts';

const busiest = (n: number) => (n === 1 ? 'the one event seen' : `the ${n} busiest events`);

/** Instead of an empty chart: why there is nothing, and how to get something to look at. */
function noTrends(trends: Pick<TrendsResult, 'from' | 'to'>): HTMLElement {
  return el(
    'p',
    { class: 'empty', 'data-field': 'no-trends' },
    `No track events from ${trends.from} to ${trends.to}. Widen the range; or, if nothing has been sent yet, send events with an SDK, or load sample data with `,
    el('code', {}, 'balise demo'),
    '.',
  );
}

export async function renderTrends(range: Range): Promise<void> {
  const trends = await getJson<TrendsResult>('/api/trends', { from: range.from, to: range.to, limit: '8' });
  const root = byId('trends-body');
  clear(root);
  if (!trends.series.length) {
    append(root, noTrends(trends));
    return;
  }
  const chart = chartBox(`Events per ${trends.grain} for the busiest events`, 260);
  // A bucket still going (today, this week) or cut by the range is partial: drawn dashed and starred rather than as a drop.
  const span = dayRangeMs(trends, trends.timeZone);
  const now = Date.now();
  const partial = trends.buckets.map((b) => isIncomplete(b, trends.grain, span, now, trends.timeZone));
  append(
    root,
    el(
      'p',
      { class: 'muted' },
      `Track events per ${trends.grain} (in ${trends.timeZone}${trends.grain === 'week' ? ', weeks from Monday' : ''}), ${busiest(trends.series.length)} from ${trends.from} to ${trends.to}.${partial.some(Boolean) ? ` * ${trends.grain === 'day' ? 'today is not over yet' : `a ${trends.grain} cut by the range or not over yet`}.` : ''}`,
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
      labels: trends.buckets.map((d, i) => (partial[i] ? `${d}*` : d)),
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
