/**
 * What a team that adopted Balise does to its plan: add a property, add an event and a KPI on
 * it, edit a description, retire a deprecated event, each with its version bump, publishing each
 * version (`plan build`) and regenerating the SDK types and the catalogue. The test suite must
 * stay green against the plan evolved this way (tests/integration/plan-evolution.test.ts, and
 * `npm run test:plan-evolution` for the whole suite).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import { planCodegenAction, planDiffAction, planDocsAction } from '../../src/cli/plan.ts';
import { buildPlan } from '../../src/plan/build.ts';

interface Step {
  version: string;
  what: string;
  apply(planDir: string): Promise<void>;
}

async function editYaml(file: string, edit: (doc: Document) => void): Promise<void> {
  const doc = parseDocument(await fs.readFile(file, 'utf8'));
  edit(doc);
  await fs.writeFile(file, doc.toString({ lineWidth: 0, flowCollectionPadding: false }));
}

async function setVersion(planDir: string, version: string): Promise<void> {
  await editYaml(path.join(planDir, 'plan.yaml'), (doc) => doc.set('version', version));
}

const BOOKMARKED = `# yaml-language-server: $schema=../schema/event.schema.json
name: mission_bookmarked
kind: track
description: A freelancer saved a mission to read it later.
owner: team-freelancer-experience
status: active
properties:
  mission_id:
    type: string
    pattern: "^msn_[A-Za-z0-9]+$"
    description: Id of the mission.
  freelancer_id:
    type: string
    pattern: "^fr_[A-Za-z0-9]+$"
    description: Freelancer who saved it.
required:
  - mission_id
  - freelancer_id
kpis:
  - weekly_missions_bookmarked
`;

export const EVOLUTION: readonly Step[] = [
  {
    version: '2.1.0',
    what: 'optional property mission_posted.seniority',
    async apply(planDir) {
      await editYaml(path.join(planDir, 'events/mission_posted.yaml'), (doc) => {
        doc.setIn(['properties', 'seniority'], doc.createNode({ type: 'string', enum: ['junior', 'confirmed', 'senior'], description: 'Seniority the company is looking for.' }));
      });
    },
  },
  {
    version: '2.2.0',
    what: 'event mission_bookmarked and a weekly KPI counting it',
    async apply(planDir) {
      await fs.writeFile(path.join(planDir, 'events/mission_bookmarked.yaml'), BOOKMARKED);
      await editYaml(path.join(planDir, 'kpis/metrics.yaml'), (doc) => {
        const metrics = doc.get('metrics');
        if (!isSeq(metrics)) throw new Error('kpis/metrics.yaml has no metrics list');
        metrics.add(
          doc.createNode({ id: 'weekly_missions_bookmarked', title: 'Missions bookmarked', description: 'Missions saved by freelancers.', type: 'count', event: 'mission_bookmarked', grain: 'week' }),
        );
      });
    },
  },
  {
    version: '2.2.1',
    what: 'a clearer description of mission_rated',
    async apply(planDir) {
      await editYaml(path.join(planDir, 'events/mission_rated.yaml'), (doc) => {
        doc.set('description', `${String(doc.get('description'))} Both sides rate independently.`);
      });
    },
  },
  {
    version: '3.0.0',
    what: 'the deprecated events removed',
    async apply(planDir) {
      const dir = path.join(planDir, 'events');
      for (const file of await fs.readdir(dir)) {
        const doc = parseDocument(await fs.readFile(path.join(dir, file), 'utf8'));
        if (isMap(doc.contents) && doc.get('status') === 'deprecated') await fs.rm(path.join(dir, file));
      }
    },
  },
];

/**
 * Evolves the plan in `planDir` through EVOLUTION, publishing each version; `plan diff` against
 * the previous version must accept each bump (the evolution is itself a valid history).
 */
export async function evolvePlan(planDir: string, work: string): Promise<string[]> {
  const published: string[] = [];
  for (const step of EVOLUTION) {
    const previous = path.join(work, `before-${step.version}`);
    await fs.cp(planDir, previous, { recursive: true });
    await step.apply(planDir);
    await setVersion(planDir, step.version);
    const report = await planDiffAction(planDir, previous);
    if (!report.ok) throw new Error(`evolution step ${step.version} (${step.what}): ${report.summary}`);
    await buildPlan(planDir);
    published.push(step.version);
  }
  return published;
}

/** The files of the checkout at `root` that git would commit (tracked, or new and not ignored). */
function checkoutFiles(root: string): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  return out
    .toString('utf8')
    .split('\0')
    .filter((f) => f !== '');
}

/**
 * A copy of the checkout at `root` in `dest` (node_modules linked, not copied) whose
 * tracking-plan/ has been evolved, with its generated types and catalogue regenerated.
 */
export async function evolvedCheckout(root: string, dest: string): Promise<{ versions: string[] }> {
  for (const rel of checkoutFiles(root)) {
    const from = path.join(root, rel);
    const stat = await fs.lstat(from).catch(() => undefined);
    if (!stat?.isFile()) continue; // deleted in the work tree but still in the index
    await fs.mkdir(path.dirname(path.join(dest, rel)), { recursive: true });
    await fs.copyFile(from, path.join(dest, rel));
  }
  await fs.symlink(path.join(root, 'node_modules'), path.join(dest, 'node_modules'), 'dir');
  // A git checkout, as the original is: the server then builds its bundles from source.
  execFileSync('git', ['init', '-q'], { cwd: dest });
  const planDir = path.join(dest, 'tracking-plan');
  const work = path.join(dest, '.tmp', 'plan-evolution');
  await fs.mkdir(work, { recursive: true });
  const versions = await evolvePlan(planDir, work);
  await planCodegenAction(planDir, path.join(planDir, 'generated/balise-plan.ts'), false);
  await planDocsAction(planDir, path.join(dest, 'docs/tracking-plan'));
  return { versions };
}
