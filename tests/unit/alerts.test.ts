import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluate, transition } from '../../src/alerts/evaluate.ts';
import { planCheckAction } from '../../src/cli/plan.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

async function withAlerts(text: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'balise-alerts-lint-'));
  dirs.push(dir);
  await fs.cp(FIXTURE_PLAN, dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'alerts.yaml'), text);
  return dir;
}

describe('alerts.yaml in plan check', () => {
  it('passes a file using every kind of alert', async () => {
    const dir = await withAlerts(`every: 5m
webhooks:
  - url: https://hooks.slack.com/services/T/B/X
    format: slack
alerts:
  - { id: missions_low, type: kpi, kpi: weekly_missions_posted, below: 10 }
  - { id: missions_swing, type: kpi, kpi: weekly_missions_posted, change_pct: 30 }
  - { id: signups_silent, type: event_silent, event: freelancer_signup_completed, for: 6h }
  - { id: violations, type: violation_rate, above: 0.05, window: 1h }
  - { id: stale, type: freshness, above: 15m }
  - { id: dead_letter, type: dead_letter }
`);
    expect(await planCheckAction(dir)).toEqual({ messages: [], errors: 0 });
  });

  it('reports an unknown KPI, an unplanned event, a missing condition, a bad duration and a duplicate id, with lines', async () => {
    const dir = await withAlerts(`alerts:
  - { id: a, type: kpi, kpi: no_such_kpi, below: 1 }
  - { id: b, type: event_silent, event: mission_vanished, for: 1h }
  - { id: c, type: kpi, kpi: weekly_missions_posted }
  - { id: a, type: dead_letter }
`);
    const { messages } = await planCheckAction(dir);
    expect(messages.map((m) => `${m.file}:${m.line} ${m.rule}`)).toEqual([
      'alerts.yaml:2 alert_unknown_kpi',
      'alerts.yaml:3 alert_unplanned_event',
      'alerts.yaml:4 alert_condition',
      'alerts.yaml:5 alert_duplicate_id',
    ]);
    const bad = await withAlerts('alerts:\n  - { id: s, type: event_silent, event: mission_posted, for: soon }\n');
    expect((await planCheckAction(bad)).messages).toEqual([expect.objectContaining({ file: 'alerts.yaml', line: 2, rule: 'alerts_schema', severity: 'error' })]);
  });
});

describe('alert evaluation', () => {
  it.each([
    ['below', { kind: 'kpi', id: 'k', kpi: 'm', below: 10 }, { value: 4 }, true, 'KPI m is 4, below 10'],
    ['above', { kind: 'kpi', id: 'k', kpi: 'm', above: 10 }, { value: 4 }, false, 'KPI m is 4'],
    ['a drop of more than X%', { kind: 'kpi', id: 'k', kpi: 'm', changePct: 30 }, { value: 60, previous: 100 }, true, 'KPI m moved -40.0% versus the previous period (100 → 60), more than 30%'],
    ['a small change', { kind: 'kpi', id: 'k', kpi: 'm', changePct: 30 }, { value: 80, previous: 100 }, false, 'KPI m is 80'],
    ['silent too long', { kind: 'event_silent', id: 's', event: 'e', forMs: 3_600_000 }, { value: 7_200_000 }, true, 'event e last received 2h ago, silent for more than 1h'],
    ['violation rate', { kind: 'violation_rate', id: 'v', above: 0.05, windowMs: 3_600_000 }, { value: 0.1 }, true, 'violation rate 10.0% over the last 1h, above 5.0%'],
    ['fresh', { kind: 'freshness', id: 'f', aboveMs: 900_000 }, { value: 60_000 }, false, 'newest event arrived 1m ago'],
    ['dead letter', { kind: 'dead_letter', id: 'd' }, { value: 2 }, true, '2 job(s) in the dead letter: run `balise replay dead-letter` once the cause is fixed'],
  ] as const)('%s', (_label, rule, measurement, firing, message) => {
    expect(evaluate(rule, measurement)).toEqual({ alert: rule.id, firing, value: measurement.value, message });
  });

  it('notifies on a change of state only', () => {
    const on = { alert: 'a', firing: true, value: 1, message: 'm' };
    expect(transition(false, on, 0)).toMatchObject({ status: 'firing', at: '1970-01-01T00:00:00.000Z' });
    expect(transition(true, on, 0)).toBeUndefined();
    expect(transition(true, { ...on, firing: false }, 0)).toMatchObject({ status: 'resolved' });
    expect(transition(false, { ...on, firing: false }, 0)).toBeUndefined();
  });
});
