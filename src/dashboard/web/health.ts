import type { LoadHealth, PlanHealth } from '../../api/health-queries.ts';
import type { RetentionState } from '../../warehouse/retention.ts';
import { getJson } from './api.ts';
import { chartBox, draw, PALETTE } from './charts.ts';
import { append, byId, clear, el, table } from './dom.ts';
import { eventLabel, formatCount, formatDuration, formatPercent, plural } from './format.ts';
import type { Range } from './range.ts';
import { parseViolations, violationList } from './violations.ts';

export type PlanHealthResponse = PlanHealth & { planVersion: string; versions: string[]; plannedNeverSeen: string[]; unplannedSeen: PlanHealth['eventsSeen'] };
export type PipelineHealthResponse = LoadHealth & { redis?: 'up' | 'down'; queue: Record<string, number>; deadLetter: number; retention?: RetentionState[] };

/** "events 395 d · quarantine 90 d": how long each table keeps its rows (kept forever when unset). */
function retentionText(retention: RetentionState[] | undefined): { value: string; note?: string } {
  const set = (retention ?? []).filter((r) => r.days !== null);
  return set.length ? { value: set.map((r) => `${r.table} ${r.days} d`).join(' · ') } : { value: 'kept forever', note: 'BALISE_RETENTION_DAYS unset' };
}

type RuleRow = PlanHealth['violationsByRule'][number] & { rate: number };

/**
 * Violation rate of a rule on an event: quarantined-for-this-rule / (stored + quarantined) events
 * of that name, each quarantined event counted once however many rules it broke
 * (`quarantinedByEvent`, from the server).
 */
export function violationRates(health: Pick<PlanHealth, 'violationsByRule' | 'eventsSeen' | 'quarantinedByEvent'>): RuleRow[] {
  // By type and name: identify and alias calls have no name, and are not one event.
  const key = (r: { event: string; type: string }) => `${r.type}\u0000${r.event}`;
  const stored = new Map<string, number>();
  for (const e of health.eventsSeen) stored.set(key(e), (stored.get(key(e)) ?? 0) + e.events);
  const quarantined = new Map<string, number>();
  for (const q of health.quarantinedByEvent) quarantined.set(key(q), (quarantined.get(key(q)) ?? 0) + q.count);
  return health.violationsByRule.map((v) => {
    const total = (stored.get(key(v)) ?? 0) + (quarantined.get(key(v)) ?? 0);
    return { ...v, rate: total > 0 ? v.count / total : 0 };
  });
}

/** A tile: its label, its value, and a note in small print (a setting's name breaks no value in two). */
function stat(label: string, value: string, field: string, tone = '', note?: string): HTMLElement {
  return el('div', { class: `stat ${tone}`, 'data-stat': field }, el('dt', {}, label), el('dd', {}, value), note ? el('dd', { class: 'muted small note' }, note) : null);
}

function freshnessTone(seconds: number | null): string {
  if (seconds === null) return 'warn';
  return seconds > 3600 ? 'warn' : 'ok';
}

/** One request serves both health sections. */
export const loadPipelineHealth = () => getJson<PipelineHealthResponse>('/api/health/pipeline');

export async function renderDataHealth(range: Range, pipelineHealth: Promise<PipelineHealthResponse>): Promise<void> {
  const [health, pipeline] = await Promise.all([getJson<PlanHealthResponse>('/api/health/plan', { from: range.from, to: range.to }), pipelineHealth]);
  const root = byId('health-body');
  clear(root);
  const total = health.acceptedTotal + health.quarantinedTotal;
  append(
    root,
    el(
      'dl',
      { class: 'stats' },
      stat('Plan version', health.planVersion, 'plan-version'),
      stat('Events stored', formatCount(health.acceptedTotal), 'accepted'),
      stat('Quarantined', `${formatCount(health.quarantinedTotal)} (${formatPercent(total ? health.quarantinedTotal / total : 0)})`, 'quarantined', health.quarantinedTotal ? 'warn' : 'ok'),
      stat('Freshness', pipeline.freshnessSeconds === null ? 'no data yet' : `${formatDuration(pipeline.freshnessSeconds * 1000)} ago`, 'freshness', freshnessTone(pipeline.freshnessSeconds)),
    ),
    table(
      'Events by plan version',
      [
        { header: 'Plan version', cell: (r: PlanHealth['eventsByPlanVersion'][number]) => r.plan_version || '(none)' },
        { header: 'Status', cell: (r) => r.plan_status },
        { header: 'Events', cell: (r) => formatCount(r.events), numeric: true },
      ],
      health.eventsByPlanVersion,
    ),
    table(
      'Violation rate by event and rule',
      [
        { header: 'Event', cell: (r: RuleRow) => eventLabel(r.event, r.type) },
        { header: 'Rule', cell: (r) => r.rule },
        { header: 'Version', cell: (r) => r.plan_version },
        { header: 'Quarantined', cell: (r) => formatCount(r.count), numeric: true },
        { header: 'Rate', cell: (r) => formatPercent(r.rate), numeric: true },
      ],
      violationRates(health).slice(0, 20),
      'No violations in this period.',
      { 'data-violations': 'rates', class: 'stack-narrow' },
    ),
    table(
      'Stored with warnings (by event and rule)',
      [
        { header: 'Event', cell: (r: PlanHealth['warnedByRule'][number]) => eventLabel(r.event, r.type) },
        { header: 'Rule', cell: (r) => r.rule },
        { header: 'Version', cell: (r) => r.plan_version },
        { header: 'Events', cell: (r) => formatCount(r.count), numeric: true },
        { header: 'Example', cell: (r) => el('code', { class: 'wrap' }, r.example) },
      ],
      health.warnedByRule.slice(0, 20),
      'No warned events in this period.',
      { 'data-warned': 'rules', class: 'stack-narrow' },
    ),
    table(
      'Quarantine examples (latest per event and rule)',
      [
        { header: 'Event', cell: (q: PlanHealth['quarantineExamples'][number]) => eventLabel(q.event, q.type) },
        { header: 'Rules', cell: (q) => q.reasons.join(', ') },
        { header: 'Details', cell: (q) => quarantineDetails(q.violations) },
        { header: 'Received (UTC)', cell: (q) => q.received_at },
      ],
      health.quarantineExamples.slice(0, 10),
      'Nothing in quarantine.',
      { 'data-quarantine': 'examples', class: 'stack-narrow' },
    ),
    el(
      'div',
      { class: 'split' },
      el('div', {}, el('h3', {}, 'Planned events never seen'), list(health.plannedNeverSeen, 'Every planned event was seen.')),
      table(
        'Unplanned events seen',
        [
          { header: 'Event', cell: (r: PlanHealth['eventsSeen'][number]) => eventLabel(r.event, r.type) },
          { header: 'Events', cell: (r) => formatCount(r.events), numeric: true },
          { header: 'Last seen (UTC)', cell: (r) => r.last_seen },
        ],
        health.unplannedSeen,
        'No unplanned events.',
        { 'data-unplanned': 'events', class: 'stack-narrow' },
      ),
    ),
  );
}

/** The violations as sentences, as on the Live page; a column that is not a list of them, as text. */
function quarantineDetails(text: string): HTMLElement {
  const violations = parseViolations(text);
  return violations ? violationList(violations) : el('code', { class: 'wrap' }, text.length > 300 ? `${text.slice(0, 300)}…` : text);
}

function list(items: string[], empty: string): HTMLElement {
  return items.length ? el('ul', { class: 'pills' }, ...items.map((i) => el('li', {}, i))) : el('p', { class: 'muted' }, empty);
}

const MINUTE = 60_000;

/**
 * The hour's 60 minutes, one bar each (the API lists only minutes with inserts, and a category
 * axis would close the gaps): a quiet minute is a 0 in its place. Minutes are UTC
 * ("2026-12-05 07:31:00", inserted_at is a UTC column); the hour ends at the later of `nowMs` and
 * the newest listed minute, so a browser clock behind the server's loses no bar.
 */
export function lastHourByMinute(listed: readonly { minute: string; rows: number }[], nowMs: number): { minute: string; rows: number }[] {
  const rows = new Map(listed.map((m) => [m.minute.slice(0, 16), m.rows]));
  const newest = Math.max(nowMs, ...listed.map((m) => Date.parse(`${m.minute.slice(0, 16).replace(' ', 'T')}:00Z`)).filter(Number.isFinite));
  const end = Math.floor(newest / MINUTE) * MINUTE;
  return Array.from({ length: 60 }, (_, i) => {
    const minute = new Date(end - (59 - i) * MINUTE).toISOString().slice(0, 16).replace('T', ' ');
    return { minute: `${minute}:00`, rows: rows.get(minute) ?? 0 };
  });
}

export async function renderPipeline(pipelineHealth: Promise<PipelineHealthResponse>): Promise<void> {
  const p = await pipelineHealth;
  const root = byId('pipeline-body');
  clear(root);
  const depth = (p.queue.waiting ?? 0) + (p.queue.prioritized ?? 0) + (p.queue.delayed ?? 0);
  const chart = chartBox('Rows inserted per minute over the last hour', 160);
  const retention = retentionText(p.retention);
  append(
    root,
    el(
      'dl',
      { class: 'stats' },
      p.redis === 'down'
        ? stat('Queue depth', 'Redis is down: ingest answers 503', 'queue-depth', 'bad')
        : stat('Queue depth', `${formatCount(depth)} waiting · ${formatCount(p.queue.active ?? 0)} active`, 'queue-depth', depth > 10_000 ? 'warn' : 'ok'),
      stat('Insert rate', `${formatCount(p.insertedLastMinute)} ${plural(p.insertedLastMinute, 'row')} / min`, 'insert-rate'),
      // Time since the newest event arrived, not a backlog: an idle source grows it too, so it is
      // named for what it is and not coloured as a fault (a backlog is the queue depth's to show).
      stat(
        'Newest event received',
        p.freshnessSeconds === null ? 'no data yet' : `${formatDuration(p.freshnessSeconds * 1000)} ago`,
        'newest-event',
        '',
        'quiet sources make this grow; the queue depth shows a backlog',
      ),
      stat('Dead letter', formatCount(p.deadLetter), 'dead-letter', p.deadLetter ? 'bad' : 'ok'),
      stat('Retention', retention.value, 'retention', '', retention.note),
    ),
    chart.box,
  );
  const minutes = lastHourByMinute(p.insertedPerMinute, Date.now());
  draw(chart.canvas, {
    type: 'bar',
    data: { labels: minutes.map((m) => m.minute.slice(11, 16)), datasets: [{ label: 'Rows inserted', data: minutes.map((m) => m.rows), backgroundColor: PALETTE[2] }] },
    options: { scales: { x: { title: { display: true, text: 'UTC' }, ticks: { maxRotation: 0, autoSkipPadding: 16 } }, y: { beginAtZero: true } }, plugins: { legend: { display: false } } },
  });
}
