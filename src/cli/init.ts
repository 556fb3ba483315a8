import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { BaliseError } from '../errors.ts';

const PACKAGE_ROOT = path.resolve(import.meta.dirname, '../..');
/** The example freelance marketplace: the package's own plan. */
const EXAMPLE_PLAN = path.join(PACKAGE_ROOT, 'tracking-plan');
const MINIMAL_PLAN = path.join(PACKAGE_ROOT, 'templates/minimal/tracking-plan');
/** Output of `plan codegen` for the example's own SDK: the user generates their own. */
const SKIPPED = new Set(['generated']);

export interface InitResult {
  planDir: string;
  files: string[];
}

function copyTree(from: string, to: string, files: string[]): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(source, target, files);
    else {
      fs.copyFileSync(source, target, fs.constants.COPYFILE_EXCL);
      files.push(target);
    }
  }
}

/** Writes `<dir>/tracking-plan`: the example marketplace, or a minimal plan with one funnel. */
export function scaffoldPlan(dir: string, options: { minimal?: boolean } = {}): InitResult {
  const planDir = path.join(path.resolve(dir), 'tracking-plan');
  if (fs.existsSync(planDir) && fs.readdirSync(planDir).length > 0) {
    throw new BaliseError('plan_exists', `${planDir} already exists and is not empty: nothing written`);
  }
  const files: string[] = [];
  copyTree(options.minimal ? MINIMAL_PLAN : EXAMPLE_PLAN, planDir, files);
  // The JSON Schemas behind the YAML files' editor hints are shared by both templates.
  if (options.minimal) copyTree(path.join(EXAMPLE_PLAN, 'schema'), path.join(planDir, 'schema'), files);
  return { planDir, files };
}

export function registerInitCommand(program: Command): void {
  program
    .command('init [dir]')
    .description('write a tracking plan and KPI files into dir (default: here): the example freelance marketplace, or --minimal')
    .option('--minimal', 'a minimal plan (two events, one metric, one funnel) instead of the example marketplace')
    .action((dir: string | undefined, opts: { minimal?: boolean }) => {
      const result = scaffoldPlan(dir ?? '.', opts);
      const relative = path.relative(process.cwd(), result.planDir);
      const where = relative.startsWith('..') ? result.planDir : relative;
      console.log(`Wrote ${result.files.length} files to ${where}/ (${opts.minimal ? 'minimal plan' : 'example freelance marketplace'}).`);
      console.log(`Next:${dir ? `\n  cd ${dir}` : ''}\n  balise plan check   # lint the plan\n  balise up           # start Balise here (data in .data/, keep it out of git)`);
    });
}
