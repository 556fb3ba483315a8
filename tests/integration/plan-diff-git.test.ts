import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderReviewMarkdown } from '../../src/analytics/plan-review.ts';
import { planDiffAction, planReviewAction } from '../../src/cli/plan.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { runCli } from '../helpers/process.ts';
import { REPO_ROOT, tempDir } from '../helpers/stack.ts';

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
    // Run from inside tracking-plan/, the plan folder looked for does not exist: said as such.
    const inside = path.join(planDir, 'tracking-plan');
    await expect(planDiffAction(inside, 'HEAD')).rejects.toMatchObject({ code: 'plan_diff_base', message: `no tracking plan in ${inside}: run from the project's folder, or set BALISE_PLAN_DIR` });
  });

  it("says a project's folder given as the base is not the plan's, and where the plan is; the CLI exits 2", async () => {
    await expect(planDiffAction(planDir, repo)).rejects.toMatchObject({ code: 'plan_diff_base', message: `no plan.yaml in ${repo}: give the plan's folder, or a git ref; the plan is in ${planDir}` });
    const run = await runCli(['plan', 'diff', repo], { BALISE_PLAN_DIR: planDir });
    expect([run.code, run.output]).toEqual([2, expect.stringContaining('[plan_diff_base]')]);
  });

  it('names the git ref, not a temporary folder, when the base plan is invalid', async () => {
    const plan = path.join(planDir, 'plan.yaml');
    const good = fs.readFileSync(plan, 'utf8');
    fs.writeFileSync(plan, good.replace(/^version: .*$/m, 'version: x'));
    git('commit', '-qam', 'an invalid plan');
    try {
      fs.writeFileSync(plan, good);
      await expect(planDiffAction(planDir, 'HEAD')).rejects.toMatchObject({ code: 'plan_invalid', message: expect.stringMatching(/^tracking plan in HEAD \(git ref\) is invalid/) });
    } finally {
      git('reset', '-q', '--hard', 'HEAD~1');
    }
  });
});

describe('the pull-request comment and the CI workflow shipped in docs/ci', () => {
  it('plan diff --format markdown says what changes, breaking or not, the KPIs and dashboards touched and the bump', async () => {
    const posted = path.join(planDir, 'events/mission_posted.yaml');
    fs.writeFileSync(posted, fs.readFileSync(posted, 'utf8').replace('properties:\n', 'properties:\n  seniority:\n    type: string\n    description: Seniority wanted.\n'));
    edit('events/mission_proposal_declined.yaml', 'mission_too_short, other]', 'other]');
    edit('plan.yaml', /^version: 2\.0\.0$/m, 'version: 2.1.0');
    const review = await planReviewAction(planDir, 'HEAD');
    const md = renderReviewMarkdown(review);
    expect(md).toContain('### ❌ Tracking plan 2.0.0 → 2.1.0');
    expect(md).toContain('**Breaking.** Required bump: **major**; this change is a **minor** bump.');
    expect(md).toContain('| ⚠️ breaking | `events/mission_proposal_declined/properties/reason` | enum values removed: ["mission_too_short"] | major |');
    expect(md).toContain('| non-breaking | `events/mission_posted/properties/seniority` | optional property "seniority" added | minor |');
    // mission_posted feeds a metric and a funnel; mission_proposal_declined feeds nothing.
    expect(review.impacts.map((i) => [i.id, i.breaking])).toEqual([
      ['company_hiring', false],
      ['weekly_missions_posted', false],
    ]);
    expect(md).toContain('| `weekly_missions_posted` (metric: Missions posted) | event `mission_posted` changes | built-in dashboard (KPIs tile), Metabase "Balise KPIs" |');
    git('checkout', '-q', '--', '.');
  });

  it('gives a KPI one reason per changed event: a breaking change of it says all a lesser one would', async () => {
    const posted = path.join(planDir, 'events/mission_posted.yaml');
    // A property added (minor) and an enum value removed (breaking), on the same event.
    fs.writeFileSync(
      posted,
      fs
        .readFileSync(posted, 'utf8')
        .replace('properties:\n', 'properties:\n  seniority:\n    type: string\n    description: Seniority wanted.\n')
        .replace('enum: [remote, hybrid, on_site]', 'enum: [remote, hybrid]'),
    );
    edit('plan.yaml', /^version: 2\.0\.0$/m, 'version: 3.0.0');
    const review = await planReviewAction(planDir, 'HEAD');
    const weekly = review.impacts.find((i) => i.id === 'weekly_missions_posted');
    expect(weekly).toMatchObject({ breaking: true, reasons: ['event `mission_posted` changes (breaking)'] });
    git('checkout', '-q', '--', '.');
  });

  it("the workflow's own check and diff steps pass a good PR and fail a bad one, writing the comment", () => {
    const workflow = parse(fs.readFileSync(path.join(REPO_ROOT, 'docs/ci/plan-review.yml'), 'utf8')) as {
      on: { pull_request: { paths: string[] } };
      jobs: Record<string, { steps: Array<{ id?: string; run?: string }> }>;
    };
    expect(workflow.on.pull_request.paths).toEqual(['tracking-plan/**']);
    const steps = Object.values(workflow.jobs).flatMap((j) => j.steps);
    const command = (id: string) =>
      steps
        .find((s) => s.id === id)!
        .run!.replaceAll('npx balise', `"${process.execPath}" "${path.join(REPO_ROOT, 'bin/balise.js')}"`)
        .replaceAll('${{ github.base_ref }}', 'main');
    const runStep = (id: string) => spawnSync('sh', ['-c', command(id)], { cwd: repo, env: { ...process.env, BALISE_PLAN_DIR: 'tracking-plan', LOG_LEVEL: 'warn' }, encoding: 'utf8' });
    // The base branch as actions/checkout with fetch-depth 0 leaves it.
    git('update-ref', 'refs/remotes/origin/main', 'HEAD');
    git('checkout', '-q', '-b', 'feature');

    edit('events/mission_proposal_declined.yaml', 'mission_too_short, other]', 'other]');
    edit('plan.yaml', /^version: 2\.0\.0$/m, 'version: 2.1.0');
    expect(runStep('check').status).toBe(0);
    expect(runStep('diff').status).toBe(1);
    expect(fs.readFileSync(path.join(repo, 'plan-review.md'), 'utf8')).toContain('### ❌ Tracking plan 2.0.0 → 2.1.0');

    edit('plan.yaml', /^version: 2\.1\.0$/m, 'version: 3.0.0');
    const good = runStep('diff');
    expect(good.status, good.stderr).toBe(0);
    expect(fs.readFileSync(path.join(repo, 'plan-review.md'), 'utf8')).toContain('### ✅ Tracking plan 2.0.0 → 3.0.0');

    edit('events/mission_posted.yaml', 'owner: team-company-growth', 'owner: ""');
    expect(runStep('check').status).toBe(1);
    git('checkout', '-q', '--', '.');
    git('checkout', '-q', 'main');
  });
});
