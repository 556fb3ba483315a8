import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MigrationError } from '../errors.ts';
import { onClusterClause, quoteString } from '../util/sql-quote.ts';
import type { Warehouse } from './client.ts';

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  statements: string[];
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: string[];
  /** Recorded as applied but not among this Balise's files: a newer Balise applied them (a rollback, a mixed deploy). */
  unknown: string[];
}

/** What to tell an operator whose database a newer Balise migrated; undefined when there is nothing to say. */
export function newerSchemaWarning(report: MigrationReport): string | undefined {
  if (report.unknown.length === 0) return undefined;
  return `the database has ${report.unknown.length} migration(s) this Balise does not know (${report.unknown.join(', ')}): a newer Balise applied them, and an older one on a newer schema may misread or miswrite it; run the newer Balise`;
}

/** Splits a .sql file into statements: `;` at the end of a line ends one; `--` comments are dropped. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * `{on_cluster}` becomes `ON CLUSTER name` for cluster deployments and disappears otherwise;
 * `{cluster}` (used by cluster variants only) becomes the name as a string literal. The
 * `{shard}`, `{replica}` and `{database}` macros are left for the server to expand.
 */
export function renderStatement(statement: string, cluster: string | undefined): string {
  return statement.replaceAll('{on_cluster}', onClusterClause(cluster).trimStart()).replaceAll('{cluster}', quoteString(cluster ?? ''));
}

/** Where a migration's cluster variant lives (decision 0012): same number, same name. */
export const CLUSTER_VARIANTS = 'cluster';

export function parseMigrationFile(fileName: string, sql: string): Migration {
  const match = /^(\d+)_([a-z0-9_]+)\.sql$/.exec(fileName);
  if (!match) throw new MigrationError('migration_bad_name', `migration file "${fileName}" must be named NNN_name.sql`);
  return {
    version: Number(match[1]),
    name: fileName,
    checksum: createHash('sha256').update(sql).digest('hex'),
    statements: splitStatements(sql),
  };
}

/**
 * The migrations in version order. For a cluster (`cluster` true), a file of the same version in
 * `dir/cluster/` replaces the single-node one: the cluster layout (replicated local tables and
 * Distributed tables over them) cannot be derived from single-node DDL statement by statement.
 */
export async function readMigrations(dir: string, cluster = false): Promise<Migration[]> {
  const single = await readMigrationDir(dir);
  if (!cluster) return single;
  const variantsDir = path.join(dir, CLUSTER_VARIANTS);
  const variants = new Map((await readMigrationDir(variantsDir).catch(() => [])).map((m) => [m.version, m]));
  return single.map((m) => variants.get(m.version) ?? m);
}

async function readMigrationDir(dir: string): Promise<Migration[]> {
  const files = (await fs.readdir(dir, { withFileTypes: true }))
    .filter((f) => f.isFile() && f.name.endsWith('.sql'))
    .map((f) => f.name)
    .sort();
  const migrations = await Promise.all(files.map(async (f) => parseMigrationFile(f, await fs.readFile(path.join(dir, f), 'utf8'))));
  const seen = new Set<number>();
  for (const m of migrations) {
    if (seen.has(m.version)) throw new MigrationError('migration_duplicate_version', `two migrations share version ${m.version}`);
    seen.add(m.version);
  }
  return migrations.sort((a, b) => a.version - b.version);
}

export const DEFAULT_MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../../migrations');

/**
 * The history table. On a cluster every node is a replica of one copy (no `{shard}` in its
 * path), so whichever node a process talks to knows what was applied.
 */
export const SCHEMA_MIGRATIONS = {
  single: `CREATE TABLE IF NOT EXISTS schema_migrations {on_cluster} (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY version`,
  cluster: `CREATE TABLE IF NOT EXISTS schema_migrations {on_cluster} (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/schema_migrations', '{shard}-{replica}') ORDER BY version`,
} as const;

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Applies pending migrations in order and records each (version, name, checksum) in
 * `schema_migrations`. Idempotent. An applied migration whose file changed is an error:
 * schema history must be appended to, never rewritten.
 */
export async function migrate(warehouse: Warehouse, dir = DEFAULT_MIGRATIONS_DIR): Promise<MigrationReport> {
  const { client, cluster } = warehouse;
  await client.command({ query: renderStatement(SCHEMA_MIGRATIONS[cluster ? 'cluster' : 'single'], cluster) });
  const applied = await appliedMigrations(warehouse);
  const migrations = await readMigrations(dir, cluster !== undefined);
  const known = new Set(migrations.map((m) => m.version));
  const report: MigrationReport = { applied: [], alreadyApplied: [], unknown: [...applied.values()].filter((row) => !known.has(Number(row.version))).map((row) => row.name) };
  for (const migration of migrations) {
    const previous = applied.get(migration.version);
    if (previous) {
      if (previous.checksum !== migration.checksum) {
        throw new MigrationError(
          'migration_checksum_mismatch',
          `migration ${migration.name} was edited after it was applied (checksum ${previous.checksum.slice(0, 12)} → ${migration.checksum.slice(0, 12)}); add a new migration instead`,
        );
      }
      report.alreadyApplied.push(migration.name);
      continue;
    }
    for (const statement of migration.statements) {
      await client.command({ query: renderStatement(statement, cluster) });
    }
    await client.insert({
      table: 'schema_migrations',
      values: [{ version: migration.version, name: migration.name, checksum: migration.checksum }],
      format: 'JSONEachRow',
    });
    report.applied.push(migration.name);
  }
  return report;
}

async function appliedMigrations(warehouse: Warehouse): Promise<Map<number, AppliedRow>> {
  const result = await warehouse.client.query({
    query: 'SELECT version, name, checksum FROM schema_migrations FINAL ORDER BY version',
    format: 'JSONEachRow',
  });
  const rows = await result.json<AppliedRow>();
  return new Map(rows.map((r) => [Number(r.version), r]));
}

/** True when every migration file is recorded as applied with a matching checksum. */
export async function migrationsUpToDate(warehouse: Warehouse, dir = DEFAULT_MIGRATIONS_DIR): Promise<boolean> {
  try {
    const applied = await appliedMigrations(warehouse);
    return (await readMigrations(dir, warehouse.cluster !== undefined)).every((m) => applied.get(m.version)?.checksum === m.checksum);
  } catch {
    return false;
  }
}
