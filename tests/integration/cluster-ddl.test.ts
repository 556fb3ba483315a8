/**
 * The cluster layout (decision 0012), checked without a ClickHouse cluster: the DDL that
 * `migrate()` sends when CLICKHOUSE_CLUSTER is set is asserted here and parsed by the real engine
 * (chDB's `formatQuery`, ClickHouse's own parser); its local tables, with the replicated engine
 * swapped for its single-node twin, are created in chDB and compared column by column and key by
 * key with what the single-node migrations build. Replication itself needs Keeper and servers:
 * docker-compose.cluster.yml is for that (tests/unit/compose.test.ts validates it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { openWarehouse, type Warehouse } from '../../src/warehouse/client.ts';
import { DEFAULT_MIGRATIONS_DIR, migrate, readMigrations, renderStatement, SCHEMA_MIGRATIONS } from '../../src/warehouse/migrations.ts';
import { queryRows } from '../../src/warehouse/query.ts';
import { deleteStatements } from '../../src/privacy/erase.ts';
import { personTables } from '../../src/privacy/tables.ts';
import { REPO_ROOT, tempDir } from '../helpers/stack.ts';

const CLUSTER = 'balise';
let warehouse: Warehouse;
let dataDir: string;

beforeAll(async () => {
  dataDir = tempDir('balise-cluster-ddl-');
  warehouse = await openWarehouse(loadConfig({ BALISE_DATA_DIR: dataDir }));
  await migrate(warehouse);
});
afterAll(async () => {
  await warehouse?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function clusterStatements(cluster = CLUSTER): Promise<string[]> {
  const migrations = await readMigrations(DEFAULT_MIGRATIONS_DIR, true);
  return [SCHEMA_MIGRATIONS.cluster, ...migrations.flatMap((m) => m.statements)].map((s) => renderStatement(s, cluster));
}

/** `CREATE TABLE … name …` → name. */
const createdTable = (statement: string) => /^CREATE (?:TABLE|MATERIALIZED VIEW) IF NOT EXISTS (\w+)/.exec(statement)?.[1];
const engineOf = (statement: string) => /\bENGINE = (\w+)(?:\(([^;]*?)\))?\s*(?:\n|$)/.exec(statement);

/** Tables whose rows are sharded: a single-node migration touching them needs a cluster variant. */
const SHARDED = ['events', 'quarantine', 'quarantine_replays', 'identity_links'];

describe('the cluster layout', () => {
  it('uses the cluster variant of every migration that has one, and keeps the version list', async () => {
    const single = await readMigrations(DEFAULT_MIGRATIONS_DIR);
    const cluster = await readMigrations(DEFAULT_MIGRATIONS_DIR, true);
    expect(cluster.map((m) => m.version)).toEqual(single.map((m) => m.version));
    expect(cluster.find((m) => m.version === 1)!.statements.length).toBeGreaterThan(single.find((m) => m.version === 1)!.statements.length);
    for (const v of [2, 3, 4, 5]) expect(cluster.find((m) => m.version === v)!.statements).toEqual([]);
  });

  it('creates replicated local tables with {shard}/{replica} macros and a Distributed table of the same name over each', async () => {
    const statements = await clusterStatements();
    const creates = statements.filter((s) => s.startsWith('CREATE TABLE'));
    for (const name of SHARDED) {
      const local = creates.find((s) => createdTable(s) === `${name}_local`);
      expect(local, `${name}_local`).toBeDefined();
      expect(local).toMatch(new RegExp(`ON CLUSTER ${CLUSTER}\\b`));
      expect(local).toMatch(new RegExp(`ENGINE = Replicated\\w*MergeTree\\('/clickhouse/tables/\\{shard\\}/\\{database\\}/${name}_local', '\\{replica\\}'`));
      const distributed = creates.find((s) => createdTable(s) === name);
      expect(distributed, name).toBeDefined();
      expect(distributed).toContain(`AS ${name}_local`);
      expect(distributed).toMatch(new RegExp(`ENGINE = Distributed\\('${CLUSTER}', currentDatabase\\(\\), ${name}_local, cityHash64\\(`));
    }
    // Every MergeTree-family table is replicated, except the node-local write probe.
    for (const s of creates) {
      const engine = engineOf(s)?.[1];
      if (!engine?.endsWith('MergeTree')) continue;
      if (createdTable(s) === 'health_probe') expect(engine).toBe('MergeTree');
      else expect(engine, createdTable(s)).toMatch(/^Replicated/);
    }
    // The migration history is one replicated copy on every node (no {shard} in its path).
    expect(statements[0]).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/schema_migrations', '{shard}-{replica}')");
  });

  it("shards so that every resend of an event, and a device's events, land on one shard", async () => {
    const statements = await clusterStatements();
    const events = statements.find((s) => createdTable(s) === 'events')!;
    // Only ids a resend repeats byte for byte: never received_at, timestamp or rand().
    expect(events).toContain("cityHash64(if(anonymous_id != '', anonymous_id, user_id))");
    expect(statements.find((s) => createdTable(s) === 'quarantine')).toContain('cityHash64(message_id)');
    expect(statements.find((s) => createdTable(s) === 'quarantine_replays')).toContain('cityHash64(message_id)');
    // The identity graph is fed on each shard from that shard's rows.
    const view = statements.find((s) => createdTable(s) === 'identity_links_from_events')!;
    expect(view).toContain('TO identity_links_local');
    expect(view).toContain('FROM events_local');
  });

  it('is parsed by the real engine (formatQuery), statement by statement', async () => {
    const statements = await clusterStatements();
    expect(statements.length).toBeGreaterThanOrEqual(11);
    for (const statement of statements) {
      const [row] = await queryRows<{ f: string }>(warehouse, 'SELECT formatQuery({q:String}) AS f', { q: statement });
      expect(row!.f.length, statement).toBeGreaterThan(0);
      const engine = engineOf(statement)?.[1];
      if (engine) expect(row!.f).toContain(`ENGINE = ${engine}`);
    }
  });

  it("is parsed for a cluster whose name holds '-' and '.', as remote_servers allows: quoted where the parser needs it", async () => {
    const events = (await personTables(warehouse)).find((table) => table.table === 'events')!;
    const statements = [...(await clusterStatements('prod-eu.1')), ...deleteStatements(events, ['user-1'], 'prod-eu.1')];
    const onCluster = statements.filter((s) => s.includes(' ON CLUSTER '));
    expect(onCluster.length).toBeGreaterThanOrEqual(12);
    for (const statement of onCluster) expect(statement).toMatch(/ ON CLUSTER `prod-eu\.1`(?:\s|$)/);
    for (const statement of statements) {
      const [row] = await queryRows<{ f: string }>(warehouse, 'SELECT formatQuery({q:String}) AS f', { q: statement });
      expect(row!.f.length, statement).toBeGreaterThan(0);
    }
    expect(statements.filter((s) => s.includes('ENGINE = Distributed(')).every((s) => s.includes("Distributed('prod-eu.1', "))).toBe(true);
  });

  it('gives each local table the columns, sorting key and partition key that the single-node migrations build', async () => {
    // The local tables are created in a database of their own with the replicated engine swapped
    // for its single-node twin (chDB has no Keeper), then compared with `events` and `quarantine`.
    await warehouse.client.command({ query: 'DROP DATABASE IF EXISTS cluster_check' });
    await warehouse.client.command({ query: 'CREATE DATABASE cluster_check' });
    const statements = await clusterStatements();
    for (const name of ['events', 'quarantine']) {
      const local = statements.find((s) => createdTable(s) === `${name}_local`)!;
      const twin = local.replace(`${name}_local ON CLUSTER ${CLUSTER}`, `cluster_check.${name}_local`).replace(/ENGINE = Replicated(\w*MergeTree)\('[^']*', '\{replica\}'(?:, )?/, 'ENGINE = $1(');
      await warehouse.client.command({ query: twin });
      const columns = (db: string, table: string) =>
        queryRows<{ name: string; type: string; default_kind: string; default_expression: string }>(
          warehouse,
          'SELECT name, type, default_kind, default_expression FROM system.columns WHERE database = {db:String} AND table = {t:String} ORDER BY name',
          { db, t: table },
        );
      const keys = (db: string, table: string) =>
        queryRows<{ engine: string; sorting_key: string; partition_key: string }>(
          warehouse,
          'SELECT engine, sorting_key, partition_key FROM system.tables WHERE database = {db:String} AND name = {t:String}',
          { db, t: table },
        );
      const singleColumns = await columns(warehouse.database, name);
      expect(singleColumns.length).toBeGreaterThan(5);
      // The random dedupe_key of a row without a messageId prints the same either way.
      expect(await columns('cluster_check', `${name}_local`)).toEqual(singleColumns);
      expect(await keys('cluster_check', `${name}_local`)).toEqual(await keys(warehouse.database, name));
    }
  });

  it('keeps every single-node migration without a cluster variant off the sharded tables', async () => {
    // A later migration that creates a MergeTree table or changes a sharded one must ship
    // migrations/cluster/NNN_same_name.sql, or a cluster would get unreplicated, unsharded DDL.
    const single = await readMigrations(DEFAULT_MIGRATIONS_DIR);
    const cluster = await readMigrations(DEFAULT_MIGRATIONS_DIR, true);
    const withoutVariant = single.filter((m, i) => cluster[i]!.checksum === m.checksum);
    for (const m of withoutVariant) {
      for (const s of m.statements) {
        expect(s, `${m.name}: a MergeTree table needs a cluster variant`).not.toMatch(/ENGINE = \w*MergeTree/);
        // A view reads the Distributed table of the same name on a cluster: only writes need a variant.
        if (/^CREATE (?:OR REPLACE )?VIEW\b/.test(s)) continue;
        for (const table of SHARDED) expect(s, `${m.name}: ${table} needs a cluster variant`).not.toMatch(new RegExp(`\\b(?:TABLE|INTO|FROM|TO)\\s+(?:IF (?:NOT )?EXISTS\\s+)?${table}\\b`));
      }
    }
    expect(cluster.filter((m, i) => m.checksum !== single[i]!.checksum).map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 20, 23, 24, 25]);
  });

  it("ships, in both compose files, a ClickHouse server and Keeper of the engine's generation: an LTS no older than the engine's last one", async () => {
    // YY.M as one comparable number: 26.7.2.1 → 2607.
    const release = (version: string) => {
      const [year = NaN, month = NaN] = version.split('.').map(Number);
      return year * 100 + month;
    };
    const rows = await queryRows<{ version: string }>(warehouse, 'SELECT version() AS version');
    const engine = rows[0]!.version;
    // ClickHouse ships an LTS each March and August (YY.3, YY.8), each supported for a year.
    const year = Math.floor(release(engine) / 100);
    const month = release(engine) % 100;
    const lastLts = month >= 8 ? year * 100 + 8 : month >= 3 ? year * 100 + 3 : (year - 1) * 100 + 8;
    for (const file of ['docker-compose.yml', 'docker-compose.cluster.yml']) {
      const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
      const images = [...text.matchAll(/image: (clickhouse\/clickhouse-(?:server|keeper):(\S+))/g)].map((m) => ({ image: m[1]!, release: release(m[2]!) }));
      expect(images.length, file).toBeGreaterThan(0);
      for (const { image, release: imageRelease } of images) {
        expect([3, 8], `${file}: ${image} is not an LTS`).toContain(imageRelease % 100);
        expect(imageRelease, `${file}: ${image} is older than the last LTS at or before the engine's ${engine}`).toBeGreaterThanOrEqual(lastLts);
      }
    }
  });
});
