/**
 * A team that adopts Balise edits tracking-plan/. Here a copy of this checkout has its example
 * plan evolved from its current version through four more (a property, an event and its KPI, a
 * description, the deprecated events removed: tests/helpers/plan-evolution.ts), and the test
 * files that read the example plan or its generated artifacts run there, green. The whole suite
 * runs against the evolved plan with `npm run test:plan-evolution`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/load.ts';
import { EVOLUTION, evolvedCheckout } from '../helpers/plan-evolution.ts';
import { REPO_ROOT, tempDir } from '../helpers/stack.ts';

const SELF = 'tests/integration/plan-evolution.test.ts';
/** Heavy files that read the example plan only to install or pack it; the full run covers them. */
const HEAVY = new Set(['tests/integration/npm-package.test.ts']);

/** Test files that name the example plan (its directory, or the helper constant for it). */
function filesReadingTheExample(): string[] {
  const out: string[] = [];
  for (const dir of ['tests/unit', 'tests/integration', 'sdk/tests']) {
    for (const name of fs.readdirSync(path.join(REPO_ROOT, dir))) {
      const rel = `${dir}/${name}`;
      if (!name.endsWith('.test.ts') || rel === SELF || HEAVY.has(rel)) continue;
      const text = fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');
      if (text.includes('EXAMPLE_PLAN') || text.includes('tracking-plan')) out.push(rel);
    }
  }
  return out.sort();
}

function vitest(cwd: string, files: string[]): Promise<{ code: number | null; output: string }> {
  // The nested run must not believe it is this worker.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_ENV' && k !== 'TEST'));
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=dot', ...files], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  // eslint-disable-next-line no-control-regex -- colour codes, whatever the terminal settings
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output: output.replace(/\x1b\[[0-9;]*m/g, '') })));
}

it('the test files that read the example plan pass against it evolved by four versions', { timeout: 15 * 60_000 }, async () => {
  const copy = tempDir('balise-evolved-');
  const before = await loadPlan(path.join(REPO_ROOT, 'tracking-plan'));
  const { versions } = await evolvedCheckout(REPO_ROOT, copy);
  expect(versions).toEqual(EVOLUTION.map((s) => s.version));

  // The copy really holds the evolved plan, its artifacts and its regenerated outputs.
  const after = await loadPlan(path.join(copy, 'tracking-plan'));
  expect(after.version).toBe('3.0.0');
  expect(before.version).not.toBe(after.version);
  expect(Object.keys(after.events.find((e) => e.name === 'mission_posted')!.properties)).toContain('seniority');
  expect(after.events.map((e) => e.name)).toContain('mission_bookmarked');
  expect(after.events.some((e) => e.status === 'deprecated')).toBe(false);
  expect(fs.existsSync(path.join(copy, 'tracking-plan/build/plan-3.0.0.json'))).toBe(true);
  expect(fs.readFileSync(path.join(copy, 'tracking-plan/generated/balise-plan.ts'), 'utf8')).toContain('mission_bookmarked');
  expect(fs.existsSync(path.join(copy, 'docs/tracking-plan/events/mission_bookmarked.md'))).toBe(true);

  const files = filesReadingTheExample();
  // The demo, the committed artifacts and `init` are the example plan's own tests: they must be among them.
  expect(files).toEqual(expect.arrayContaining(['tests/integration/demo-e2e.test.ts', 'tests/unit/plan-build.test.ts', 'tests/unit/plan-codegen.test.ts', 'tests/unit/analytics-demo.test.ts']));
  const { code, output } = await vitest(copy, files);
  expect(code, output.slice(-6000)).toBe(0);
  expect(output).toMatch(new RegExp(`Test Files\\s+${files.length} passed`));
  fs.rmSync(copy, { recursive: true, force: true });
});
