/**
 * The Explore page's state, its URL form, and the kpis/*.yaml definition it stands for. Pure (no
 * DOM): the unit tests feed the definitions it makes to `balise plan check`'s own lint.
 */
import type { CatalogEvent, CatalogProperty } from '../../api/catalog.ts';
import { isPlainObject } from '../../util/objects.ts';

import type { FilterOp } from '../../analytics/model.ts';

export type { FilterOp };
export const FILTER_OPS: readonly { op: FilterOp; label: string }[] = [
  { op: 'eq', label: '=' },
  { op: 'neq', label: '≠' },
  { op: 'in', label: 'is one of' },
  { op: 'gt', label: '>' },
  { op: 'lt', label: '<' },
];

export interface FilterRow {
  property: string;
  op: FilterOp;
  /** As typed; `in` takes a comma-separated list. */
  value: string;
}

export type TrendMeasure = 'count' | 'unique_persons' | 'sum' | 'average';
export const MEASURES: readonly { type: TrendMeasure; label: string }[] = [
  { type: 'count', label: 'Count of events' },
  { type: 'unique_persons', label: 'Unique persons' },
  { type: 'sum', label: 'Sum of a property' },
  { type: 'average', label: 'Average of a property' },
];

export interface TrendState {
  kind: 'trend';
  id: string;
  title: string;
  type: TrendMeasure;
  event: string;
  property: string;
  grain: 'day' | 'week' | 'month';
  where: FilterRow[];
  breakdown: string;
}

export interface FunnelStepState {
  event: string;
  where: FilterRow[];
  /** Counted when it happens, skippable (never the first or last step: plan check refuses it). */
  optional: boolean;
  /** An event that voids this step when it happens before it ('' = none); YAML allows a list. */
  exclude: string;
  /** This step's own window from the previous one, e.g. "3d" ('' = only the funnel's). */
  within: string;
}

export interface FunnelState {
  kind: 'funnel';
  id: string;
  title: string;
  steps: FunnelStepState[];
  /** 'person' or a property carried by every step. */
  entity: string;
  window: string;
  order: 'strict' | 'any';
  breakdown: string;
  cohort: 'week' | 'month';
}

export type ExploreState = TrendState | FunnelState;

export function defaultTrend(events: CatalogEvent[]): TrendState {
  return { kind: 'trend', id: 'explored_trend', title: '', type: 'count', event: events[0]?.name ?? '', property: '', grain: 'week', where: [], breakdown: '' };
}

export function defaultFunnel(events: CatalogEvent[]): FunnelState {
  const names = events.map((e) => e.name);
  return {
    kind: 'funnel',
    id: 'explored_funnel',
    title: '',
    steps: [
      { event: names[0] ?? '', where: [], optional: false, exclude: '', within: '' },
      { event: names[1] ?? names[0] ?? '', where: [], optional: false, exclude: '', within: '' },
    ],
    entity: 'person',
    window: '30d',
    order: 'strict',
    breakdown: '',
    cohort: 'week',
  };
}

export const isNumeric = (p: CatalogProperty) => /\b(number|integer)\b/.test(p.type);

export function propertiesOf(events: CatalogEvent[], name: string): CatalogProperty[] {
  return events.find((e) => e.name === name)?.properties ?? [];
}

/** Properties carried by every step's event: the entities a funnel may follow. */
export function sharedProperties(events: CatalogEvent[], steps: string[]): string[] {
  const sets = steps.map((s) => new Set(propertiesOf(events, s).map((p) => p.name)));
  const [first, ...rest] = sets;
  return first ? [...first].filter((p) => rest.every((set) => set.has(p))).sort() : [];
}

/** Properties of any step's event: what a funnel may be broken down by. */
export function anyStepProperties(events: CatalogEvent[], steps: string[]): string[] {
  return [...new Set(steps.flatMap((s) => propertiesOf(events, s).map((p) => p.name)))].sort();
}

type Scalar = string | number | boolean;

/** A typed value for the property's plan type: numbers and booleans are not compared as text. */
function typed(raw: string, property: CatalogProperty | undefined): Scalar {
  const text = raw.trim();
  if (property && isNumeric(property) && text !== '' && Number.isFinite(Number(text))) return Number(text);
  if (property?.type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}

/** Filter rows → the YAML `where` mapping (rows without a property are ignored). */
export function whereOf(rows: FilterRow[], properties: CatalogProperty[]): Record<string, Scalar | Record<string, Scalar | Scalar[]>> | undefined {
  const where: Record<string, Scalar | Record<string, Scalar | Scalar[]>> = {};
  for (const row of rows) {
    if (!row.property) continue;
    const property = properties.find((p) => p.name === row.property);
    if (row.op === 'in')
      where[row.property] = {
        in: row.value
          .split(',')
          .map((v) => typed(v, property))
          .filter((v) => v !== ''),
      };
    else if (row.op === 'eq') where[row.property] = typed(row.value, property);
    else where[row.property] = { [row.op]: typed(row.value, property) };
  }
  return Object.keys(where).length ? where : undefined;
}

/** The definition as it would be written in tracking-plan/kpis/*.yaml (metrics: or funnels: entry). */
export function toDefinition(state: ExploreState, events: CatalogEvent[]): Record<string, unknown> {
  const title = state.title.trim() || undefined;
  if (state.kind === 'trend') {
    const properties = propertiesOf(events, state.event);
    const needsProperty = state.type === 'sum' || state.type === 'average';
    return {
      id: state.id,
      title,
      type: state.type,
      event: state.event,
      property: needsProperty ? state.property : undefined,
      where: whereOf(state.where, properties),
      breakdown: state.breakdown || undefined,
      grain: state.grain,
    };
  }
  return {
    id: state.id,
    title,
    entity: state.entity,
    order: state.order,
    window: state.window,
    breakdown: state.breakdown || undefined,
    cohort: state.cohort,
    // A box ticked on a step that has since become the first or last one is not sent.
    steps: state.steps.map((s, i) => ({
      event: s.event,
      where: whereOf(s.where, propertiesOf(events, s.event)),
      optional: (i > 0 && i < state.steps.length - 1 && s.optional) || undefined,
      exclude: i > 0 && s.exclude ? [s.exclude] : undefined,
      within: (i > 0 && s.within) || undefined,
    })),
  };
}

/** The state as one URL parameter (?q=…): the whole question travels in a link. */
export function stateToParam(state: ExploreState): string {
  return JSON.stringify(state);
}

const isObj = isPlainObject;
const str = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);
const oneOf = <T extends string>(v: unknown, allowed: readonly T[], fallback: T): T => (allowed.includes(v as T) ? (v as T) : fallback);

function filters(v: unknown): FilterRow[] {
  return Array.isArray(v)
    ? v.filter(isObj).map((f) => ({
        property: str(f.property, ''),
        op: oneOf(
          f.op,
          FILTER_OPS.map((o) => o.op),
          'eq',
        ),
        value: str(f.value, ''),
      }))
    : [];
}

/** Reads ?q=…, tolerating anything a hand-edited link may hold (falls back field by field). */
export function stateFromParam(raw: string | null, events: CatalogEvent[]): ExploreState {
  let parsed: unknown;
  try {
    parsed = raw ? JSON.parse(raw) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!isObj(parsed)) return defaultTrend(events);
  if (parsed.kind === 'funnel') {
    const d = defaultFunnel(events);
    const steps = Array.isArray(parsed.steps)
      ? parsed.steps.filter(isObj).map((s) => ({ event: str(s.event, ''), where: filters(s.where), optional: s.optional === true, exclude: str(s.exclude, ''), within: str(s.within, '') }))
      : d.steps;
    return {
      kind: 'funnel',
      id: str(parsed.id, d.id),
      title: str(parsed.title, ''),
      // A funnel needs two steps: the link's own are kept, and the default's fill the rest.
      steps: steps.length >= 2 ? steps : [...steps, ...d.steps.slice(steps.length)],
      entity: str(parsed.entity, 'person'),
      window: str(parsed.window, d.window),
      order: oneOf(parsed.order, ['strict', 'any'], 'strict'),
      breakdown: str(parsed.breakdown, ''),
      cohort: oneOf(parsed.cohort, ['week', 'month'], 'week'),
    };
  }
  const d = defaultTrend(events);
  return {
    kind: 'trend',
    id: str(parsed.id, d.id),
    title: str(parsed.title, ''),
    type: oneOf(
      parsed.type,
      MEASURES.map((m) => m.type),
      'count',
    ),
    event: str(parsed.event, d.event),
    property: str(parsed.property, ''),
    grain: oneOf(parsed.grain, ['day', 'week', 'month'], 'week'),
    where: filters(parsed.where),
    breakdown: str(parsed.breakdown, ''),
  };
}
