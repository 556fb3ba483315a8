import { isIncomplete } from '../../util/periods.ts';
import type { KpiResult } from '../../analytics/results.ts';
import { getJson } from './api.ts';
import { append, byId, clear, el } from './dom.ts';
import { changesInPoints, runsPastToday } from '../../util/kpi-change.ts';
import { formatChange, formatKpi, formatPointChange } from './format.ts';
import type { Range } from './range.ts';
import { sparkline } from './sparkline.ts';

/** Up is good for every Balise KPI today; a definition flag can flip this later. */
function trendClass(delta: number | null): string {
  if (delta === null || delta === 0) return 'flat';
  return delta > 0 ? 'up' : 'down';
}

/** The change against the previous period, or words when there is nothing to compare yet. */
function changeText(kpi: KpiResult, notStarted: boolean, now: number): string {
  if (notStarted) return 'not started yet';
  const change = changesInPoints(kpi) ? formatPointChange(kpi.value, kpi.previous) : formatChange(kpi.change, kpi.previous, kpi.value);
  return runsPastToday(kpi, now) ? `${change} so far` : change;
}

function tile(kpi: KpiResult, now: number): HTMLElement {
  const rate = changesInPoints(kpi);
  // A range that has not begun is all zeros: a "▼ −100%" against the previous one would be noise.
  const notStarted = Date.parse(kpi.from) > now;
  const delta = notStarted ? null : rate ? (kpi.value !== null && kpi.previous !== null ? kpi.value - kpi.previous : null) : kpi.change;
  const cls = trendClass(delta);
  const arrow = cls === 'up' ? '▲' : cls === 'down' ? '▼' : '';
  const range = { fromMs: Date.parse(kpi.from), toMs: Date.parse(kpi.to) };
  const incomplete = kpi.series.map((p) => isIncomplete(p.bucket, kpi.grain, range, now, kpi.range.timeZone));
  const partial = incomplete.some(Boolean);
  return el(
    'article',
    { class: 'tile', 'data-kpi': kpi.id },
    el('h3', {}, kpi.title),
    el('p', { class: 'value' }, notStarted ? '–' : formatKpi(kpi.value, kpi.unit)),
    el('p', { class: `change ${cls}`, 'data-field': 'change' }, el('span', { 'aria-hidden': 'true' }, arrow ? `${arrow} ` : ''), changeText(kpi, notStarted, now)),
    el('p', { class: 'muted small' }, `Previous period: ${formatKpi(kpi.previous, kpi.unit)}`),
    kpi.series.length
      ? el(
          'div',
          { class: 'spark-box', 'data-field': 'sparkline', 'data-points': kpi.series.length },
          sparkline(
            kpi.series.map((p) => p.value),
            incomplete,
            `${kpi.title} per ${kpi.grain}: ${kpi.series.map((p) => `${p.bucket.slice(0, 10)} ${formatKpi(p.value, kpi.unit)}`).join(', ')}`,
          ),
          el('span', { class: 'muted small' }, `per ${kpi.grain}${partial ? ' · dashed: incomplete' : ''}`),
        )
      : null,
    kpi.description ? el('p', { class: 'muted small desc' }, kpi.description) : null,
  );
}

export async function renderKpis(range: Range): Promise<void> {
  const kpis = await getJson<KpiResult[]>('/api/kpis', { from: range.from, to: range.to });
  const root = byId('kpi-tiles');
  clear(root);
  if (!kpis.length) append(root, el('p', { class: 'empty' }, 'No KPIs are defined in tracking-plan/kpis/.'));
  const now = Date.now();
  append(root, ...kpis.map((k) => tile(k, now)));
}
