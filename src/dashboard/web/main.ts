/** Dashboard entry point: the shared header, then the page's own sections; progress in #status. */
import { renderAlerts } from './alerts.ts';
import { byId } from './dom.ts';
import { setUpExplore } from './explore.ts';
import { renderFunnels } from './funnels.ts';
import { setUpHeader } from './header.ts';
import { loadPipelineHealth, renderDataHealth, renderPipeline } from './health.ts';
import { renderKpis } from './kpis.ts';
import { setUpPeople } from './people.ts';
import type { Range } from './range.ts';
import { renderRetention } from './retention.ts';
import { renderTrends } from './trends.ts';

const status = byId('status');

async function section(name: string, work: () => Promise<void>, failures: string[]): Promise<void> {
  try {
    await work();
  } catch (error) {
    failures.push(`${name} (${(error as Error).message})`);
  }
}

/** Runs the page's loaders and reports "Loaded …" or what failed. */
export async function loadSections(range: Range, loaders: Record<string, () => Promise<void>>): Promise<void> {
  status.textContent = 'Loading…';
  status.className = 'status';
  document.body.setAttribute('aria-busy', 'true');
  const started = performance.now();
  const failures: string[] = [];
  await Promise.all(Object.entries(loaders).map(([name, work]) => section(name, work, failures)));
  document.body.setAttribute('aria-busy', 'false');
  const took = Math.round(performance.now() - started);
  status.textContent = failures.length ? `Could not load: ${failures.join('; ')}` : `Loaded ${range.from} to ${range.to} in ${took} ms.`;
  status.className = failures.length ? 'status error' : 'status';
}

function overview(range: Range): Promise<void> {
  const pipelineHealth = loadPipelineHealth();
  return loadSections(range, {
    KPIs: () => renderKpis(range),
    funnels: () => renderFunnels(range),
    retention: () => renderRetention(range),
    trends: () => renderTrends(range),
    'data health': () => renderDataHealth(range, pipelineHealth),
    pipeline: () => renderPipeline(pipelineHealth),
    alerts: () => renderAlerts(),
  });
}

const page = document.body.dataset.page;
if (page === 'explore') {
  const explore = setUpExplore((range, work) => loadSections(range, { explore: work }));
  void explore(setUpHeader((range) => void explore(range)));
} else if (page === 'people') {
  const people = setUpPeople((range, work) => loadSections(range, { people: work }));
  void people(setUpHeader((range) => void people(range)));
} else {
  void overview(setUpHeader((range) => void overview(range)));
}
