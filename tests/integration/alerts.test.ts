/**
 * Alerts as code against a real Balise and a local webhook receiver: an alert fires once to a
 * generic JSON webhook and a Slack-compatible one, is not repeated while it keeps firing, resolves
 * when the data comes back, and the history is served by GET /api/alerts. A second scheduler on
 * the same Redis stays idle while the first holds the leader key.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAlerts } from '../../src/alerts/load.ts';
import { lastCompletePeriod, measure } from '../../src/alerts/measure.ts';
import { startAlertScheduler } from '../../src/alerts/scheduler.ts';
import type { AlertsConfig } from '../../src/alerts/model.ts';
import { loadKpiDefinitions } from '../../src/analytics/definitions.ts';
import { createRedis } from '../../src/redis/server.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { post, startStack, tempDir, type Stack } from '../helpers/stack.ts';
import { dashboardSessionCookie } from '../helpers/dashboard-login.ts';
import { launchChromium } from '../helpers/browser.ts';
import { waitFor } from '../helpers/wait.ts';

type Received = { path: string; body: Record<string, unknown> };
const received: Received[] = [];
/** Paths the receiver answers 500 for, as a webhook that is down. */
const refusing = new Set<string>();
let receiver: http.Server;
let stack: Stack;
let planDir: string;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      if (refusing.has(req.url ?? '')) return void res.writeHead(500).end('down');
      received.push({ path: req.url ?? '', body: JSON.parse(text) as Record<string, unknown> });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  planDir = path.join(tempDir('balise-alerts-plan-'), 'plan');
  await fs.cp(FIXTURE_PLAN, planDir, { recursive: true });
  await fs.writeFile(
    path.join(planDir, 'alerts.yaml'),
    `every: 1s
webhooks:
  - url: http://127.0.0.1:${port}/json
  - url: http://127.0.0.1:${port}/slack
    format: slack
alerts:
  - id: missions_silent
    type: event_silent
    event: mission_posted
    for: 1h
  - id: dead_letter
    type: dead_letter
`,
  );
  stack = await startStack({ planDir });
});
afterAll(async () => {
  await stack?.stop();
  receiver?.close();
});

const receivedSoFar = () => `received ${JSON.stringify(received)}`;
const notices = (p: string) => received.filter((r) => r.path === p);

describe('alerts as code', () => {
  it('fires once to both webhooks, stays quiet while firing, resolves when the event comes back, with a history', async () => {
    const fired = await waitFor('the firing notice', () => (notices('/json').length > 0 && notices('/slack').length > 0 ? notices('/json')[0] : undefined), { intervalMs: 100, detail: receivedSoFar });
    expect(fired.body).toMatchObject({ source: 'balise', alert: 'missions_silent', status: 'firing', value: null, message: 'event mission_posted has never been received' });
    expect(notices('/slack')[0]!.body).toEqual({ text: ':rotating_light: Balise alert *missions_silent* is firing: event mission_posted has never been received' });

    // Three more evaluations (every 1 s) while it still fires: no repeat. The dead letter is empty: never fired.
    await new Promise((r) => setTimeout(r, 3500));
    expect(notices('/json')).toHaveLength(1);
    expect(notices('/slack')).toHaveLength(1);

    const sent = await post(stack, '/v1/track', {
      userId: 'cmp_a1',
      event: 'mission_posted',
      messageId: 'alert-1',
      properties: { mission_id: 'msn_a1', company_id: 'cmp_a1', category: 'bi', remote: 'remote' },
    });
    expect(sent.status).toBe(200);
    await stack.waitForDrained();
    const resolved = await waitFor('the resolved notice', () => notices('/json').find((r) => r.body.status === 'resolved'), { intervalMs: 100, detail: receivedSoFar });
    expect(resolved.body).toMatchObject({ alert: 'missions_silent', status: 'resolved', message: expect.stringMatching(/^event mission_posted last received \d+s ago$/) });
    await waitFor('the resolved Slack notice', () => notices('/slack').length === 2, { intervalMs: 100, detail: receivedSoFar });
    expect(notices('/slack')[1]!.body.text).toMatch(/^:white_check_mark: Balise alert \*missions_silent\* resolved: /);

    const response = await fetch(`${stack.baseUrl}/api/alerts`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { firing: string[]; history: Array<{ alert: string; status: string }> };
    expect(body.firing).toEqual([]);
    expect(body.history.map((h) => `${h.alert} ${h.status}`)).toEqual(['missions_silent resolved', 'missions_silent firing']);

    // The dashboard's Alerts section shows the same history.
    const browser = await launchChromium();
    try {
      const context = await browser.newContext();
      await context.addCookies([await dashboardSessionCookie(stack.baseUrl, stack.adminToken)]);
      const page = await context.newPage();
      await page.goto(`${stack.baseUrl}/`);
      const rows = page.locator('#alerts-body tbody tr');
      await rows.nth(1).waitFor({ timeout: 30_000 });
      expect(await page.locator('#alerts-body p').textContent()).toBe('No alert is firing.');
      const cells = await rows.evaluateAll((trs) => trs.map((tr) => [...tr.children].slice(1, 3).map((c) => c.textContent)));
      expect(cells).toEqual([
        ['missions_silent', 'resolved'],
        ['missions_silent', 'firing'],
      ]);
    } finally {
      await browser.close();
    }
  });

  it('a second scheduler on the same Redis does not evaluate while the first leads', async () => {
    const redis = createRedis(stack.balise.redisTarget);
    const second = startAlertScheduler({
      warehouse: stack.warehouse,
      redis,
      prefix: stack.balise.queueKeys.prefix,
      alerts: () => loadAlerts(planDir),
      kpis: () => loadKpiDefinitions(planDir),
      deadLetterCount: async () => 1,
      logger: pino({ level: 'silent' }),
      everyMs: 60_000,
    });
    try {
      // Run alone, this test must not race the stack's first evaluation for the key.
      for (let i = 0; i < 300 && (await redis.exists(`${stack.balise.queueKeys.prefix}:alerts:leader`)) === 0; i++) await new Promise((r) => setTimeout(r, 100));
      // It would fire dead_letter (count 1) if it evaluated.
      expect(await second.tick()).toEqual([]);
      expect(await redis.exists(`${stack.balise.queueKeys.prefix}:alerts:leader`)).toBe(1);
    } finally {
      await second.stop();
      redis.disconnect();
    }
  });

  // Found 2026-12-05: after a kill -9 of the leader, its key held for three of its `every` (15
  // minutes at 5m): no alert was evaluated, and nothing said so.
  it('takes over from a leader that died within its short lease, and evaluates at once', async () => {
    const redis = createRedis(stack.balise.redisTarget);
    const prefix = '{alerts-takeover}';
    // A leader that died holding the key: nobody renews it.
    await redis.set(`${prefix}:alerts:leader`, 'a-dead-process', 'PX', 600);
    const scheduler = startAlertScheduler({
      warehouse: stack.warehouse,
      redis,
      prefix,
      alerts: async () => ({ everyMs: 3_600_000, webhooks: [], rules: [{ kind: 'dead_letter', id: 'dl_takeover' }] }),
      kpis: () => loadKpiDefinitions(planDir),
      deadLetterCount: async () => 1,
      logger: pino({ level: 'silent' }),
      leaseMs: 600,
    });
    try {
      // Its first tick found the key taken; its next is an hour away: the takeover evaluates.
      await waitFor('the new leader evaluating', async () => ((await redis.sismember(`${prefix}:alerts:firing`, 'dl_takeover')) === 1 ? true : undefined), { timeoutMs: 10_000 });
      expect(await redis.get(`${prefix}:alerts:leader`)).not.toBe('a-dead-process');
    } finally {
      await scheduler.stop();
      redis.disconnect();
    }
  });

  it("a KPI alert reads the KPI's last complete period (a week for a weekly KPI) against the one before, not the 90-day total", async () => {
    // A Wednesday: the week under way (Monday 2025-03-17) is not read; last week is 03-10 to 03-17.
    const now = Date.UTC(2025, 2, 19, 12);
    const day = (d: string, n: number, tag: string) =>
      Array.from({ length: n }, (_, i) => ({
        type: 'track',
        event: 'mission_posted',
        userId: `cmp_alert_${tag}_${i}`,
        messageId: `alert-kpi-${tag}-${i}`,
        timestamp: `${d}T10:00:00.000Z`,
        properties: { mission_id: `msn_alert${tag}${i}`, company_id: `cmp_alert${tag}`, category: 'bi', remote: 'remote' },
      }));
    const batch = [...day('2025-03-18', 7, 'now'), ...day('2025-03-12', 3, 'last'), ...day('2025-03-04', 5, 'before'), ...day('2025-01-15', 11, 'jan')];
    const res = await post(stack, '/v1/import', { batch });
    expect(res.body).toMatchObject({ accepted: batch.length });
    await stack.waitForDrained();
    await waitFor('the events stored', async () => ((await stack.countEvents('alert-kpi-')).distinct === batch.length ? true : undefined));
    expect(lastCompletePeriod('week', now)).toEqual({ from: '2025-03-10T00:00:00.000Z', to: '2025-03-17T00:00:00.000Z' });
    const measured = await measure(
      { kind: 'kpi', id: 'missions_low', kpi: 'weekly_missions_posted', below: 4 },
      { warehouse: stack.warehouse, kpis: () => loadKpiDefinitions(planDir), deadLetterCount: async () => 0, now },
    );
    expect(measured).toEqual({ value: 3, previous: 5 });
  });

  it('sends a notice a webhook refused again at the next evaluations, in order, until it takes it; an alert removed while firing is resolved', async () => {
    const redis = createRedis(stack.balise.redisTarget);
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/flaky`;
    const undelivered = () => redis.llen('{alerts-retry}:alerts:undelivered');
    let deadLetters = 1;
    let rules: AlertsConfig['rules'] = [{ kind: 'dead_letter', id: 'dl_flaky' }];
    // The webhook is down from the start: the first evaluation's "firing" is refused.
    refusing.add('/flaky');
    const scheduler = startAlertScheduler({
      warehouse: stack.warehouse,
      redis,
      prefix: '{alerts-retry}',
      alerts: async () => ({ everyMs: 60_000, webhooks: [{ url, format: 'json' }], rules }),
      kpis: () => loadKpiDefinitions(planDir),
      deadLetterCount: async () => deadLetters,
      logger: pino({ level: 'silent' }),
      everyMs: 60_000,
    });
    const flaky = () => notices('/flaky').map((n) => `${String(n.body.alert)} ${String(n.body.status)}`);
    try {
      await waitFor('the firing notice refused', async () => ((await undelivered()) === 1 ? true : undefined));
      // The first evaluation may still be finishing (its Redis writes land before it returns): a tick
      // joins it or, once it is over, evaluates again with nothing new, the notice still refused.
      await scheduler.tick();
      expect(await undelivered()).toBe(1);
      deadLetters = 0;
      expect((await scheduler.tick()).map((n) => n.status)).toEqual(['resolved']);
      expect([flaky(), await undelivered()]).toEqual([[], 2]);
      // The webhook is back: both, in order, at the next evaluation, which has nothing new.
      refusing.delete('/flaky');
      expect(await scheduler.tick()).toEqual([]);
      expect([flaky(), await undelivered()]).toEqual([['dl_flaky firing', 'dl_flaky resolved'], 0]);
      // Firing again, then taken out of the file: resolved, once, saying why.
      deadLetters = 1;
      await scheduler.tick();
      rules = [{ kind: 'dead_letter', id: 'other' }];
      deadLetters = 0;
      await scheduler.tick();
      expect(flaky().slice(2)).toEqual(['dl_flaky firing', 'dl_flaky resolved']);
      expect(notices('/flaky').at(-1)!.body.message).toBe('dl_flaky was removed from alerts.yaml');
    } finally {
      refusing.delete('/flaky');
      await scheduler.stop();
      redis.disconnect();
    }
  });

  it('says in GET /api/alerts when alerts.yaml names a KPI that does not exist, and evaluates nothing', async () => {
    const file = path.join(planDir, 'alerts.yaml');
    const before = await fs.readFile(file, 'utf8');
    try {
      await fs.writeFile(file, `${before}  - { id: missions_low, type: kpi, kpi: weekly_mission_posted, below: 1 }\n`);
      const res = await fetch(`${stack.baseUrl}/api/alerts`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
      const body = (await res.json()) as { problem: string | null };
      expect(body.problem).toMatch(/^alerts\.yaml is invalid, so no alert is evaluated until it is fixed: .*weekly_mission_posted/);
    } finally {
      await fs.writeFile(file, before);
    }
    const fixed = (await (await fetch(`${stack.baseUrl}/api/alerts`, { headers: { authorization: `Bearer ${stack.adminToken}` } })).json()) as { problem: string | null };
    expect(fixed.problem).toBeNull();
  });
});
