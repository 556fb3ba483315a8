/**
 * The live events page: an EventSource on /api/live (the login cookie authenticates it), one
 * table row per event, newest first, the violations in words. Rows are capped so a long session
 * does not grow the page without bound.
 */
import type { LiveDelivery } from '../../live/hub.ts';
import type { LiveEvent } from '../../live/model.ts';
import { byId, el } from './dom.ts';
import { eventLabel, plural } from './format.ts';
import { violationList } from './violations.ts';

const MAX_ROWS = 200;
const RETRY_MS = 3000;
const form = byId<HTMLFormElement>('live-filter');
const status = byId('live-status');
const body = byId<HTMLTableElement>('live-events').tBodies[0]!;
let source: EventSource | undefined;
let shown = 0;
let skipped = 0;

function row(e: LiveEvent): HTMLTableRowElement {
  const violations = e.violations.length ? violationList(e.violations) : '';
  return el(
    'tr',
    { 'data-verdict': e.verdict, 'data-message-id': e.messageId },
    // A live tail reads in the viewer's own clock; the exact instant, in UTC, is on hover.
    el('td', { title: new Date(e.receivedAt).toISOString() }, new Date(e.receivedAt).toLocaleTimeString()),
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
  status.textContent = `Watching: ${shown} ${plural(shown, 'event')} shown${skipped ? `, ${skipped} skipped under load` : ''}.`;
}

function watch(): void {
  source?.close();
  const query = new URLSearchParams();
  for (const [name, value] of new FormData(form)) if (typeof value === 'string' && value !== '') query.set(name, value);
  const url = `/api/live${query.size ? `?${query.toString()}` : ''}`;
  source = new EventSource(url);
  source.addEventListener('ready', () => {
    status.textContent = 'Watching: waiting for events…';
    status.className = 'status';
    document.body.setAttribute('data-live', 'ready');
  });
  source.addEventListener('events', (message) => show(JSON.parse((message as MessageEvent<string>).data) as LiveDelivery));
  source.addEventListener('error', () => {
    // CONNECTING: the browser retries by itself. CLOSED: it was answered with an error status and
    // will never retry, so find out why instead of promising a reconnection that never comes.
    if (source?.readyState === EventSource.CLOSED) void explainClosed(url);
    else setState('reconnecting', 'Disconnected; reconnecting…');
  });
}

function setState(state: 'reconnecting' | 'refused', text: string): void {
  status.textContent = text;
  status.className = state === 'refused' ? 'status error' : 'status';
  document.body.setAttribute('data-live', state);
}

/** Why the stream was refused: a 4xx is final (shown, no retry); anything else is retried shortly. */
async function explainClosed(url: string): Promise<void> {
  const abort = new AbortController();
  const answer = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' }, signal: abort.signal }).catch(() => undefined);
  if (answer && answer.status >= 400 && answer.status < 500 && answer.status !== 429) {
    setState('refused', refusal(answer.status, await answer.json().catch(() => undefined)));
    return;
  }
  abort.abort();
  setState('reconnecting', 'Disconnected; reconnecting…');
  setTimeout(watch, RETRY_MS);
}

function refusal(status: number, body: unknown): string {
  const message = typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string' ? body.message : `HTTP ${status}`;
  if (status === 401) return 'Signed out: sign in again to watch live events.';
  if (status === 403) return `Live events show person-level data, for analysts and admins only (${message}).`;
  return `Cannot watch live events: ${message}.`;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  body.replaceChildren();
  shown = 0;
  skipped = 0;
  watch();
});
watch();
