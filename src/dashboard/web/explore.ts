/**
 * The Explore page: a trend or a funnel built from the plan's catalog (only real event and
 * property names can be picked), its whole state in the URL (?q=…), the answer from the API, and
 * the YAML definition the API validated, ready to paste into tracking-plan/kpis/.
 */
import type { PlanCatalog } from '../../api/catalog.ts';
import type { FunnelEntityRow, TrendResult } from '../../analytics/explore.ts';
import type { FunnelResult } from '../../analytics/results.ts';
import { writeSearch } from './address.ts';
import { ApiError, getJson, postJson } from './api.ts';
import { checkbox, field, input, opts, select } from './controls.ts';
import { append, byId, clear, el, seesPersons } from './dom.ts';
import { renderSaveAsCode, type SavedQuestion } from './explore-save.ts';
import { renderTrendResult } from './explore-trend.ts';
import {
  anyStepProperties,
  defaultFunnel,
  defaultTrend,
  FILTER_OPS,
  isNumeric,
  MEASURES,
  propertiesOf,
  sharedProperties,
  stateFromParam,
  stateToParam,
  toDefinition,
  type ExploreState,
  type FilterRow,
} from './explore-model.ts';
import { renderFunnelResult, type DropOffLoader } from './funnels.ts';
import type { Range } from './range.ts';

type Loader = (range: Range, work: () => Promise<void>) => Promise<void>;

/** What a control is, whatever render made it: its name, or the button's marker or label. */
function controlName(node: HTMLElement): string {
  return (
    node.dataset.control ??
    (node.dataset.addFilter !== undefined ? `add-filter:${node.dataset.addFilter}` : undefined) ??
    (node.dataset.addStep !== undefined ? 'add-step' : undefined) ??
    node.getAttribute('aria-label') ??
    node.textContent ??
    ''
  );
}

/**
 * Stamps every control of the form with a key that the next render gives the same control (its
 * name and which one of that name it is: "step-event#2"), so focus can follow a re-render.
 */
function stampFocusKeys(form: HTMLElement): void {
  const seen = new Map<string, number>();
  for (const node of form.querySelectorAll<HTMLElement>('select, input, button')) {
    const name = controlName(node);
    const n = seen.get(name) ?? 0;
    seen.set(name, n + 1);
    node.dataset.focusKey = `${name}#${n}`;
  }
}

/** Focus back on the control with `key` after a re-render, or the first of its name if it is gone (a removed row). */
function refocus(form: HTMLElement, key: string | undefined): void {
  if (!key) return;
  const all = [...form.querySelectorAll<HTMLElement>('[data-focus-key]')];
  const name = key.slice(0, key.lastIndexOf('#'));
  (all.find((node) => node.dataset.focusKey === key) ?? all.find((node) => node.dataset.focusKey?.startsWith(`${name}#`)))?.focus();
}

export function setUpExplore(load: Loader): (range: Range) => Promise<void> {
  const form = byId('explore-form');
  const resultBox = byId('explore-result');
  const yamlBox = byId('explore-yaml');
  let catalog: PlanCatalog | undefined;
  let state: ExploreState | undefined;
  let range: Range | undefined;

  const writeUrl = (mode: 'push' | 'replace' = 'push') => {
    if (!state) return;
    const params = new URLSearchParams(window.location.search);
    params.set('q', stateToParam(state));
    writeSearch(params, mode);
  };

  const filterRows = (rows: FilterRow[], eventName: string, where: string, rerender: () => void): HTMLElement => {
    const props = propertiesOf(catalog?.events ?? [], eventName);
    const list = el('div', { class: 'filters', 'data-filters': where });
    rows.forEach((row, i) => {
      const remove = el('button', { type: 'button', class: 'link', 'aria-label': `Remove filter ${i + 1} of ${where}` }, 'remove');
      remove.addEventListener('click', () => {
        rows.splice(i, 1);
        rerender();
      });
      append(
        list,
        el(
          'div',
          { class: 'filter-row' },
          field(
            'Where',
            select('filter-property', opts(props.map((p) => p.name)), row.property, (v) => ((row.property = v), rerender())),
          ),
          field(
            'is',
            select(
              'filter-op',
              FILTER_OPS.map((o) => ({ value: o.op, label: o.label })),
              row.op,
              (v) => ((row.op = v as FilterRow['op']), rerender()),
            ),
          ),
          field(
            'Value',
            input('filter-value', row.value, (v) => ((row.value = v), changed())),
            'grow',
          ),
          remove,
        ),
      );
    });
    const add = el('button', { type: 'button', class: 'secondary', 'data-add-filter': where }, '+ Filter');
    add.addEventListener('click', () => {
      rows.push({ property: props[0]?.name ?? '', op: 'eq', value: '' });
      rerender();
    });
    append(list, add);
    return list;
  };

  const render = () => {
    if (!catalog || !state) return;
    const events = catalog.events;
    const names = events.map((e) => e.name);
    const s = state;
    clear(form);
    const kind = select(
      'kind',
      [
        { value: 'trend', label: 'Trend' },
        { value: 'funnel', label: 'Funnel' },
      ],
      s.kind,
      (v) => {
        state = v === 'funnel' ? defaultFunnel(events) : defaultTrend(events);
        rerender();
      },
    );
    const common = [
      field('Question', kind),
      field(
        'Id (snake_case)',
        input('id', s.id, (v) => ((s.id = v.trim()), changed()), { pattern: '[a-z][a-z0-9_]*' }),
      ),
      field(
        'Title',
        input('title', s.title, (v) => ((s.title = v), changed())),
        'grow',
      ),
    ];
    append(form, el('div', { class: 'row' }, ...common));
    if (s.kind === 'trend') {
      const numeric = propertiesOf(events, s.event)
        .filter(isNumeric)
        .map((p) => p.name);
      const needsProperty = s.type === 'sum' || s.type === 'average';
      if (needsProperty && !numeric.includes(s.property)) s.property = numeric[0] ?? '';
      append(
        form,
        el(
          'div',
          { class: 'row' },
          field(
            'Event',
            select('event', opts(names), s.event, (v) => ((s.event = v), (s.where = []), (s.breakdown = ''), rerender())),
          ),
          field(
            'Measure',
            select(
              'type',
              MEASURES.map((m) => ({ value: m.type, label: m.label })),
              s.type,
              (v) => ((s.type = v as typeof s.type), rerender()),
            ),
          ),
          needsProperty
            ? field(
                'Of property',
                select('property', opts(numeric), s.property, (v) => ((s.property = v), rerender())),
              )
            : null,
          field(
            'By',
            select(
              'grain',
              ['day', 'week', 'month'].map((g) => ({ value: g, label: g })),
              s.grain,
              (v) => ((s.grain = v as typeof s.grain), rerender()),
            ),
          ),
          field(
            'Breakdown',
            select(
              'breakdown',
              opts(
                propertiesOf(events, s.event).map((p) => p.name),
                'None',
              ),
              s.breakdown,
              (v) => ((s.breakdown = v), rerender()),
            ),
          ),
        ),
        filterRows(s.where, s.event, 'trend', rerender),
      );
    } else {
      const stepNames = s.steps.map((st) => st.event);
      const entities = ['person', ...sharedProperties(events, stepNames)];
      if (!entities.includes(s.entity)) s.entity = 'person';
      const breakdowns = anyStepProperties(events, stepNames);
      if (s.breakdown && !breakdowns.includes(s.breakdown)) s.breakdown = '';
      const steps = el('ol', { class: 'steps' });
      s.steps.forEach((step, i) => {
        const remove = el('button', { type: 'button', class: 'link', 'aria-label': `Remove step ${i + 1}`, disabled: s.steps.length <= 2 }, 'remove step');
        remove.addEventListener('click', () => {
          s.steps.splice(i, 1);
          rerender();
        });
        append(
          steps,
          el(
            'li',
            { 'data-step': i + 1 },
            el(
              'div',
              { class: 'row' },
              field(
                `Step ${i + 1}`,
                select('step-event', opts(names), step.event, (v) => ((step.event = v), (step.where = []), rerender())),
              ),
              // The entry cannot be optional nor exclude anything; the last step cannot be optional.
              i > 0 && i < s.steps.length - 1
                ? field(
                    'Optional',
                    checkbox('step-optional', step.optional, (v) => ((step.optional = v), rerender())),
                  )
                : null,
              i > 0
                ? field(
                    s.order === 'strict' ? 'Within (of the previous step)' : 'Within (of the entry)',
                    input('step-within', step.within, (v) => ((step.within = v.trim()), changed()), { size: '5', placeholder: '–' }),
                  )
                : null,
              i > 0
                ? field(
                    s.order === 'strict' ? 'Without, since the previous step' : 'Without, since the entry',
                    select('step-exclude', opts(names, 'nothing'), step.exclude, (v) => ((step.exclude = v), rerender())),
                  )
                : null,
              remove,
            ),
            filterRows(step.where, step.event, `step ${i + 1}`, rerender),
          ),
        );
      });
      const addStep = el('button', { type: 'button', class: 'secondary', 'data-add-step': '' }, '+ Step');
      addStep.addEventListener('click', () => {
        s.steps.push({ event: names[0] ?? '', where: [], optional: false, exclude: '', within: '' });
        rerender();
      });
      append(
        form,
        steps,
        addStep,
        el(
          'div',
          { class: 'row' },
          field(
            'Entity',
            select(
              'entity',
              entities.map((e) => ({ value: e, label: e === 'person' ? 'person (stitched)' : e })),
              s.entity,
              (v) => ((s.entity = v), rerender()),
            ),
          ),
          field(
            'Order',
            select(
              'order',
              [
                { value: 'strict', label: 'strict' },
                { value: 'any', label: 'any (step 1 first)' },
              ],
              s.order,
              (v) => ((s.order = v as typeof s.order), rerender()),
            ),
          ),
          field(
            'Window',
            input('window', s.window, (v) => ((s.window = v.trim()), changed()), { size: '5' }),
          ),
          field(
            'Breakdown',
            select('breakdown', opts(breakdowns, 'None'), s.breakdown, (v) => ((s.breakdown = v), rerender())),
          ),
          field(
            'Cohort',
            select(
              'cohort',
              [
                { value: 'week', label: 'week' },
                { value: 'month', label: 'month' },
              ],
              s.cohort,
              (v) => ((s.cohort = v as typeof s.cohort), rerender()),
            ),
          ),
        ),
      );
    }
  };

  // What the server last answered for: the definition Save writes, when the server may write.
  let question: SavedQuestion | undefined;
  const showYaml = (yaml: string) => renderSaveAsCode(yamlBox, yaml, question);

  const showError = (error: unknown) => {
    clear(resultBox);
    clear(yamlBox);
    const message = error instanceof ApiError ? `${error.message} (${error.code})` : (error as Error).message;
    append(resultBox, el('p', { class: 'error', role: 'alert', 'data-field': 'explore-error' }, message));
  };

  const run = async () => {
    if (!catalog || !state || !range) return;
    const definition = toDefinition(state, catalog.events);
    const body = { definition, from: range.from, to: range.to };
    question = { kind: state.kind === 'trend' ? 'metric' : 'funnel', definition };
    resultBox.setAttribute('aria-busy', 'true');
    try {
      if (state.kind === 'trend') {
        const answer = await postJson<{ yaml: string; result: TrendResult }>('/api/explore/trend', body);
        renderTrendResult(resultBox, answer.result, state.kind === 'trend' ? state : { event: '', property: '' });
        showYaml(answer.yaml);
      } else {
        const answer = await postJson<{ yaml: string; result: FunnelResult }>('/api/explore/funnel', body);
        clear(resultBox);
        const box = el('div', { 'data-explore-funnel': '' });
        append(resultBox, box);
        const dropOffs: DropOffLoader = async (step) => {
          const r = await postJson<{ dropOffs: { entities: FunnelEntityRow[]; truncated: boolean } }>('/api/explore/funnel', { ...body, dropOffStep: step });
          return r.dropOffs;
        };
        renderFunnelResult(box, answer.result, seesPersons() ? dropOffs : undefined);
        showYaml(answer.yaml);
      }
    } catch (error) {
      // A definition the plan refuses is shown where its result would be; the status line says
      // it was not run too, rather than "Loaded".
      if (error instanceof ApiError && error.status === 400) showError(error);
      throw error;
    } finally {
      resultBox.setAttribute('aria-busy', 'false');
    }
  };

  let pending: ReturnType<typeof setTimeout> | undefined;
  function changed(): void {
    writeUrl();
    if (pending) clearTimeout(pending);
    pending = setTimeout(() => range && void load(range, run), 250);
  }
  function rerender(): void {
    // Rendering replaces every control: without this, keyboard focus falls back to <body>.
    const active = document.activeElement;
    const key = active instanceof HTMLElement && form.contains(active) ? active.dataset.focusKey : undefined;
    render();
    stampFocusKeys(form);
    refocus(form, key);
    changed();
  }

  return async (r: Range) => {
    range = r;
    await load(r, async () => {
      const asked = new URLSearchParams(window.location.search).get('q');
      if (!catalog) {
        catalog = await getJson<PlanCatalog>('/api/plan/catalog');
        state = stateFromParam(asked, catalog.events);
        render();
        stampFocusKeys(form);
        writeUrl('replace');
      } else if (asked !== null && state && asked !== stateToParam(state)) {
        // Back or Forward to another question.
        state = stateFromParam(asked, catalog.events);
        render();
        stampFocusKeys(form);
      }
      await run();
    });
  };
}
