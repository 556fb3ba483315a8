/**
 * Retention: one card per definition in tracking-plan/kpis, a cohort × period table and the
 * curve over complete cohorts. A period under way shows its share so far with "…" (a lower
 * bound, marked data-status="incomplete"), one not started is blank: neither reads as 0%.
 */
import type { RetentionDefinition } from '../../analytics/model.ts';
import type { RetentionCell, RetentionResult } from '../../analytics/results.ts';
import { getJson } from './api.ts';
import { chartBox, draw, PALETTE, percentAxisMax } from './charts.ts';
import { append, byId, clear, el, table } from './dom.ts';
import { formatCount, formatPercent } from './format.ts';
import type { Range } from './range.ts';

type Cohort = RetentionResult['cohorts'][number];

function cellView(cell: RetentionCell | undefined): HTMLElement {
  if (!cell || cell.status === 'future' || cell.rate === null) return el('span', { 'data-status': 'future', title: 'not started yet' }, '');
  const text = `${formatPercent(cell.rate)}${cell.status === 'incomplete' ? '…' : ''}`;
  const title = `${formatCount(cell.entities ?? 0)} returned${cell.status === 'incomplete' ? ' so far: this period is under way' : ''}`;
  return el('span', { 'data-status': cell.status, 'data-period': String(cell.period), title }, text);
}

function renderResult(container: HTMLElement, result: RetentionResult): void {
  clear(container);
  const prefix = result.grain[0]?.toUpperCase() ?? '';
  const periods = Array.from({ length: result.periods }, (_, k) => k);
  const rows = table<Cohort>(
    `${result.title}: share of each ${result.grain}ly cohort returning in each period`,
    [
      { header: `${result.grain} of entry`, cell: (c) => (c.cut ? `${c.cohort} (part)` : c.cohort) },
      { header: 'Entered', cell: (c) => formatCount(c.entered), numeric: true },
      ...periods.map((k) => ({ header: `${prefix}${k}`, cell: (c: Cohort) => cellView(c.cells[k]), numeric: true })),
    ],
    result.cohorts,
    undefined,
    { 'data-retention-table': result.id },
  );
  const curve = chartBox(`${result.title}: All complete, the retention curve over complete cohorts`, 180);
  append(
    container,
    el(
      'p',
      { class: 'summary', 'data-retention-summary': result.id },
      el('strong', { 'data-field': 'entered' }, formatCount(result.entered)),
      ` entered · returns seen up to ${result.asOf.slice(0, 16).replace('T', ' ')} UTC`,
    ),
    el('div', { class: 'split' }, curve.box, rows),
    el(
      'p',
      { class: 'muted' },
      '… = period under way (share so far); blank = not started. The curve ("All complete" in balise retention) counts only cohorts that lived each period to its end.',
      result.cohorts.some((c) => c.cut) ? ` (part) = the range cuts that ${result.grain}: its cohort holds only the days inside the range.` : '',
    ),
  );
  const retained = result.curve.map((p) => (p.rate === null ? null : Math.round(p.rate * 1000) / 10));
  draw(curve.canvas, {
    type: 'line',
    data: {
      labels: periods.map((k) => `${prefix}${k}`),
      datasets: [{ label: 'Retained %', data: retained, borderColor: PALETTE[2], backgroundColor: PALETTE[2], spanGaps: false }],
    },
    options: { scales: { y: { beginAtZero: true, max: percentAxisMax(retained), title: { display: true, text: '%' } } }, plugins: { legend: { display: false } } },
  });
}

export async function renderRetention(range: Range): Promise<void> {
  const defs = await getJson<RetentionDefinition[]>('/api/retention');
  const root = byId('retention-list');
  clear(root);
  if (!defs.length) append(root, el('p', { class: 'empty' }, 'No retention is defined in tracking-plan/kpis/.'));
  await Promise.all(
    defs.map(async (def) => {
      const body = el('div', { 'aria-busy': 'true' }, 'Loading…');
      append(
        root,
        el(
          'article',
          { class: 'card', 'data-retention': def.id, 'aria-labelledby': `retention-${def.id}-h` },
          el('h3', { id: `retention-${def.id}-h` }, def.title),
          def.description ? el('p', { class: 'muted' }, def.description) : null,
          body,
        ),
      );
      try {
        renderResult(body, await getJson<RetentionResult>(`/api/retention/${encodeURIComponent(def.id)}`, { from: range.from, to: range.to }));
      } catch (error) {
        clear(body);
        append(body, el('p', { class: 'error', role: 'alert' }, `Could not load this retention: ${(error as Error).message}`));
      } finally {
        body.setAttribute('aria-busy', 'false');
      }
    }),
  );
}
