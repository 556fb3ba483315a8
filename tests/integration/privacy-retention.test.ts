import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStatements } from '../../src/privacy/erase.ts';
import { personTables } from '../../src/privacy/tables.ts';
import { applyRetention, retentionState, ttlExpression } from '../../src/warehouse/retention.ts';
import { oneNodeCluster } from '../helpers/one-node-cluster.ts';
import { REPO_ROOT, startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    planDir: path.join(REPO_ROOT, 'tests/fixtures/privacy-plan'),
    queueKeys: { name: 'privacy-retention', prefix: '{pret}' },
    env: { BALISE_RETENTION_DAYS: 'events:30,quarantine:7' },
  });
});
afterAll(async () => {
  await stack?.stop();
});

const showCreate = async (table: string) => (await stack.query<{ statement: string }>(`SHOW CREATE TABLE ${table}`))[0]!.statement;

describe('retention periods', () => {
  it('are set at start-up as TTLs visible in the schema, and shown in data health', async () => {
    expect(await showCreate('events')).toContain('TTL toDateTime(timestamp) + toIntervalDay(30)');
    expect(await showCreate('quarantine')).toContain('TTL toDateTime(received_at) + toIntervalDay(7)');
    expect(await showCreate('identity_links')).not.toContain('TTL');
    const res = await fetch(`${stack.baseUrl}/api/health/pipeline`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    const body = (await res.json()) as { retention: { table: string; days: number | null; ttl: string }[] };
    expect(body.retention).toContainEqual({ table: 'events', days: 30, ttl: 'toDateTime(timestamp) + toIntervalDay(30)' });
    expect(body.retention).toContainEqual({ table: 'identity_links', days: null, ttl: '' });
  });

  it('change only when the period changes, and leave a migration-written TTL alone', async () => {
    const again = await applyRetention(
      stack.warehouse,
      new Map([
        ['events', 30],
        ['quarantine', 7],
      ]),
    );
    expect(again.every((c) => c.action === 'unchanged')).toBe(true);
    const changed = await applyRetention(stack.warehouse, new Map([['events', 60]]));
    expect(changed.filter((c) => c.action !== 'unchanged')).toEqual([
      { table: 'events', action: 'set' },
      { table: 'quarantine', action: 'removed' },
    ]);
    expect(await showCreate('events')).toContain('TTL toDateTime(timestamp) + toIntervalDay(60)');
    expect(await showCreate('quarantine')).not.toContain('TTL');
    // health_probe's own one-day TTL (migration 004) is not a retention setting.
    expect(await showCreate('health_probe')).toContain('TTL');
    await applyRetention(
      stack.warehouse,
      new Map([
        ['events', 30],
        ['quarantine', 7],
      ]),
    );
  });

  it('expire rows older than the period', async () => {
    const old = Date.now() - 90 * 86_400_000;
    const rows = ['old', 'new'].map((tag, i) => ({
      message_id: `ret-${tag}`,
      type: 'track',
      event: 'page_seen',
      user_id: 'u-ret',
      anonymous_id: '',
      group_id: '',
      previous_id: '',
      timestamp: i === 0 ? old : Date.now(),
      sent_at: null,
      received_at: Date.now(),
      properties: '{}',
      traits: '{}',
      context: '{}',
      source: 'test',
      library_name: '',
      library_version: '',
      plan_version: '1.0.0',
      plan_status: 'valid',
      violations: '',
    }));
    await stack.warehouse.client.insert({ table: 'events', values: rows, format: 'JSONEachRow' });
    await stack.warehouse.client.command({ query: 'OPTIMIZE TABLE events FINAL' });
    expect(await stack.query(`SELECT message_id FROM events WHERE user_id = 'u-ret' ORDER BY message_id`)).toEqual([{ message_id: 'ret-new' }]);
  });

  it('and erasure use statements the engine parses ON CLUSTER (no ClickHouse cluster runs here)', async () => {
    const formatted = async (query: string) => (await stack.query<{ q: string }>('SELECT formatQuery({q:String}) AS q', { q: query }))[0]!.q;
    const events = (await personTables(stack.warehouse)).find((t) => t.table === 'events')!;
    const [erase] = deleteStatements(events, ['user-1', 'anon-1'], 'balise_cluster');
    expect(await formatted(erase!)).toMatch(/^ALTER TABLE events ON CLUSTER balise_cluster\s+\(DELETE WHERE/);
    expect(await formatted(`ALTER TABLE events ON CLUSTER balise_cluster MODIFY TTL ${ttlExpression('timestamp', 30)}`)).toContain('MODIFY TTL toDateTime(timestamp) + toIntervalDay(30)');
  });

  it('on a cluster, go on the local tables that hold the rows, not on the Distributed tables over them', async () => {
    // The cluster migrations' layout, as far as retention sees it: `quarantine_replays_local`
    // holds the rows, `quarantine_replays` stands for the Distributed table of the usual name.
    await stack.warehouse.client.command({ query: 'CREATE TABLE quarantine_replays_local AS quarantine_replays' });
    try {
      const sent: string[] = [];
      const cluster = oneNodeCluster(stack.warehouse, 'balise', sent);
      const days = new Map([
        ['events', 30],
        ['quarantine', 7],
        ['quarantine_replays', 9],
      ]);
      expect((await applyRetention(cluster, days)).find((c) => c.table === 'quarantine_replays')).toEqual({ table: 'quarantine_replays', action: 'set' });
      expect(sent).toEqual([expect.stringContaining('FROM system.tables'), `ALTER TABLE quarantine_replays_local ON CLUSTER balise MODIFY TTL ${ttlExpression('replayed_at', 9)}`]);
      expect(await showCreate('quarantine_replays_local')).toContain(`TTL ${ttlExpression('replayed_at', 9)}`);
      expect(await showCreate('quarantine_replays')).not.toContain('TTL');
      // Data health shows the TTL the rows really have; a second start changes nothing.
      expect((await retentionState(cluster, days)).find((s) => s.table === 'quarantine_replays')).toEqual({ table: 'quarantine_replays', days: 9, ttl: ttlExpression('replayed_at', 9) });
      expect((await applyRetention(cluster, days)).every((c) => c.action === 'unchanged')).toBe(true);
    } finally {
      await stack.warehouse.client.command({ query: 'DROP TABLE IF EXISTS quarantine_replays_local' });
    }
  });
});
