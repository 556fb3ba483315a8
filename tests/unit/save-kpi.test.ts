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
import { loadPlan } from '../../src/plan/load.ts';
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
});
