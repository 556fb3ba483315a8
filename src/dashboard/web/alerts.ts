/** The Alerts section: what fires now, and the history of notices (GET /api/alerts). */
import { getJson } from './api.ts';
import { append, byId, clear, el, table } from './dom.ts';

interface AlertNotice {
  at: string;
  alert: string;
  status: 'firing' | 'resolved';
  value: number | null;
  message: string;
}

export async function renderAlerts(): Promise<void> {
  const body = byId('alerts-body');
  const data = await getJson<{ firing: string[]; history: AlertNotice[]; problem?: string | null }>('/api/alerts');
  clear(body);
  append(
    body,
    data.problem ? el('p', { class: 'error', role: 'alert', 'data-alerts-problem': '' }, data.problem) : null,
    el('p', { 'data-alerts-firing': data.firing.length }, data.firing.length ? `Firing: ${data.firing.join(', ')}` : 'No alert is firing.'),
    table<AlertNotice>(
      'Alert history (tracking-plan/alerts.yaml)',
      [
        { header: 'When (UTC)', cell: (n) => n.at.replace('T', ' ').slice(0, 19) },
        { header: 'Alert', cell: (n) => n.alert },
        { header: 'Status', cell: (n) => n.status },
        { header: 'What', cell: (n) => n.message },
      ],
      data.history,
      'No alert has fired yet.',
    ),
  );
}
