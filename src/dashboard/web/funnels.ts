import type { FunnelDefinition } from '../../analytics/model.ts';
import type { FunnelResult } from '../../analytics/results.ts';
import { getJson } from './api.ts';
import { chartBox, draw, PALETTE } from './charts.ts';
import { append, byId, clear, el, table } from './dom.ts';
import { formatCount, formatDuration, formatPercent } from './format.ts';
import type { Range } from './range.ts';

type Step = FunnelResult['steps'][number];
type Group = FunnelResult['cohorts']['rows'][number];

/**
 * Breakdown choices: the funnel's own default. Other funnels' defaults are not offered: the API
 * refuses a property the entry step does not carry (unknown_breakdown_property).
 */
function breakdownChoices(def: FunnelDefinition): string[] {
  return def.breakdown ? [def.breakdown] : [];
}

function stepsTable(result: FunnelResult): HTMLElement {
  return table<Step>(
    `${result.title}: entities reaching each step`,
    [
      { header: 'Step', cell: (s) => `${s.index}. ${s.label}` },
      { header: 'Reached', cell: (s) => el('span', { 'data-field': 'count' }, formatCount(s.count)), numeric: true },
      { header: 'From previous', cell: (s) => el('span', { 'data-field': 'conversion' }, s.index === 1 ? '–' : formatPercent(s.conversionFromPrevious)), numeric: true },
      { header: 'From start', cell: (s) => formatPercent(s.conversionFromStart), numeric: true },
      { header: 'Drop-off', cell: (s) => el('span', { 'data-field': 'dropoff' }, s.index === 1 ? '–' : formatCount(s.dropOff)), numeric: true },
      { header: 'Median time', cell: (s) => formatDuration(s.medianMsFromPrevious), numeric: true },
    ],
    result.steps,
    undefined,
    { 'data-funnel-steps': result.id },
  );
}

function groupTable(caption: string, firstHeader: string, result: FunnelResult, rows: Group[]): HTMLElement {
  return table<Group>(
    caption,
    [
      { header: firstHeader, cell: (g) => g.value },
      ...result.steps.map((s, i) => ({ header: s.label, cell: (g: Group) => formatCount(g.counts[i] ?? 0), numeric: true })),
      { header: 'Conversion', cell: (g) => formatPercent(g.conversion), numeric: true },
    ],
    rows,
  );
}

function renderResult(container: HTMLElement, result: FunnelResult): void {
  clear(container);
  const summary = el(
    'p',
    { class: 'summary', 'data-funnel-summary': result.id },
    el('strong', { 'data-field': 'entered' }, formatCount(result.entered)),
    ' entered · ',
    el('strong', { 'data-field': 'converted' }, formatCount(result.converted)),
    ' converted · ',
    el('strong', { 'data-field': 'overall' }, formatPercent(result.conversion)),
    ' overall',
  );
  const bars = chartBox(`${result.title}: bar chart of entities reaching each step`);
  const left = el('div', {}, bars.box);
  const right = el('div', {}, stepsTable(result));
  append(container, summary, el('div', { class: 'split' }, left, right));
  draw(bars.canvas, {
    type: 'bar',
    data: {
      labels: result.steps.map((s) => `${s.index}. ${s.label}`),
      datasets: [
        { label: 'Reached', data: result.steps.map((s) => s.count), backgroundColor: PALETTE[0], stack: 's' },
        { label: 'Dropped off', data: result.steps.map((s) => s.dropOff), backgroundColor: '#cbd5e1', stack: 's' },
      ],
    },
    options: { indexAxis: 'y', scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } }, plugins: { legend: { position: 'bottom' } } },
  });

  if (result.breakdown) {
    append(container, groupTable(`${result.title} by ${result.breakdown.property}`, result.breakdown.property, result, result.breakdown.groups.slice(0, 12)));
  }
  const cohorts = result.cohorts.rows;
  const cohortChart = chartBox(`${result.title}: overall conversion by ${result.cohorts.grain} of entry`, 180);
  append(container, el('h4', {}, `Conversion by ${result.cohorts.grain} cohort`), el('div', { class: 'split' }, cohortChart.box, groupTable(`${result.title} by ${result.cohorts.grain} cohort`, 'Cohort', result, cohorts)));
  draw(cohortChart.canvas, {
    type: 'line',
    data: { labels: cohorts.map((c) => c.value.slice(0, 10)), datasets: [{ label: 'Conversion %', data: cohorts.map((c) => Math.round(c.conversion * 1000) / 10), borderColor: PALETTE[1], backgroundColor: PALETTE[1] }] },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: '%' } } }, plugins: { legend: { display: false } } },
  });
}

/** One card per funnel definition, each with its own breakdown selector; all share the date range. */
export async function renderFunnels(range: Range): Promise<void> {
  const defs = await getJson<FunnelDefinition[]>('/api/funnels');
  const root = byId('funnel-list');
  clear(root);
  if (!defs.length) append(root, el('p', { class: 'empty' }, 'No funnels are defined in tracking-plan/kpis/.'));
  await Promise.all(
    defs.map(async (def) => {
      const selectId = `breakdown-${def.id}`;
      // The API falls back to the definition's breakdown, so "None" exists only when it has none.
      const select = el('select', { id: selectId }, def.breakdown ? null : el('option', { value: '' }, 'None'), ...breakdownChoices(def).map((p) => el('option', { value: p }, p)));
      select.value = def.breakdown ?? '';
      const body = el('div', { class: 'funnel-body', 'aria-busy': 'true' }, 'Loading…');
      const card = el(
        'article',
        { class: 'card', 'data-funnel': def.id, 'aria-labelledby': `funnel-${def.id}-h` },
        el('h3', { id: `funnel-${def.id}-h` }, def.title),
        def.description ? el('p', { class: 'muted' }, def.description) : null,
        el('div', { class: 'controls' }, el('label', { for: selectId }, 'Breakdown'), select),
        body,
      );
      append(root, card);
      const load = async () => {
        body.setAttribute('aria-busy', 'true');
        try {
          const result = await getJson<FunnelResult>(`/api/funnels/${encodeURIComponent(def.id)}`, { from: range.from, to: range.to, breakdown: select.value || undefined });
          renderResult(body, result);
        } catch (error) {
          clear(body);
          append(body, el('p', { class: 'error', role: 'alert' }, `Could not load this funnel: ${(error as Error).message}`));
        } finally {
          body.setAttribute('aria-busy', 'false');
        }
      };
      select.addEventListener('change', () => void load());
      await load();
    }),
  );
}
