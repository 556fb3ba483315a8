/**
 * `balise plan build`: publishes the current YAML plan as build/plan-<version>.json (the
 * artifact the ingest loads beside the YAML) and refreshes schema/*.schema.json for editors.
 * A published version is immutable: rewriting it with other content needs --force.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { PlanVersionPublishedError } from './errors.ts';
import { FILE_SCHEMAS } from './file-schemas.ts';
import { artifactFileName, BUILD_DIR, serializeArtifact } from './artifact.ts';
import { loadPlan } from './load.ts';

export interface BuildResult {
  version: string;
  file: string;
  status: 'written' | 'unchanged' | 'overwritten';
}

export async function writeFileSchemas(planDir: string): Promise<void> {
  const dir = path.join(planDir, 'schema');
  await fs.mkdir(dir, { recursive: true });
  for (const [name, schema] of Object.entries(FILE_SCHEMAS)) {
    await fs.writeFile(path.join(dir, name), `${JSON.stringify(schema, null, 2)}\n`);
  }
}

export async function buildPlan(planDir: string, options: { force?: boolean } = {}): Promise<BuildResult> {
  const plan = await loadPlan(planDir);
  const text = serializeArtifact(plan);
  const rel = path.posix.join(BUILD_DIR, artifactFileName(plan.version));
  const file = path.join(planDir, rel);
  const existing = await fs.readFile(file, 'utf8').catch(() => undefined);
  await writeFileSchemas(planDir);
  if (existing === text) return { version: plan.version, file: rel, status: 'unchanged' };
  if (existing !== undefined && !options.force) throw new PlanVersionPublishedError(plan.version, rel);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text);
  return { version: plan.version, file: rel, status: existing === undefined ? 'written' : 'overwritten' };
}
