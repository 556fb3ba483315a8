/**
 * The People page: a person by any of their ids (stitched like the funnels), or an entity by a
 * property value, and their timeline with the plan's verdict on each event. The lookup is in the
 * URL (?id=… or ?property=…&value=…), so a funnel's drop-off list links straight here.
 */
import type { Timeline, TimelineEvent } from '../../api/people.ts';
import type { PlanCatalog } from '../../api/catalog.ts';
import { writeSearch } from './address.ts';
import { ApiError, getJson } from './api.ts';
import { append, byId, clear, el, table } from './dom.ts';
import { eventLabel, formatCount, plural } from './format.ts';
import type { Range } from './range.ts';

type Loader = (range: Range, work: () => Promise<void>) => Promise<void>;

function propertiesText(json: string): string {
  return json.length > 240 ? `${json.slice(0, 240)}…` : json;
}

function render(root: HTMLElement, timeline: Timeline, range: Range): void {
  clear(root);
  const subject = timeline.subject;
  const inRange = (e: TimelineEvent) => e.timestamp.slice(0, 10) >= range.from && e.timestamp.slice(0, 10) <= range.to;
  const shown = timeline.events.filter(inRange);
  const quarantined = shown.filter((e) => e.verdict === 'quarantined').length;
  append(
    root,
    subject.kind === 'person'
      ? el(
          'div',
          { class: 'card', 'data-person': subject.person },
          el('h3', {}, 'Person ', el('code', {}, subject.person)),
          el('p', { class: 'muted small' }, 'Ids stitched into this person (userId first, then the anonymous ids and aliases linked to it):'),
          el('ul', { class: 'pills', 'data-field': 'ids' }, ...subject.ids.map((id) => el('li', {}, id))),
        )
      : el('div', { class: 'card', 'data-entity': `${subject.property}=${subject.value}` }, el('h3', {}, 'Entity ', el('code', {}, `${subject.property} = ${subject.value}`))),
    el(
      'p',
      { class: 'summary', 'data-field': 'timeline-summary' },
      el('strong', { 'data-field': 'events' }, formatCount(shown.length)),
      ` ${plural(shown.length, 'event')} in the range (${formatCount(timeline.events.length)} in all${timeline.truncated ? ', the first 1,000 shown' : ''}) · `,
      el('strong', { 'data-field': 'quarantined' }, formatCount(quarantined)),
      ' quarantined',
    ),
    table(
      'Timeline (oldest first)',
      [
        { header: 'Time (UTC)', cell: (e: TimelineEvent) => e.timestamp.slice(0, 19) },
        { header: 'Event', cell: (e) => el('span', { 'data-field': 'event' }, eventLabel(e.event, e.type)) },
        { header: 'Verdict', cell: (e) => el('span', { class: `verdict ${e.verdict}`, 'data-field': 'verdict' }, e.verdict) },
        { header: 'Rules broken', cell: (e) => e.reasons.join(', ') },
        { header: 'Plan', cell: (e) => e.plan_version },
        { header: 'userId / anonymousId', cell: (e) => [e.user_id, e.anonymous_id].filter(Boolean).join(' / ') },
        { header: 'Properties', cell: (e) => el('code', { class: 'wrap' }, propertiesText(e.properties)) },
      ],
      shown,
      'No event of theirs in this range: widen it to see more.',
      { 'data-timeline': '', class: 'stack-narrow' },
    ),
  );
}

export function setUpPeople(load: Loader): (range: Range) => Promise<void> {
  const form = byId<HTMLFormElement>('lookup');
  const propertySelect = byId<HTMLSelectElement>('lookup-property');
  const idInput = byId<HTMLInputElement>('lookup-id');
  const root = byId('people-result');
  let range: Range | undefined;
  let catalogLoaded = false;

  const fromUrl = () => {
    const q = new URLSearchParams(window.location.search);
    return { property: q.get('property') ?? '', id: q.get('value') ?? q.get('id') ?? '' };
  };

  const lookup = async () => {
    const { property, id } = fromUrl();
    if (!id) {
      clear(root);
      append(root, el('p', { class: 'muted' }, 'Enter a userId, an anonymousId or an alias, or pick a property (such as mission_id) and its value.'));
      return;
    }
    try {
      const timeline = await getJson<Timeline>(property ? `/api/entities/${encodeURIComponent(property)}/${encodeURIComponent(id)}` : `/api/people/${encodeURIComponent(id)}`);
      render(root, timeline, range as Range);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      clear(root);
      append(root, el('p', { class: 'error', role: 'alert', 'data-field': 'lookup-error' }, error.message));
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = new URLSearchParams(window.location.search);
    for (const k of ['id', 'property', 'value']) params.delete(k);
    if (propertySelect.value) {
      params.set('property', propertySelect.value);
      params.set('value', idInput.value.trim());
    } else params.set('id', idInput.value.trim());
    writeSearch(params, 'push');
    if (range) void load(range, lookup);
  });

  return async (r: Range) => {
    range = r;
    await load(r, async () => {
      if (!catalogLoaded) {
        catalogLoaded = true;
        const catalog = await getJson<PlanCatalog>('/api/plan/catalog');
        // Entity properties: the ids that events carry (…_id), from the plan.
        const ids = [...new Set(catalog.events.flatMap((e) => e.properties.map((p) => p.name)).filter((n) => n.endsWith('_id')))].sort();
        append(propertySelect, ...ids.map((p) => el('option', { value: p }, `an entity by ${p}`)));
      }
      // From the address each time: after Back or Forward it names another lookup.
      const { property, id } = fromUrl();
      propertySelect.value = property;
      idInput.value = id;
      await lookup();
    });
  };
}
