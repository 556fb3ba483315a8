import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { planDiffAction } from '../../src/cli/plan.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { tempDir } from '../helpers/stack.ts';

// `balise plan diff origin/main` as a CI gate: the base plan is read from git, not a checkout.
let repo: string;
let planDir: string;
const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], { cwd: repo, stdio: 'pipe' }).toString();
const edit = (file: string, from: string | RegExp, to: string) => {
  const target = path.join(planDir, file);
  fs.writeFileSync(target, fs.readFileSync(target, 'utf8').replace(from, to));
};

beforeAll(() => {
  repo = tempDir('balise-plan-git-');
  planDir = path.join(repo, 'tracking-plan');
  fs.cpSync(FIXTURE_PLAN, planDir, { recursive: true });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'plan 2.0.0');
});

describe('plan diff against a git ref', () => {
  it('reports no change against HEAD', async () => {
    const report = await planDiffAction(planDir, 'HEAD');
    expect(report).toMatchObject({ ok: true, breaking: false, changes: [] });
  });

  it('fails a breaking change (an enum narrowed) shipped with a minor bump, and passes it with a major bump', async () => {
    edit('events/mission_proposal_declined.yaml', 'mission_too_short, other]', 'other]');
    edit('plan.yaml', /^version: 2\.0\.0$/m, 'version: 2.1.0');
    const minor = await planDiffAction(planDir, 'HEAD');
    expect(minor.ok).toBe(false);
    expect(minor.breaking).toBe(true);
    expect(minor.requiredBump).toBe('major');
    expect(minor.changes).toContainEqual(expect.objectContaining({ level: 'breaking', target: 'events/mission_proposal_declined/properties/reason' }));
    edit('plan.yaml', /^version: 2\.1\.0$/m, 'version: 3.0.0');
    expect((await planDiffAction(planDir, 'HEAD')).ok).toBe(true);
    git('checkout', '-q', '--', '.');
  });

  it('refuses a ref that does not exist with a stable code', async () => {
    await expect(planDiffAction(planDir, 'no-such-ref')).rejects.toMatchObject({ code: 'plan_diff_base' });
  });
});
