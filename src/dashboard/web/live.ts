/**
 * The live events page: an EventSource on /api/live (the login cookie authenticates it), one
 * table row per event, newest first, the violations in words. Rows are capped so a long session
 * does not grow the page without bound.
 */
import type { LiveDelivery } from '../../live/hub.ts';
import type { LiveEvent } from '../../live/model.ts';
import { byId, el } from './dom.ts';
import { eventLabel } from './format.ts';

const MAX_ROWS = 200;
const form = byId<HTMLFormElement>('live-filter');
const status = byId('live-status');
const body = byId<HTMLTableElement>('live-events').tBodies[0]!;
let source: EventSource | undefined;
let shown = 0;
let skipped = 0;

function row(e: LiveEvent): HTMLTableRowElement {
  const violations = e.violations.length ? el('ul', { class: 'violations' }, ...e.violations.map((v) => el('li', {}, el('code', {}, v.rule), ' ', v.message))) : '';
  return el(
    'tr',
    { 'data-verdict': e.verdict, 'data-message-id': e.messageId },
    el('td', {}, new Date(e.receivedAt).toLocaleTimeString()),
    el('td', { class: `verdict ${e.verdict}` }, e.code && e.code !== 'plan_violation' ? `${e.verdict} (${e.code})` : e.verdict),
    el('td', {}, eventLabel(e.event, e.type)),
    el('td', {}, e.userId || e.anonymousId || '–'),
    el('td', {}, e.library ? `${e.source} · ${e.library}` : e.source),
    el('td', {}, e.planVersion || '–'),
    el('td', {}, violations),
  );
}

function show(delivery: LiveDelivery): void {
  skipped += delivery.dropped + delivery.sampledOut;
  for (const e of delivery.events) {
    body.insertBefore(row(e), body.firstChild);
    shown++;
  }
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
  status.textContent = `Watching: ${shown} event(s) shown${skipped ? `, ${skipped} skipped under load` : ''}.`;
}

function watch(): void {
  source?.close();
  const query = new URLSearchParams();
  for (const [name, value] of new FormData(form)) if (typeof value === 'string' && value !== '') query.set(name, value);
  source = new EventSource(`/api/live${query.size ? `?${query.toString()}` : ''}`);
  source.addEventListener('ready', () => {
    status.textContent = 'Watching: waiting for events…';
    document.body.setAttribute('data-live', 'ready');
  });
  source.addEventListener('events', (message) => show(JSON.parse((message as MessageEvent<string>).data) as LiveDelivery));
  source.addEventListener('error', () => {
    status.textContent = 'Disconnected; reconnecting…';
    document.body.setAttribute('data-live', 'reconnecting');
  });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  body.replaceChildren();
  shown = 0;
  skipped = 0;
  watch();
});
watch();
