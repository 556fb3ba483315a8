import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { planCheckAction, planFixKpisAction } from '../../src/cli/plan.ts';
import { REPO_ROOT } from './stack.ts';

/**
 * What Explore's "Save as code" tells the user to run, `balise plan check --fix`, on a copy of the
 * example plan with `yaml` saved as kpis/explored.yaml (--fix adds a new KPI to its events' kpis: lists).
 */
export async function planCheckWith(yaml: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-explore-'));
  fs.cpSync(path.join(REPO_ROOT, 'tracking-plan'), dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'kpis', 'explored.yaml'), yaml);
  try {
    await planFixKpisAction(dir);
    return await planCheckAction(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
