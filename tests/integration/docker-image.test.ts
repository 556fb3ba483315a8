/**
 * The image's files, without a Docker engine: the Dockerfile's `build` and `base` stages are laid
 * out as Docker would (its COPY instructions, from a fresh checkout's files minus .dockerignore,
 * and the build stage's commands run), and the result starts its dashboard and SDK as the
 * installed package it is. Found 2026-12-05: the image copied app.js but not live.js, so
 * `serve` and `up` stopped with `dashboard_missing` in every image built from a clean checkout.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { sourceCopy } from '../helpers/source-copy.ts';
import { REPO_ROOT, tempDir } from '../helpers/stack.ts';

const run = promisify(execFile);

/** Each stage's instructions by name, continuation lines joined, comments left out. */
function stages(dockerfile: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] = [];
  const joined = dockerfile.replace(/\\\n/g, ' ');
  for (const line of joined.split('\n').map((l) => l.trim())) {
    if (!line || line.startsWith('#')) continue;
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) out.set(from[1] ?? `stage-${out.size}`, (current = []));
    else current.push(line);
  }
  return out;
}

/** A .dockerignore pattern as a test on a context-relative path (what Balise's file uses: names and `*`). */
function ignored(patterns: string[]): (file: string) => boolean {
  const tests = patterns.map((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/|$)`));
  return (file) => tests.some((t) => t.test(file));
}

function copyInto(from: string, to: string, skip: (relative: string) => boolean, relative: string): void {
  if (skip(relative)) return;
  if (fs.statSync(from).isDirectory()) {
    fs.mkdirSync(to, { recursive: true });
    for (const name of fs.readdirSync(from)) copyInto(path.join(from, name), path.join(to, name), skip, path.posix.join(relative, name));
  } else {
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(from, to);
  }
}

/** COPY [--from=stage] src... dest, with WORKDIR /app: from the context, or from a stage laid out before. */
function copy(instruction: string, stageDir: string, context: string, built: Map<string, string>, skip: (file: string) => boolean): void {
  const words = instruction.split(/\s+/).slice(1);
  const fromStage = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const [dest, ...sources] = words.filter((w) => !w.startsWith('--')).reverse();
  const inApp = (p: string) => p.replace(/^\/app\/?/, '');
  const target = path.join(stageDir, inApp(dest!));
  for (const source of sources.reverse()) {
    const root = fromStage ? built.get(fromStage) : context;
    expect(root, `stage ${fromStage} is laid out before it is copied from`).toBeDefined();
    const from = path.join(root!, inApp(source));
    expect(fs.existsSync(from), `${instruction}: ${source} exists`).toBe(true);
    const into = dest!.endsWith('/') || sources.length > 1 ? path.join(target, path.basename(source)) : target;
    copyInto(from, into, fromStage ? () => false : skip, fromStage ? '' : path.posix.normalize(source));
  }
}

it("lays out the image's build and base stages from the Dockerfile, and the base starts its dashboard and SDK as an installed package", async () => {
  const context = await sourceCopy();
  fs.rmSync(path.join(context, 'node_modules'));
  const skip = ignored(
    fs
      .readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#')),
  );
  const all = stages(fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const built = new Map<string, string>();

  // The build stage: its files, its modules (npm ci: the checkout's, linked), its bundles.
  const build = tempDir('balise-image-build-');
  for (const instruction of all.get('build') ?? []) {
    if (/^COPY\s/i.test(instruction)) copy(instruction, build, context, built, skip);
    else if (/^RUN\s+npm ci\b/i.test(instruction)) fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(build, 'node_modules'), 'dir');
    else if (/^RUN\s/i.test(instruction)) await run('sh', ['-c', instruction.replace(/^RUN\s+/i, '')], { cwd: build, maxBuffer: 16 * 1024 * 1024 });
  }
  built.set('build', build);

  // The base stage both images share: its COPY instructions (its RUN only makes /data).
  const app = tempDir('balise-image-app-');
  const base = all.get('base') ?? [];
  expect(base.filter((i) => /^COPY\s/i.test(i)).length).toBeGreaterThan(5);
  for (const instruction of base) if (/^COPY\s/i.test(instruction)) copy(instruction, app, context, built, skip);
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(app, 'node_modules'), 'dir');
  expect(fs.existsSync(path.join(app, '.git'))).toBe(false);

  const check = `const { ensureDashboardBuilt } = await import('./src/dashboard/bundle.ts');
const { ensureSdkBuilt } = await import('./src/ingest/sdk-asset.ts');
await Promise.all([ensureDashboardBuilt(), ensureSdkBuilt()]);
console.log('ready');`;
  const started = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', check], { cwd: app }).catch((error: { stdout?: string; stderr?: string }) => ({
    stdout: `${error.stdout ?? ''}${error.stderr ?? ''}`,
  }));
  expect(started.stdout.trim()).toBe('ready');
}, 120_000);
