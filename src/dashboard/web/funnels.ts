import type { FunnelEntityRow } from '../../analytics/explore.ts';
import type { PlanCatalog } from '../../api/catalog.ts';
import { anyStepProperties } from './explore-model.ts';
import type { FunnelDefinition, FunnelEntity } from '../../analytics/model.ts';
import { funnelStepRules } from '../../util/funnel-rules.ts';
import type { FunnelResult } from '../../analytics/results.ts';
import { getJson } from './api.ts';
import { writeSearch } from './address.ts';
import { chartBox, draw, PALETTE } from './charts.ts';
import { append, byId, clear, el, seesPersons, table } from './dom.ts';
import { formatCount, formatDuration, formatPercent, plural } from './format.ts';
import type { Range } from './range.ts';

type Step = FunnelResult['steps'][number];
type Group = FunnelResult['cohorts']['rows'][number];

/**
 * Breakdown choices: the funnel's default first, then the properties its entry step's event has
 * in the plan. A breakdown takes the entry event's value (first touch), so the API refuses a
 * property that event does not carry (unknown_breakdown_property): only these are offered.
 */
function breakdownChoices(def: FunnelDefinition, catalog: PlanCatalog): string[] {
  const props = new Set<string>();
  if (def.breakdown) props.add(def.breakdown);
  const entry = def.steps[0];
  if (entry) for (const p of anyStepProperties(catalog.events, [entry.event])) props.add(p);
  return [...props];
}

export type DropOffLoader = (step: number) => Promise<{ entities: FunnelEntityRow[]; truncated: boolean }>;

/** Where a dropped-off entity's timeline is: the People page, by person id or by property value. */
export function timelineHref(entity: FunnelEntity, id: string): string {
  const q = new URLSearchParams(entity.kind === 'person' ? { id } : { property: entity.property, value: id });
  return `/people?${q.toString()}`;
}

function dropOffCell(result: FunnelResult, s: Step, load: DropOffLoader | undefined, target: HTMLElement): HTMLElement | string {
  if (s.index === 1) return '–';
  const count = el('span', { 'data-field': 'dropoff' }, formatCount(s.dropOff));
  if (!load || s.dropOff === 0) return count;
  const button = el('button', { type: 'button', class: 'link', 'data-dropoffs': s.index, 'aria-label': `List who dropped off before step ${s.index}` }, 'who?');
  button.addEventListener('click', () => {
    clear(target);
    append(target, el('p', { class: 'muted', 'aria-busy': 'true' }, 'Loading…'));
    load(s.index)
      .then(({ entities, truncated }) => {
        clear(target);
        append(
          target,
          el('h4', {}, `Reached step ${s.previousStep} but not “${s.label}”${truncated ? ` (first ${entities.length})` : ''}`),
          el('ul', { class: 'pills', 'data-dropoff-list': s.index }, ...entities.map((e) => el('li', {}, el('a', { href: timelineHref(result.entity, e.entity) }, e.entity)))),
        );
      })
      .catch((error: unknown) => {
        clear(target);
        append(target, el('p', { class: 'error', role: 'alert' }, `Could not list drop-offs: ${(error as Error).message}`));
      });
  });
  return el('span', {}, count, ' ', button);
}

function stepsTable(result: FunnelResult, load?: DropOffLoader, target?: HTMLElement): HTMLElement {
  const list = target ?? el('div');
  return table<Step>(
    `${result.title}: entities reaching each step`,
    [
      {
        header: 'Step',
        cell: (s) => (s.optional ? el('span', {}, `${s.index}. ${s.label} `, el('span', { class: 'muted small', 'data-field': 'optional' }, '(optional)')) : `${s.index}. ${s.label}`),
      },
      { header: 'Reached', cell: (s) => el('span', { 'data-field': 'count' }, formatCount(s.count)), numeric: true },
      {
        header: 'From previous',
        // After an optional step, the rate is of the last required step, and says so.
        cell: (s) =>
          el(
            'span',
            { 'data-field': 'conversion' },
            s.index === 1 ? '–' : `${rateText(s.conversionFromPrevious, result.steps[s.previousStep - 1]?.count ?? 0)}${s.previousStep !== s.index - 1 ? ` of step ${s.previousStep}` : ''}`,
          ),
        numeric: true,
      },
      { header: 'From start', cell: (s) => rateText(s.conversionFromStart, result.entered), numeric: true },
      { header: 'Drop-off', cell: (s) => (s.index === 1 ? el('span', { 'data-field': 'dropoff' }, '–') : dropOffCell(result, s, load, list)), numeric: true },
      { header: 'Median time', cell: (s) => formatDuration(s.medianMsFromPrevious), numeric: true },
    ],
    result.steps,
    undefined,
    { 'data-funnel-steps': result.id },
  );
}

/** The funnel's window, its per-step rules and the time to convert: what the table does not show. */
function funnelDetails(result: FunnelResult): HTMLElement {
  const ttc = result.timeToConvert;
  const rules = funnelStepRules(result.order, result.steps);
  return el(
    'div',
    { class: 'muted small', 'data-funnel-details': result.id },
    el('p', { 'data-field': 'window' }, `Window: ${formatDuration(result.windowMs)} from entry · ${result.order === 'strict' ? 'steps in order' : 'steps after the entry in any order'}`),
    rules.length ? el('ul', { 'data-field': 'rules' }, ...rules.map((r) => el('li', {}, r))) : null,
    el(
      'p',
      { 'data-field': 'time-to-convert' },
      ttc
        ? `Time to convert (entry → last step, among converters): median ${formatDuration(ttc.median)} · 10% ${formatDuration(ttc.p10)} · 25% ${formatDuration(ttc.p25)} · 75% ${formatDuration(ttc.p75)} · 90% ${formatDuration(ttc.p90)}`
        : 'Time to convert: nobody converted in this range.',
    ),
  );
}

/** A conversion rate, or '–' when nobody was there to convert (0 of 0 is no rate, not 0 %). */
const rateText = (x: number, base: number): string => (base > 0 ? formatPercent(x) : '–');

function groupTable(caption: string, firstHeader: string, result: FunnelResult, rows: Group[], label: (g: Group) => string = (g) => g.value): HTMLElement {
  return table<Group>(
    caption,
    [
      { header: firstHeader, cell: label },
      ...result.steps.map((s, i) => ({ header: s.label, cell: (g: Group) => formatCount(g.counts[i] ?? 0), numeric: true })),
      { header: 'Conversion', cell: (g) => rateText(g.conversion, g.counts[0] ?? 0), numeric: true },
    ],
    rows,
  );
}

/** Breakdown rows shown at first; the rest are in the table (and its CSV), hidden until asked for. */
const SHOWN_GROUPS = 12;

/** The breakdown table, every group in it so the CSV holds them all, the long tail folded and said. */
function breakdownTable(result: FunnelResult, property: string, groups: Group[]): HTMLElement {
  const block = groupTable(`${result.title} by ${property}`, property, result, groups);
  const folded = [...block.querySelectorAll('tbody tr')].slice(SHOWN_GROUPS) as HTMLElement[];
  if (!folded.length) return block;
  for (const row of folded) row.hidden = true;
  const showAll = el('button', { type: 'button', class: 'link' }, 'Show all');
  const note = el('p', { class: 'muted small', 'data-field': 'more-groups' }, `${formatCount(folded.length)} more ${plural(folded.length, 'value')} not shown (the CSV has every value). `, showAll);
  showAll.addEventListener('click', () => {
    for (const row of folded) row.hidden = false;
    note.remove();
  });
  return el('div', {}, block, note);
}

export function renderFunnelResult(container: HTMLElement, result: FunnelResult, load?: DropOffLoader): void {
  clear(container);
  const summary = el(
    'p',
    { class: 'summary', 'data-funnel-summary': result.id },
    el('strong', { 'data-field': 'entered' }, formatCount(result.entered)),
    ' entered · ',
    el('strong', { 'data-field': 'converted' }, formatCount(result.converted)),
    ' converted · ',
    el('strong', { 'data-field': 'overall' }, rateText(result.conversion, result.entered)),
    ' overall',
  );
  const bars = chartBox(`${result.title}: bar chart of entities reaching each step`);
  const left = el('div', {}, bars.box);
  const dropOffs = el('div', { class: 'dropoffs', 'aria-live': 'polite' });
  const right = el('div', {}, stepsTable(result, load, dropOffs));
  append(container, summary, el('div', { class: 'split wide-right' }, left, right), funnelDetails(result), dropOffs);
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
    append(container, breakdownTable(result, result.breakdown.property, result.breakdown.groups));
  }
  const cohorts = result.cohorts.rows;
  // The server says which cohorts are still converting or cut by the range (util/periods.ts).
  const partial = cohorts.map((c) => c.incomplete === true);
  const cohortChart = chartBox(`${result.title}: overall conversion by ${result.cohorts.grain} of entry`, 180);
  const label = (g: Group) => `${g.value.slice(0, 10)}${partial[cohorts.indexOf(g)] ? ' (incomplete)' : ''}`;
  append(
    container,
    el('h4', {}, `Conversion by ${result.cohorts.grain} cohort`),
    partial.some(Boolean) ? el('p', { class: 'muted small' }, 'Incomplete: cut by the range, or entrants still inside their conversion window; the figure can still rise.') : null,
    el('div', { class: 'split wide-right' }, cohortChart.box, groupTable(`${result.title} by ${result.cohorts.grain} cohort`, 'Cohort', result, cohorts, label)),
  );
  draw(cohortChart.canvas, {
    type: 'line',
    data: {
      labels: cohorts.map((c, i) => `${c.value.slice(0, 10)}${partial[i] ? '*' : ''}`),
      datasets: [
        {
          label: 'Conversion %',
          data: cohorts.map((c) => Math.round(c.conversion * 1000) / 10),
          borderColor: PALETTE[1],
          backgroundColor: PALETTE[1],
          pointStyle: cohorts.map((_, i) => (partial[i] ? 'rectRot' : 'circle')),
          segment: { borderDash: (ctx) => (partial[ctx.p0DataIndex] || partial[ctx.p1DataIndex] ? [5, 4] : undefined) },
        },
      ],
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: '%' } } }, plugins: { legend: { display: false } } },
  });
}

/** One card per funnel definition, each with its own breakdown selector; all share the date range. */
export async function renderFunnels(range: Range): Promise<void> {
  const [defs, catalog] = await Promise.all([getJson<FunnelDefinition[]>('/api/funnels'), getJson<PlanCatalog>('/api/plan/catalog')]);
  const root = byId('funnel-list');
  clear(root);
  if (!defs.length) append(root, el('p', { class: 'empty' }, 'No funnels are defined in tracking-plan/kpis/.'));
  await Promise.all(
    defs.map(async (def) => {
      const selectId = `breakdown-${def.id}`;
      const choices = breakdownChoices(def, catalog);
      const select = el('select', { id: selectId }, el('option', { value: '' }, 'None'), ...choices.map((p) => el('option', { value: p }, p)));
      // The choice is in the address (bd.<funnel>=…, empty for None), so a reload or a shared link keeps it.
      const param = `bd.${def.id}`;
      const asked = new URLSearchParams(window.location.search).get(param);
      select.value = asked !== null && (asked === '' || choices.includes(asked)) ? asked : (def.breakdown ?? '');
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
          // None for a funnel defined with a breakdown is asked for as `breakdown=` (null): else the API uses the definition's.
          const breakdown = select.value || (def.breakdown ? null : undefined);
          const result = await getJson<FunnelResult>(`/api/funnels/${encodeURIComponent(def.id)}`, { from: range.from, to: range.to, breakdown });
          const dropOffs: DropOffLoader = (step) => getJson(`/api/funnels/${encodeURIComponent(def.id)}/dropoffs`, { from: range.from, to: range.to, step: String(step) });
          renderFunnelResult(body, result, seesPersons() ? dropOffs : undefined);
        } catch (error) {
          clear(body);
          append(body, el('p', { class: 'error', role: 'alert' }, `Could not load this funnel: ${(error as Error).message}`));
        } finally {
          body.setAttribute('aria-busy', 'false');
        }
      };
      select.addEventListener('change', () => {
        const params = new URLSearchParams(window.location.search);
        if (select.value === (def.breakdown ?? '')) params.delete(param);
        else params.set(param, select.value);
        writeSearch(params, 'push');
        void load();
      });
      await load();
    }),
  );
}
