import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planDiffAction, planDocsAction } from '../../src/cli/plan.ts';
import { buildPlan } from '../../src/plan/build.ts';
import { docs } from '../../src/plan/docs.ts';
import { FILE_SCHEMAS } from '../../src/plan/file-schemas.ts';
import { loadPlan, loadPlanVersions } from '../../src/plan/load.ts';
import { EXAMPLE_PLAN, FIXTURE_PLAN } from '../helpers/plans.ts';

const EXAMPLE = EXAMPLE_PLAN;
const DOCS = path.resolve(import.meta.dirname, '../../docs/tracking-plan');
let tmp: string;
let planDir: string;

async function edit(file: string, from: string, to: string): Promise<void> {
  const p = path.join(planDir, file);
  const text = await fs.readFile(p, 'utf8');
  if (!text.includes(from)) throw new Error(`${from} not in ${file}`);
  await fs.writeFile(p, text.replace(from, to));
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'balise-build-'));
  planDir = path.join(tmp, 'plan');
  await fs.cp(FIXTURE_PLAN, planDir, { recursive: true });
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('plan build', () => {
  it('the committed artifact of the current version is up to date', async () => {
    expect(await buildPlan(planDir)).toEqual({ version: '2.0.0', file: 'build/plan-2.0.0.json', status: 'unchanged' });
  });

  it('the example plan has published its current version', async () => {
    const example = path.join(tmp, 'example');
    await fs.cp(EXAMPLE, example, { recursive: true });
    const { version } = await loadPlan(EXAMPLE);
    expect(await buildPlan(example)).toEqual({ version, file: `build/plan-${version}.json`, status: 'unchanged' });
  });

  it('refuses to rewrite a published version, unless forced; a bumped version is written beside it', async () => {
    await edit('events/mission_rated.yaml', 'maximum: 5', 'maximum: 10');
    await expect(buildPlan(planDir)).rejects.toMatchObject({ code: 'plan_version_published' });
    await edit('plan.yaml', 'version: 2.0.0', 'version: 2.1.0');
    expect(await buildPlan(planDir)).toMatchObject({ status: 'written', file: 'build/plan-2.1.0.json' });
    const { versions } = await loadPlanVersions(planDir);
    expect(versions.map((v) => v.version)).toEqual(['1.0.0', '1.1.0', '2.0.0', '2.1.0']);
    await edit('plan.yaml', 'version: 2.1.0', 'version: 2.0.0');
    expect(await buildPlan(planDir, { force: true })).toMatchObject({ status: 'overwritten' });
  });
});

describe('editor schemas', () => {
  it.each(Object.keys(FILE_SCHEMAS))("committed schema/%s matches the loader's", async (name) => {
    expect(JSON.parse(await fs.readFile(path.join(EXAMPLE, 'schema', name), 'utf8'))).toEqual(FILE_SCHEMAS[name]);
  });
});

describe('plan diff against a directory', () => {
  it('fails when a breaking change comes without a major bump, passes with one', async () => {
    const dir = path.join(tmp, 'next');
    await fs.cp(FIXTURE_PLAN, dir, { recursive: true });
    const text = await fs.readFile(path.join(dir, 'events/mission_posted.yaml'), 'utf8');
    await fs.writeFile(path.join(dir, 'events/mission_posted.yaml'), text.replace('enum: [remote, hybrid, on_site]', 'enum: [remote, on_site]'));
    await fs.writeFile(path.join(dir, 'plan.yaml'), (await fs.readFile(path.join(dir, 'plan.yaml'), 'utf8')).replace('version: 2.0.0', 'version: 2.1.0'));
    const report = await planDiffAction(dir, FIXTURE_PLAN);
    expect(report).toMatchObject({ ok: false, breaking: true, requiredBump: 'major', actualBump: 'minor' });
    expect(report.changes).toEqual([expect.objectContaining({ code: 'enum_narrowed', target: 'events/mission_posted/properties/remote' })]);
    await fs.writeFile(path.join(dir, 'plan.yaml'), (await fs.readFile(path.join(dir, 'plan.yaml'), 'utf8')).replace('version: 2.1.0', 'version: 3.0.0'));
    expect((await planDiffAction(dir, FIXTURE_PLAN)).ok).toBe(true);
  });
});

describe('plan docs', () => {
  it('the committed catalogue in docs/tracking-plan is not stale', async () => {
    const { latest, versions } = await loadPlanVersions(EXAMPLE);
    for (const [rel, content] of Object.entries(docs(latest, versions))) {
      expect(await fs.readFile(path.join(DOCS, rel), 'utf8'), rel).toBe(content);
    }
  });

  it('writes an index and one page per event with owner, versions and KPIs', async () => {
    const out = path.join(tmp, 'docs');
    const { files } = await planDocsAction(FIXTURE_PLAN, out);
    expect(files).toContain('README.md');
    const page = await fs.readFile(path.join(out, 'events/freelancer_availability_updated.md'), 'utf8');
    expect(page).toContain('- **Owner**: team-freelancer-experience');
    expect(page).toContain('- **In plan versions**: 1.1.0, 2.0.0');
    const signup = await fs.readFile(path.join(out, 'events/freelancer_signup_completed.md'), 'utf8');
    expect(signup).toContain('`freelancer_activation`');
    expect(signup).toMatch(/\| `community` \| `'tech' \\\| 'data'` \| yes \|/);
    expect(await fs.readFile(path.join(out, 'README.md'), 'utf8')).toContain('[mission_rated](events/mission_rated.md)');
  });

  it('shows an integer as integer, and a one-property change rewrites that one page only', async () => {
    const dir = path.join(tmp, 'docs-plan');
    const out = path.join(tmp, 'docs-incremental');
    await fs.cp(FIXTURE_PLAN, dir, { recursive: true });
    const first = await planDocsAction(dir, out);
    expect(first.written.sort()).toEqual([...first.files].sort());
    const rated = await fs.readFile(path.join(out, 'events/mission_rated.md'), 'utf8');
    expect(rated).toMatch(/\| `rating` \| `integer` \| yes \| 1 to 5 \|/);
    expect(await fs.readFile(path.join(out, 'events/mission_posted.md'), 'utf8')).toMatch(/\| `daily_rate_max` \| `number` \|/);

    const stamp = (await fs.stat(path.join(out, 'README.md'))).mtimeMs;
    expect(await planDocsAction(dir, out)).toMatchObject({ written: [], removed: [] });
    const posted = path.join(dir, 'events/mission_posted.yaml');
    await fs.writeFile(posted, (await fs.readFile(posted, 'utf8')).replace('properties:\n', 'properties:\n  seniority:\n    type: string\n    description: Seniority wanted.\n'));
    expect(await planDocsAction(dir, out)).toMatchObject({ written: ['events/mission_posted.md'], removed: [] });
    expect((await fs.stat(path.join(out, 'README.md'))).mtimeMs).toBe(stamp);

    await fs.rm(path.join(dir, 'events/freelancer_cv_uploaded.yaml'));
    expect(await planDocsAction(dir, out)).toMatchObject({ written: ['README.md'], removed: ['events/freelancer_cv_uploaded.md'] });
  });
});
