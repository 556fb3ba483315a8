/**
 * A refused save leaves the plan directory as it found it (decision 0039): here the event file
 * the definition uses cannot be rewritten (it stopped being valid YAML after the plan was
 * loaded), so the new kpis/ file is removed again. The HTTP path is in
 * tests/integration/save-kpi.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { saveKpiDefinition } from '../../src/api/save-kpi.ts';
import { lintPlanDir, loadPlan } from '../../src/plan/load.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';

let dir = '';
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('saveKpiDefinition', () => {
  it('puts everything back when a step after writing the file fails', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-save-kpi-unit-'));
    fs.cpSync(FIXTURE_PLAN, dir, { recursive: true });
    const plan = await loadPlan(dir);
    const eventFile = path.join(dir, 'events', 'mission_posted.yaml');
    const broken = `${fs.readFileSync(eventFile, 'utf8')}\nbad: [\n`;
    fs.writeFileSync(eventFile, broken);
    const before = fs.readdirSync(path.join(dir, 'kpis')).sort();
    // The file was written before the event file failed (its own write comes first), then removed.
    await expect(saveKpiDefinition(dir, plan, 'metric', { id: 'rolled_back', type: 'count', event: 'mission_posted', grain: 'week' })).rejects.toThrow(
      /errors cannot be stringified|Document with errors/,
    );
    expect(fs.readdirSync(path.join(dir, 'kpis')).sort()).toEqual(before);
    expect(fs.readFileSync(eventFile, 'utf8')).toBe(broken);
  });

  it('writes one file and the kpis: list of the event it counts', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-save-kpi-unit-'));
    fs.cpSync(FIXTURE_PLAN, dir, { recursive: true });
    const saved = await saveKpiDefinition(dir, await loadPlan(dir), 'funnel', { id: 'post_to_complete', steps: ['mission_posted', 'mission_completed'] });
    expect(saved).toMatchObject({ file: 'kpis/post_to_complete.yaml', eventsUpdated: ['events/mission_completed.yaml', 'events/mission_posted.yaml'] });
    expect(fs.readFileSync(path.join(dir, 'kpis', 'post_to_complete.yaml'), 'utf8')).toContain('funnels:\n  - id: post_to_complete\n');
    expect((await loadPlan(dir)).events.find((e) => e.name === 'mission_completed')?.kpis).toContain('post_to_complete');
  });

  it('bumps plan.yaml a patch when the kpis: lists change a published version, once, so that plan check and plan diff pass', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-save-kpi-unit-'));
    fs.cpSync(FIXTURE_PLAN, dir, { recursive: true });
    const planYaml = () => fs.readFileSync(path.join(dir, 'plan.yaml'), 'utf8');
    const before = planYaml();
    const first = await saveKpiDefinition(dir, await loadPlan(dir), 'metric', { id: 'weekly_posts', type: 'count', event: 'mission_posted', grain: 'week' });
    expect(first.versionBumped).toEqual({ from: '2.0.0', to: '2.0.1' });
    // Only the version line changed, comments and layout kept.
    expect(planYaml()).toBe(before.replace(/^version: 2\.0\.0$/m, 'version: 2.0.1'));
    expect((await lintPlanDir(dir)).messages.map((m) => m.rule)).not.toContain('version_not_bumped');
    // 2.0.1 is not published: the next save has nothing to bump.
    const second = await saveKpiDefinition(dir, await loadPlan(dir), 'metric', { id: 'weekly_completions', type: 'count', event: 'mission_completed', grain: 'week' });
    expect(second.versionBumped).toBeUndefined();
    expect((await loadPlan(dir)).version).toBe('2.0.1');
  });
});
