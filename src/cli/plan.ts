/** `balise plan check | diff | build | codegen | docs | views`: the tracking plan's tool chain. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { readAlerts } from '../alerts/load.ts';
import { lintKpiDefinitions, loadKpiDefinitions } from '../analytics/definitions.ts';
import { kpisByEvent } from '../analytics/event-kpis.ts';
import type { KpiDefinitions } from '../analytics/model.ts';
import { planReview, renderReviewMarkdown, type PlanReview } from '../analytics/plan-review.ts';
import { loadConfig } from '../config/index.ts';
import { BaliseError } from '../errors.ts';
import { buildPlan } from '../plan/build.ts';
import { codegen } from '../plan/codegen.ts';
import { diff, type DiffReport } from '../plan/diff.ts';
import { docs } from '../plan/docs.ts';
import { writeEventKpis } from '../plan/event-kpis-write.ts';
import { lintPlanDir, loadPlan, loadPlanVersions } from '../plan/load.ts';
import { PlanInvalidError } from '../plan/errors.ts';
import type { LintMessage } from '../plan/model.ts';
import { PLAN_FILE } from '../plan/parse.ts';
import { allFollow, replicaSummary, type ReplicaReport } from '../queue/plan-reloads.ts';
import { viewsSql } from '../plan/views.ts';
import { openWarehouse } from '../warehouse/client.ts';
import { readEngineOwner } from '../warehouse/engine-owner.ts';
import { applyViews } from '../warehouse/views.ts';
import { callApi, namedServerUrl } from './client.ts';

const run = promisify(execFile);

function planDir(): string {
  return loadConfig().planDir;
}

function formatMessage(dir: string, m: LintMessage): string {
  const file = path.relative(process.cwd(), path.resolve(dir, m.file)) || m.file;
  return `${file}:${m.line}: ${m.severity} ${m.rule}: ${m.message}`;
}

/** Lint of the plan plus the KPI definitions; exit code 1 on any error. */
export async function planCheckAction(dir: string): Promise<{ messages: LintMessage[]; errors: number }> {
  const { plan, messages } = await lintPlanDir(dir);
  const kpiMessages = await lintKpiDefinitions(plan, dir);
  const kpis = await loadKpiDefinitions(dir).catch(() => undefined);
  const alertMessages = (await readAlerts(dir, plan, kpis)).messages;
  const all = [...messages, ...kpiMessages, ...alertMessages];
  return { messages: all, errors: all.filter((m) => m.severity === 'error').length };
}

/**
 * Rewrites every event's `kpis:` list to what kpis/*.yaml says uses it; returns the files
 * changed. Does nothing while the KPI definitions themselves are invalid (check reports why).
 */
export async function planFixKpisAction(dir: string): Promise<string[]> {
  const plan = await loadPlan(dir);
  const derived = kpisByEvent(await loadKpiDefinitions(dir));
  const changed: string[] = [];
  for (const event of plan.events) {
    const expected = derived.get(event.name) ?? [];
    const same = expected.length === event.kpis.length && expected.every((k) => event.kpis.includes(k));
    if (!same && (await writeEventKpis(dir, event.file, expected))) changed.push(event.file);
  }
  return changed;
}

/**
 * Writes the tracking-plan directory as it was at `ref` into a temp dir, using git plumbing
 * (read-only: ls-tree + show), so `plan diff origin/main` works in CI without a checkout.
 */
export async function materialiseAtRef(dir: string, ref: string): Promise<string> {
  const absolute = path.resolve(dir);
  // Run from the wrong folder (inside tracking-plan/, say): say so, not "not in a git repository".
  if (!existsSync(absolute)) throw new BaliseError('plan_diff_base', `no tracking plan in ${absolute}: run from the project's folder, or set BALISE_PLAN_DIR`);
  let top: string;
  try {
    top = (await run('git', ['rev-parse', '--show-toplevel'], { cwd: absolute })).stdout.trim();
  } catch {
    throw new BaliseError('plan_diff_base', `"${ref}" is not a directory and ${absolute} is not in a git repository`);
  }
  const rel = path.relative(top, absolute).split(path.sep).join('/');
  let listing: string;
  try {
    listing = (await run('git', ['ls-tree', '-r', '--name-only', ref, '--', rel], { cwd: top, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch {
    throw new BaliseError('plan_diff_base', `"${ref}" is neither a directory nor a git ref`);
  }
  const files = listing.split('\n').filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'));
  if (!files.some((f) => f === `${rel ? `${rel}/` : ''}${PLAN_FILE}`)) {
    throw new BaliseError('plan_diff_base', `no ${rel}/${PLAN_FILE} at ${ref}`);
  }
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'balise-plan-base-'));
  for (const f of files) {
    const content = (await run('git', ['show', `${ref}:${f}`], { cwd: top, maxBuffer: 64 * 1024 * 1024 })).stdout;
    const target = path.join(out, rel ? path.relative(rel, f) : f);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, content);
  }
  return out;
}

export function formatDiff(report: DiffReport): string {
  const lines: string[] = [`plan diff ${report.from} → ${report.to}`];
  for (const level of ['breaking', 'non_breaking'] as const) {
    const changes = report.changes.filter((c) => c.level === level);
    if (changes.length === 0) continue;
    lines.push('', level === 'breaking' ? 'Breaking changes:' : 'Non-breaking changes:');
    for (const c of changes) lines.push(`  ${c.target}: ${c.message} [${c.code}, ${c.bump}]`);
  }
  lines.push('', `${report.ok ? 'OK' : 'FAIL'}: ${report.summary}`);
  return lines.join('\n');
}

async function isDirectory(p: string): Promise<boolean> {
  return fs.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

export async function planDiffAction(dir: string, base: string): Promise<DiffReport> {
  return (await planReviewAction(dir, base)).report;
}

/** KPI definitions for the review; a plan whose kpis/ is invalid counts as having none (`plan check` says why). */
async function kpisOrNone(dir: string): Promise<KpiDefinitions> {
  return loadKpiDefinitions(dir).catch(() => ({ funnels: [], metrics: [], retention: [] }));
}

/** The diff from `base` (git ref or directory) and the KPIs it touches, for the PR comment. */
export async function planReviewAction(dir: string, base: string): Promise<PlanReview> {
  const baseIsDir = await isDirectory(base);
  // A project's folder given for its plan's: said as such, not as an invalid plan.
  if (baseIsDir && !existsSync(path.join(base, PLAN_FILE))) {
    const inside = existsSync(path.join(base, 'tracking-plan', PLAN_FILE)) ? `; the plan is in ${path.join(base, 'tracking-plan')}` : '';
    throw new BaliseError('plan_diff_base', `no ${PLAN_FILE} in ${base}: give the plan's folder, or a git ref${inside}`);
  }
  const baseDir = baseIsDir ? base : await materialiseAtRef(dir, base);
  try {
    // The base's plan is named as the user gave it (a git ref), not by the temporary copy read.
    const before = await loadPlan(baseDir).catch((error: unknown) => {
      if (error instanceof PlanInvalidError && baseDir !== base) throw new PlanInvalidError(error.message.replaceAll(baseDir, `${base} (git ref)`), error.messages);
      throw error;
    });
    const report = diff(before, await loadPlan(dir));
    return planReview(report, await kpisOrNone(baseDir), await kpisOrNone(dir));
  } finally {
    if (baseDir !== base) await fs.rm(baseDir, { recursive: true, force: true });
  }
}

/** Writes the generated module, or with `check` only compares; returns whether the file was current. */
export async function planCodegenAction(dir: string, out: string, check: boolean): Promise<boolean> {
  const text = codegen(await loadPlan(dir));
  const current = await fs.readFile(out, 'utf8').catch(() => undefined);
  if (check) return current === text;
  if (current !== text) {
    await fs.mkdir(path.dirname(out), { recursive: true });
    await fs.writeFile(out, text);
  }
  return current === text;
}

export interface DocsResult {
  /** Every page of the catalogue. */
  files: string[];
  /** Pages written because they were new or changed; the others were left untouched. */
  written: string[];
  /** Pages of events no longer in the plan, deleted. */
  removed: string[];
}

/** Writes the catalogue, touching only the pages whose content changed (a one-property change rewrites one page). */
export async function planDocsAction(dir: string, out: string): Promise<DocsResult> {
  const { latest, versions } = await loadPlanVersions(dir);
  const files = docs(latest, versions);
  const written: string[] = [];
  for (const [rel, content] of Object.entries(files)) {
    const target = path.join(out, rel);
    if ((await fs.readFile(target, 'utf8').catch(() => undefined)) === content) continue;
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, content);
    written.push(rel);
  }
  // Pages of removed events must not linger: the events/ folder is entirely generated.
  const existing = await fs.readdir(path.join(out, 'events')).catch(() => [] as string[]);
  const removed = existing.map((f) => `events/${f}`).filter((rel) => rel.endsWith('.md') && !(rel in files));
  for (const rel of removed) await fs.rm(path.join(out, rel), { force: true });
  return { files: Object.keys(files), written, removed };
}

export function registerPlanCommands(program: Command): void {
  const plan = program.command('plan').description('the tracking plan: lint, diff, build, codegen, docs, SQL views');

  plan
    .command('check')
    .description('lint the plan and KPI definitions (file:line messages); exits 1 on errors')
    .option('--fix', "rewrite each event's kpis: list from kpis/*.yaml first")
    .action(async (opts: { fix?: boolean }) => {
      const dir = planDir();
      if (opts.fix) for (const file of await planFixKpisAction(dir)) console.log(`${file}: kpis: list rewritten from kpis/*.yaml`);
      const { messages, errors } = await planCheckAction(dir);
      for (const m of messages) console.log(formatMessage(dir, m));
      console.log(`${errors} error(s), ${messages.length - errors} warning(s)`);
      if (errors > 0) process.exitCode = 1;
    });

  plan
    .command('diff <base>')
    .description('classify every change from <base> (git ref or directory) to the current plan; exits 1 when the version bump does not match')
    .option('--format <format>', 'text, json, or markdown (a pull-request comment: changes, the KPIs and dashboards they touch, the bump)', 'text')
    .option('--json', 'the same as --format json')
    .action(async (base: string, opts: { json?: boolean; format: string }) => {
      const format = opts.json ? 'json' : opts.format;
      if (!['text', 'json', 'markdown'].includes(format)) throw new BaliseError('invalid_argument', `--format must be text, json or markdown, not "${format}"`);
      const review = await planReviewAction(planDir(), base);
      if (format === 'markdown') console.log(renderReviewMarkdown(review));
      else console.log(format === 'json' ? JSON.stringify(review.report, null, 2) : formatDiff(review.report));
      if (!review.report.ok) process.exitCode = 1;
    });

  plan
    .command('build')
    .description('publish the current version as build/plan-<version>.json (never rewrites a published version unless --force)')
    .option('--force', 'overwrite a published version with different content')
    .action(async (opts: { force?: boolean }) => {
      const result = await buildPlan(planDir(), { force: opts.force === true });
      console.log(`${result.file}: ${result.status}`);
    });

  plan
    .command('codegen')
    .description('generate TypeScript types for the SDK')
    .requiredOption('--out <file>', 'output file, e.g. src/balise-plan.ts')
    .option('--check', 'exit 1 when the file is stale instead of writing it')
    .action(async (opts: { out: string; check?: boolean }) => {
      const current = await planCodegenAction(planDir(), opts.out, opts.check === true);
      if (opts.check && !current) {
        const state = (await fs.stat(opts.out).catch(() => undefined)) ? 'is stale' : 'does not exist';
        throw new BaliseError('plan_codegen_stale', `${opts.out} ${state}: run \`balise plan codegen --out ${opts.out}\``);
      }
      console.log(opts.check ? `${opts.out} is up to date` : `${opts.out}: ${current ? 'unchanged' : 'written'}`);
    });

  plan
    .command('docs')
    .description('write the Markdown catalogue (index + one page per event)')
    .requiredOption('--out <dir>', 'output directory')
    .action(async (opts: { out: string }) => {
      const result = await planDocsAction(planDir(), opts.out);
      console.log(
        `${opts.out}: ${result.written.length} page(s) written, ${result.files.length - result.written.length} unchanged${result.removed.length > 0 ? `, ${result.removed.length} removed` : ''}`,
      );
    });

  plan
    .command('views')
    .description('print the typed per-event SQL views, or create them with --apply')
    .option('--apply', 'create or replace the views in the warehouse (through the running Balise when it owns the embedded engine)')
    .action(async (opts: { apply?: boolean }) => {
      const config = loadConfig();
      const current = await loadPlan(config.planDir);
      if (!opts.apply) {
        console.log(viewsSql(current, config.clickhouse.cluster ? { cluster: config.clickhouse.cluster } : {}));
        return;
      }
      // A server the user named (--url, BALISE_URL) reloads the plan and applies them; so does the
      // running Balise that owns the embedded engine, which no other process may open.
      const server = namedServerUrl(config) ?? (config.clickhouse.url ? undefined : readEngineOwner(config.dataDir)?.url);
      if (server) {
        const reloaded = await callApi<{ planVersion: string; views: string[]; replicas: ReplicaReport | null; unpublishedEdits?: string | null }>('POST', '/api/admin/plan/reload', undefined, server);
        console.log(`the running Balise (${server}) reloaded plan ${reloaded.planVersion} and created or replaced ${reloaded.views.length} view(s): ${reloaded.views.join(', ')}`);
        if (reloaded.unpublishedEdits) console.warn(`warning: ${reloaded.unpublishedEdits}`);
        const { replicas } = reloaded;
        if (!replicas) return;
        const summary = replicaSummary(replicas, reloaded.planVersion);
        // A replica on other plan files judges the same events otherwise: a deploy step must not pass.
        if (!allFollow(replicas, reloaded.planVersion)) throw new BaliseError('plan_replicas_behind', summary);
        console.log(summary);
        return;
      }
      const warehouse = await openWarehouse(config);
      try {
        const names = await applyViews(warehouse, current);
        console.log(`created or replaced ${names.length} view(s): ${names.join(', ')}`);
      } finally {
        await warehouse.close();
      }
    });
}
