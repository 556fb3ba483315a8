import fs from 'node:fs';
import path from 'node:path';
import { Backoffs, type MinimalJob } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseRetention, parseWriteKeys } from '../../src/config/index.ts';
import { resolvePiiKey } from '../../src/config/secrets.ts';
import { ConfigError } from '../../src/errors.ts';
import { runCli } from '../helpers/process.ts';

describe('loadConfig', () => {
  it('has documented defaults', () => {
    const config = loadConfig({}, '/srv/balise');
    expect(config.port).toBe(3000);
    expect(config.dataDir).toBe('/srv/balise/.data');
    expect(config.planDir).toBe('/srv/balise/tracking-plan');
    expect(config.redisUrl).toBeUndefined();
    expect(config.clickhouse).toEqual({ url: undefined, user: 'default', password: '', database: 'balise', cluster: undefined });
    expect(config.ingest).toEqual({
      maxRequestBytes: 512_000,
      maxEventBytes: 32_768,
      maxBatchEvents: 2500,
      maxQueueDepth: 20_000,
      maxRequestsInFlight: 256,
      maxBytesInFlight: 32 * 1024 * 1024,
      maxEventLoopDelayMs: 100,
      bodyTimeoutMs: 10_000,
      headersTimeoutMs: 10_000,
      maxRequestWaitMs: 2000,
    });
    expect(config.worker.batchMaxRows).toBe(20_000);
    expect(config.worker.batchMaxWaitMs).toBe(1000);
    expect(config.worker.metricsPort).toBeUndefined();
    expect(loadConfig({ BALISE_WORKER_METRICS_PORT: '9464' }).worker.metricsPort).toBe(9464);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT: expected an integer, got "eighty"'],
    [{ PORT: '70000' }, 'PORT: must be between 0 and 65535, got 70000'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL: expected a redis: or rediss: URL, got "localhost:"'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL: not a URL: "not a url"'],
    [{ CLICKHOUSE_URL: 'tcp://ch:9000' }, 'CLICKHOUSE_URL: expected a http: or https: URL, got "tcp:"'],
    [{ CLICKHOUSE_DATABASE: 'drop table;' }, 'CLICKHOUSE_DATABASE: not a valid identifier: "drop table;"'],
    [{ BALISE_ADMIN_TOKEN: 'short' }, 'BALISE_ADMIN_TOKEN: must be at least 16 characters'],
    [{ BALISE_WRITE_KEYS: 'web' }, 'BALISE_WRITE_KEYS: expected "source:key" pairs, got "web"'],
    [{ BALISE_WRITE_KEYS: 'web:abc' }, 'BALISE_WRITE_KEYS: key for source "web" is shorter than 8 characters'],
    [{ BALISE_WRITE_KEYS: 'web:abcdefgh,web:ijklmnop' }, 'BALISE_WRITE_KEYS: source "web" is listed twice'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ CLICKHOUSE_CLUSTER: 'c1' }, 'CLICKHOUSE_CLUSTER: is "c1" but CLICKHOUSE_URL is not set: a cluster needs ClickHouse servers (the embedded engine is one node)'],
    [{ BALISE_BATCH_MAX_ROWS: '0' }, 'BALISE_BATCH_MAX_ROWS: must be between 1 and 10000000, got 0'],
    [{ BALISE_WORKER_METRICS_PORT: 'metrics' }, 'BALISE_WORKER_METRICS_PORT: expected an integer, got "metrics"'],
  ])('stops on %j with one clear line', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('parses write keys per source', () => {
    expect([...parseWriteKeys(' web:key-for-web , backend:key-for-backend ')]).toEqual([
      ['web', 'key-for-web'],
      ['backend', 'key-for-backend'],
    ]);
  });
});

describe('BALISE_RETENTION_DAYS', () => {
  it('reads table:days pairs', () => {
    expect(parseRetention('events:395, quarantine:90')).toEqual(
      new Map([
        ['events', 395],
        ['quarantine', 90],
      ]),
    );
    expect(parseRetention(undefined)).toEqual(new Map());
  });
  it.each(['events', 'events:0', 'users:30', 'events:30,events:40', 'events:-3'])('refuses %j with one line naming the variable', (raw) => {
    expect(() => parseRetention(raw)).toThrow(/BALISE_RETENTION_DAYS/);
  });
  it.each(['events:90,identity_links:30', 'identity_links:30'])('refuses %j: the identity graph must outlive the events it stitches', (raw) => {
    expect(() => parseRetention(raw)).toThrow(/identity_links \(30 days\) must be kept at least as long as events/);
  });
  it('accepts identity links kept as long as the events, or longer', () => {
    expect([...parseRetention('events:90,identity_links:90').values()]).toEqual([90, 90]);
    expect([...parseRetention('events:90,identity_links:730').values()]).toEqual([90, 730]);
  });
});

describe('the README on insert retries', () => {
  it("states the ClickHouse outage the default attempts ride out, as BullMQ's exponential backoff waits", async () => {
    const { attempts, backoffMs } = loadConfig({}).worker;
    let total = 0;
    // A job waits after each failed attempt but the last: attempts − 1 waits.
    for (let made = 1; made < attempts; made++) total += (await Backoffs.calculate({ type: 'exponential', delay: backoffMs }, made, new Error('down'), {} as MinimalJob)) ?? 0;
    expect(total).toBeGreaterThan(0);
    const readme = fs.readFileSync(path.join(import.meta.dirname, '../../README.md'), 'utf8');
    const row = readme.split('\n').find((line) => line.startsWith('| `BALISE_INSERT_ATTEMPTS`'));
    expect(row).toContain(`| ${attempts}, ${backoffMs} |`);
    expect(Number(/~(\d+) min/.exec(row ?? '')?.[1])).toBe(Math.round(total / 60_000));
  });
});

describe('the data directory', () => {
  it('that cannot be written stops start-up with one line naming BALISE_DATA_DIR, not a stack', () => {
    // /dev/null is a file: nothing can be made under it, whoever runs the test.
    const config = { piiKey: undefined, dataDir: '/dev/null/balise-data' };
    expect(() => resolvePiiKey(config)).toThrow(ConfigError);
    expect(() => resolvePiiKey(config)).toThrow('BALISE_DATA_DIR: cannot write /dev/null/balise-data/pii-key (ENOTDIR): the data directory must be a directory this user can write');
  });

  it('that cannot be written stops `balise migrate` with the same one line (the embedded engine is made there first)', async () => {
    const run = await runCli(['migrate'], { BALISE_DATA_DIR: '/dev/null/balise-data' });
    expect([run.code, run.output.trim()]).toEqual([
      1,
      'balise: BALISE_DATA_DIR: cannot create /dev/null/balise-data/clickhouse (ENOTDIR): the data directory must be a directory this user can write [config_invalid]',
    ]);
  });

  it('under /proc, where no directory can be made, stops with that line instead of hanging (Node 20 loops in a recursive mkdir there)', { timeout: 70_000 }, async () => {
    const run = await runCli(['migrate'], { BALISE_DATA_DIR: '/proc/balise-data' });
    expect([run.code, run.output.trim()]).toEqual([
      1,
      'balise: BALISE_DATA_DIR: cannot create /proc/balise-data/clickhouse (ENOENT): the data directory must be a directory this user can write [config_invalid]',
    ]);
  });
});
