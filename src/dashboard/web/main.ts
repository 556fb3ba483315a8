/** Dashboard entry point: reads the date range, loads every section, reports progress in #status. */
import { renderAlerts } from './alerts.ts';
import { byId } from './dom.ts';
import { renderFunnels } from './funnels.ts';
import { loadPipelineHealth, renderDataHealth, renderPipeline } from './health.ts';
import { renderKpis } from './kpis.ts';
import { defaultRange, type Range } from './range.ts';
import { renderTrends } from './trends.ts';

const status = byId('status');
const form = byId<HTMLFormElement>('range');
const fromInput = byId<HTMLInputElement>('from');
const toInput = byId<HTMLInputElement>('to');

function currentRange(): Range {
  const fallback = defaultRange();
  return { from: fromInput.value || fallback.from, to: toInput.value || fallback.to };
}

async function section(name: string, work: () => Promise<void>, failures: string[]): Promise<void> {
  try {
    await work();
  } catch (error) {
    failures.push(`${name} (${(error as Error).message})`);
  }
}

async function loadAll(): Promise<void> {
  const range = currentRange();
  status.textContent = 'Loading…';
  document.body.setAttribute('aria-busy', 'true');
  const started = performance.now();
  const failures: string[] = [];
  const pipelineHealth = loadPipelineHealth();
  await Promise.all([
    section('KPIs', () => renderKpis(range), failures),
    section('funnels', () => renderFunnels(range), failures),
    section('trends', () => renderTrends(range), failures),
    section('data health', () => renderDataHealth(range, pipelineHealth), failures),
    section('pipeline', () => renderPipeline(pipelineHealth), failures),
    section('alerts', () => renderAlerts(), failures),
  ]);
  document.body.setAttribute('aria-busy', 'false');
  const took = Math.round(performance.now() - started);
  status.textContent = failures.length
    ? `Could not load: ${failures.join('; ')}`
    : `Loaded ${range.from} to ${range.to} in ${took} ms.`;
  status.className = failures.length ? 'status error' : 'status';
}

const initial = defaultRange();
fromInput.value = initial.from;
toInput.value = initial.to;
form.addEventListener('submit', (event) => {
  event.preventDefault();
  void loadAll();
});
void loadAll();
