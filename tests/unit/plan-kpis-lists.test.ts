import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseKpiFile } from '../../src/analytics/kpi-parse.ts';
import { kpisByEvent, lintEventKpiLists } from '../../src/analytics/event-kpis.ts';
import { planCheckAction, planFixKpisAction } from '../../src/cli/plan.ts';
import { loadPlan } from '../../src/plan/load.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';

const KPIS = `funnels:
  - id: hiring
    entity: company_id
    window: 30d
    steps: [company_signed_up, mission_posted]
metrics:
  - id: posted
    type: count
    event: mission_posted
    grain: week
  - id: accepted
    type: count
    event: mission_proposal_accepted
    grain: week
  - id: received
    type: count
    event: mission_proposal_received
    grain: week
  - id: acceptance
    type: ratio
    numerator: accepted
    denominator: received
    grain: week
`;

const dirs: string[] = [];
async function fixtureCopy(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'balise-kpis-lists-'));
  dirs.push(dir);
  await fs.cp(FIXTURE_PLAN, dir, { recursive: true });
  return dir;
}
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

describe("an event's kpis: list, derived from kpis/*.yaml", () => {
  it('is every funnel with a step on the event and every metric counting it, ratios through their parts', () => {
    const { definitions, messages } = parseKpiFile('kpis/k.yaml', KPIS);
    expect(messages).toEqual([]);
    expect(Object.fromEntries(kpisByEvent(definitions))).toEqual({
      company_signed_up: ['hiring'],
      mission_posted: ['hiring', 'posted'],
      mission_proposal_accepted: ['accepted', 'acceptance'],
      mission_proposal_received: ['received', 'acceptance'],
    });
  });

  it('a hand-written list that lists a KPI not using the event, or omits one using it, is an error naming the fix', async () => {
    const plan = await loadPlan(FIXTURE_PLAN);
    const { definitions } = parseKpiFile('kpis/k.yaml', KPIS);
    const wrong = {
      ...plan,
      events: plan.events.map((e) => (e.name === 'company_signed_up' ? { ...e, kpis: ['posted'] } : e.name === 'mission_posted' ? { ...e, kpis: ['posted', 'hiring'] } : e)),
    };
    const messages = lintEventKpiLists(wrong, definitions).filter((m) => m.message.includes('"company_signed_up"') || m.message.includes('"mission_posted"'));
    // Order does not matter: mission_posted lists the right two, the other way round.
    expect(messages).toEqual([
      {
        file: 'events/company_signed_up.yaml',
        line: expect.any(Number),
        rule: 'kpis_list_mismatch',
        message: 'event "company_signed_up": kpis: lists posted, which does not use it, and omits hiring, which uses it (per kpis/*.yaml); write kpis: [hiring], or run `balise plan check --fix`',
        severity: 'error',
      },
    ]);
    expect(messages[0]!.line).toBeGreaterThan(1);
    // Only an extra id: the sentence ends there, no dangling comma before "(per".
    const onlyExtra = { ...plan, events: plan.events.map((e) => (e.name === 'mission_posted' ? { ...e, kpis: ['posted', 'hiring', 'nothing_here'] } : e)) };
    const [extra] = lintEventKpiLists(onlyExtra, definitions).filter((m) => m.message.includes('"mission_posted"'));
    expect(extra?.message).toMatch(/^event "mission_posted": kpis: lists nothing_here, which does not use it \(per kpis\/\*\.yaml\)/);
  });

  it('`plan check` reports the example bugs of the issue, and `plan check --fix` rewrites the lists, keeping comments and layout', async () => {
    const dir = await fixtureCopy();
    const file = path.join(dir, 'events/company_signed_up.yaml');
    const original = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, original.replace(/kpis:\n( {2}- .*\n)+/, 'kpis:\n  - weekly_missions_posted\n'));
    const completed = path.join(dir, 'events/mission_completed.yaml');
    await fs.writeFile(completed, (await fs.readFile(completed, 'utf8')).replace('  - company_hiring\n', ''));

    const { messages, errors } = await planCheckAction(dir);
    expect(errors).toBe(2);
    expect(messages.filter((m) => m.severity === 'error').map((m) => `${m.file} ${m.rule} ${m.message.split(' (per')[0]}`)).toEqual([
      'events/company_signed_up.yaml kpis_list_mismatch event "company_signed_up": kpis: lists weekly_missions_posted, which does not use it, and omits company_hiring, which uses it',
      'events/mission_completed.yaml kpis_list_mismatch event "mission_completed": kpis: omits company_hiring, which uses it',
    ]);

    expect((await planFixKpisAction(dir)).sort()).toEqual(['events/company_signed_up.yaml', 'events/mission_completed.yaml']);
    expect(await planCheckAction(dir)).toEqual({ messages: [], errors: 0 });
    expect(await fs.readFile(file, 'utf8')).toBe(original);
    expect(await planFixKpisAction(dir)).toEqual([]);
  });
});
