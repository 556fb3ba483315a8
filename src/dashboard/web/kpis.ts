import type { KpiResult } from '../../analytics/results.ts';
import { getJson } from './api.ts';
import { append, byId, clear, el } from './dom.ts';
import { formatChange, formatKpi } from './format.ts';
import type { Range } from './range.ts';

/** Up is good for every Balise KPI today; a definition flag can flip this later. */
function trendClass(change: number | null): string {
  if (change === null || change === 0) return 'flat';
  return change > 0 ? 'up' : 'down';
}

function tile(kpi: KpiResult): HTMLElement {
  const cls = trendClass(kpi.change);
  const arrow = cls === 'up' ? '▲' : cls === 'down' ? '▼' : '';
  return el(
    'article',
    { class: 'tile', 'data-kpi': kpi.id },
    el('h3', {}, kpi.title),
    el('p', { class: 'value' }, formatKpi(kpi.value, kpi.unit)),
    el(
      'p',
      { class: `change ${cls}` },
      el('span', { 'aria-hidden': 'true' }, arrow ? `${arrow} ` : ''),
      formatChange(kpi.change, kpi.previous, kpi.value),
    ),
    el('p', { class: 'muted small' }, `Previous period: ${formatKpi(kpi.previous, kpi.unit)}`),
    kpi.description ? el('p', { class: 'muted small desc' }, kpi.description) : null,
  );
}

export async function renderKpis(range: Range): Promise<void> {
  const kpis = await getJson<KpiResult[]>('/api/kpis', { from: range.from, to: range.to });
  const root = byId('kpi-tiles');
  clear(root);
  if (!kpis.length) append(root, el('p', { class: 'empty' }, 'No KPIs are defined in tracking-plan/kpis/.'));
  append(root, ...kpis.map(tile));
}
