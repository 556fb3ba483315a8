import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { erasePerson, type ErasureReport } from '../../src/privacy/erase.ts';
import { formatErasure } from '../../src/cli/privacy.ts';
import { exportPerson, type PersonExport } from '../../src/privacy/export.ts';
import type { QueuedJobData } from '../../src/queue/jobs.ts';
import { createRedis } from '../../src/redis/server.ts';
import { createSuppressionList } from '../../src/privacy/suppression.ts';
import { waitFor } from '../helpers/wait.ts';
import { oneNodeCluster } from '../helpers/one-node-cluster.ts';
import { post, REPO_ROOT, startStack, type Stack } from '../helpers/stack.ts';

const FIXTURE_PLAN = path.join(REPO_ROOT, 'tests/fixtures/privacy-plan');
const BIN = path.join(REPO_ROOT, 'bin/balise.js');

let stack: Stack;
/** The queue's Redis, for an erasure run in this process (queued jobs keep their rows beside them). */
let redis: Redis;
beforeAll(async () => {
  stack = await startStack({
    planDir: FIXTURE_PLAN,
    queueKeys: { name: 'privacy-erasure', prefix: '{perase}' },
    env: { BALISE_SUPPRESS_ERASED: 'true' },
  });
  redis = createRedis(stack.balise.redisTarget);
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

/** Every id of one person: three anonymous ids, a user id, and an alias (previousId) merged into it. */
const idsOf = (tag: string) => ({ user: `user-${tag}`, anon1: `anon-${tag}-1`, anon2: `anon-${tag}-2`, anon3: `anon-${tag}-3`, old: `old-${tag}` });

/**
 * One person's history. anon3 is linked to the user only by a quarantined event, so only
 * stitching through quarantine finds the page view sent under anon3 alone.
 */
function history(tag: string) {
  const id = idsOf(tag);
  const events = [
    { type: 'track', event: 'page_seen', anonymousId: id.anon1, messageId: `${tag}-01` },
    { type: 'track', event: 'page_seen', anonymousId: id.anon1, messageId: `${tag}-02` },
    { type: 'identify', anonymousId: id.anon1, userId: id.user, traits: { email: `${tag}@example.com` }, messageId: `${tag}-03` },
    { type: 'track', event: 'order_placed', anonymousId: id.anon2, userId: id.user, properties: { order_id: `o-${tag}`, amount: 10 }, messageId: `${tag}-04` },
    { type: 'track', event: 'page_seen', userId: id.old, messageId: `${tag}-05` },
    { type: 'alias', previousId: id.old, userId: id.user, messageId: `${tag}-06` },
    { type: 'track', event: 'page_seen', anonymousId: id.anon3, messageId: `${tag}-10` },
  ];
  // Missing `amount`: quarantined by the plan.
  const quarantined = [
    { type: 'track', event: 'order_placed', userId: id.user, properties: { order_id: 'q1' }, messageId: `${tag}-07` },
    { type: 'track', event: 'order_placed', anonymousId: id.anon2, properties: { order_id: 'q2' }, messageId: `${tag}-08` },
    { type: 'track', event: 'order_placed', anonymousId: id.anon3, userId: id.user, properties: { order_id: 'q3' }, messageId: `${tag}-09` },
  ];
  return { events, quarantined, eventIds: events.map((e) => e.messageId).sort(), quarantineIds: quarantined.map((e) => e.messageId).sort() };
}

/**
 * Stores a person's history through the real ingest and worker, plus what other tables hold:
 * a row in the copy migration 003 keeps (`events_before_003`) and a replay record.
 */
async function seed(tag: string) {
  const h = history(tag);
  const res = await post(stack, '/v1/batch', { batch: [...h.events, ...h.quarantined] });
  expect(res.body).toMatchObject({ accepted: h.events.length, quarantined: h.quarantined.length });
  await stack.waitForDrained();
  await stack.warehouse.client.command({
    query: `INSERT INTO events_before_003 (message_id, type, event, user_id, anonymous_id, timestamp, received_at) SELECT message_id, type, event, user_id, anonymous_id, timestamp, received_at FROM events WHERE message_id = {m:String}`,
    query_params: { m: `${tag}-01` },
  });
  await stack.warehouse.client.insert({ table: 'quarantine_replays', values: [{ message_id: `${tag}-07`, replayed_at: Date.now(), plan_version: '1.0.0' }], format: 'JSONEachRow' });
  return h;
}

/** Rows of every table and view of the database whose text contains any of these ids. */
async function traces(ids: string[]): Promise<Record<string, number>> {
  const objects = await stack.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT IN ('MaterializedView') ORDER BY name`);
  expect(objects.map((o) => o.name)).toEqual(expect.arrayContaining(['events', 'quarantine', 'identity_links', 'events_before_003', 'quarantine_replays', 'ev_order_placed']));
  const out: Record<string, number> = {};
  for (const { name } of objects) {
    const [row] = await stack.query<{ n: string }>(`SELECT count() AS n FROM ${name} WHERE multiSearchAny(formatRow('TabSeparated', *), {ids:Array(String)})`, { ids });
    const n = Number(row?.n ?? 0);
    if (n > 0) out[name] = n;
  }
  return out;
}

const allIds = (tag: string) => [...Object.values(idsOf(tag)), `${tag}@example.com`];

async function api<T>(route: string, body: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.baseUrl}${route}`, { method: 'POST', headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

const CLICKHOUSE_TABLES = ['events', 'events_before_003', 'identity_links', 'quarantine', 'quarantine_replays'];
const clickhouseCounts = (report: ErasureReport) => Object.fromEntries(CLICKHOUSE_TABLES.map((t) => [t, report.tables[t]]));

describe('a data-subject request', () => {
  it('exports exactly the rows of the person, found from any of their ids', async () => {
    const h = await seed('xpa');
    await seed('xpb'); // someone else, whose rows must not be in it
    // Asked by the alias, the export still covers every id stitched to it.
    const { status, body } = await api<PersonExport>('/api/admin/privacy/export', { id: idsOf('xpa').old });
    expect(status).toBe(200);
    expect(body.ids).toEqual(Object.values(idsOf('xpa')).sort());
    const ids = (table: string) => body.tables[table]!.map((r) => String(r.message_id)).sort();
    expect(ids('events')).toEqual(h.eventIds);
    expect(ids('quarantine')).toEqual(h.quarantineIds);
    expect(ids('events_before_003')).toEqual(['xpa-01']);
    expect(ids('quarantine_replays')).toEqual(['xpa-07']);
    expect(body.tables.identity_links!.map((r) => `${String(r.alias_id)}→${String(r.user_id)}`).sort()).toEqual([`anon-xpa-1→user-xpa`, `anon-xpa-2→user-xpa`, `old-xpa→user-xpa`].sort());
    expect(body.tables.redis_queue).toEqual([]);
    expect(JSON.stringify(body.tables)).not.toContain('xpb');
  });

  it("keeps to the person on a shared device: the device is the first user's, and another user's rows are never exported or erased with theirs", async () => {
    const batch = [
      { type: 'track', event: 'page_seen', anonymousId: 'shd-device', messageId: 'shd-1', timestamp: '2026-11-01T10:00:00Z' },
      { type: 'identify', anonymousId: 'shd-device', userId: 'shd-alice', traits: { email: 'alice@shd.example' }, messageId: 'shd-2', timestamp: '2026-11-01T10:01:00Z' },
      { type: 'identify', anonymousId: 'shd-device', userId: 'shd-bob', traits: { email: 'bob@shd.example' }, messageId: 'shd-3', timestamp: '2026-11-02T10:00:00Z' },
      { type: 'track', event: 'order_placed', userId: 'shd-bob', properties: { order_id: 'bob-only', amount: 5 }, messageId: 'shd-4', timestamp: '2026-11-02T10:01:00Z' },
      { type: 'track', event: 'order_placed', anonymousId: 'shd-device', userId: 'shd-bob', properties: { order_id: 'q-bob' }, messageId: 'shd-5', timestamp: '2026-11-02T10:02:00Z' },
    ];
    expect((await post(stack, '/v1/import', { batch })).body).toMatchObject({ accepted: 4, quarantined: 1 });
    await stack.waitForDrained();
    // Asked by the device or by Alice, the person is Alice, as funnels count her.
    for (const id of ['shd-device', 'shd-alice']) {
      const { body } = await api<PersonExport>('/api/admin/privacy/export', { id });
      expect(body.ids).toEqual(['shd-alice', 'shd-device']);
      expect(body.tables.events!.map((r) => r.message_id).sort()).toEqual(['shd-1', 'shd-2']);
      expect([body.tables.quarantine, body.tables.identity_links!.map((r) => r.user_id)]).toEqual([[], ['shd-alice']]);
      expect(JSON.stringify(body.tables)).not.toContain('bob');
    }
    expect((await api<PersonExport>('/api/admin/privacy/export', { id: 'shd-bob' })).body.ids).toEqual(['shd-bob']);

    const { status, body } = await api<ErasureReport>('/api/admin/privacy/erase', { id: 'shd-alice' });
    expect([status, body.ids]).toEqual([200, ['shd-alice', 'shd-device']]);
    const left = await stack.query<{ m: string }>(`SELECT message_id AS m FROM events FINAL WHERE startsWith(message_id, 'shd-') ORDER BY m`);
    expect(left.map((r) => r.m)).toEqual(['shd-3', 'shd-4']);
    expect(await stack.query(`SELECT message_id FROM quarantine WHERE message_id = 'shd-5'`)).toHaveLength(1);
    // Bob's later events on the device are his: suppression (on here) does not drop them.
    const later = await post(stack, '/v1/track', { event: 'page_seen', anonymousId: 'shd-device', userId: 'shd-bob', messageId: 'shd-6' });
    const anonymous = await post(stack, '/v1/track', { event: 'page_seen', anonymousId: 'shd-device', messageId: 'shd-7' });
    expect([later.body, anonymous.body]).toMatchObject([{ accepted: 1 }, { accepted: 0, suppressed: 1 }]);
  });

  it('exports a message stored twice (a resend) once, with its properties as objects and its times in ISO 8601', async () => {
    const h = await seed('xpr');
    // A client's resend after a restart (the worker's window lost): two rows until ClickHouse merges them.
    const resent = h.events[3]!;
    await stack.warehouse.client.command({
      query: `INSERT INTO events SELECT * REPLACE (received_at + INTERVAL 1 MINUTE AS received_at) FROM events WHERE message_id = {m:String}`,
      query_params: { m: resent.messageId },
    });
    await stack.waitForRows(`events WHERE message_id = '${resent.messageId}'`, 2);
    const { body } = await api<PersonExport>('/api/admin/privacy/export', { id: idsOf('xpr').user });
    expect(body.tables.events!.map((r) => String(r.message_id)).sort()).toEqual(h.eventIds);
    const order = body.tables.events!.find((r) => r.message_id === resent.messageId)!;
    expect(order.properties).toEqual({ order_id: 'o-xpr', amount: 10 });
    expect(order.received_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('erases a person with several anonymous ids, an alias and quarantined events from every table and view, through the CLI', async () => {
    const h = await seed('era');
    await seed('erb');
    const before = await traces(allIds('erb'));
    // Rows accepted but not loaded yet: the erasure takes them out of the queued job.
    await stack.balise.queue.pause();
    const late = { type: 'track', event: 'page_seen', anonymousId: idsOf('era').anon2, messageId: 'era-11' };
    const other = { type: 'track', event: 'page_seen', anonymousId: idsOf('erb').anon2, messageId: 'erb-11' };
    expect((await post(stack, '/v1/batch', { batch: [late, other] })).body).toMatchObject({ accepted: 2 });
    expect(Object.keys(await traces(allIds('era'))).length).toBeGreaterThan(4);

    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [BIN, 'privacy', 'erase', idsOf('era').anon1, '--json', '--url', stack.baseUrl],
        { env: { ...process.env, BALISE_ADMIN_TOKEN: stack.adminToken } },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      ),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ErasureReport;
    expect(report.ids).toEqual(Object.values(idsOf('era')).sort());
    expect(report.tables).toEqual({
      events: { found: h.eventIds.length, remaining: 0 },
      events_before_003: { found: 1, remaining: 0 },
      identity_links: { found: 3, remaining: 0 },
      identity_links_before_025: { found: 0, remaining: 0 },
      quarantine: { found: h.quarantineIds.length, remaining: 0 },
      quarantine_before_005: { found: 0, remaining: 0 },
      quarantine_replays: { found: 1, remaining: 0 },
      redis_queue: { found: 1, remaining: 0 },
    });

    const [job] = (await stack.balise.queue.getJobs(['waiting', 'paused'])) as Job<QueuedJobData>[];
    expect(job?.data.ids).toEqual(['erb-11']);
    await stack.balise.queue.resume();
    await stack.waitForDrained();

    expect(await traces(allIds('era'))).toEqual({});
    // Everyone else is untouched (their one new event aside).
    const after = await traces(allIds('erb'));
    expect(after).toEqual({ ...before, events: before.events! + 1, ev_page_seen: after.ev_page_seen });
    // The log says what was erased and when, without saying who.
    const [logged] = await stack.query<{ state: string; subject: string; ids: string[] }>(`SELECT state, subject, ids FROM privacy_requests FINAL WHERE request_id = {r:String}`, {
      r: report.requestId,
    });
    expect(logged?.state).toBe('done');
    expect(logged?.subject).toMatch(/^[0-9a-f]{64}$/);
    expect(logged?.ids).toHaveLength(5);
    // Nor is anything left in Redis's append-only file, which kept the commands that queued them.
    await waitFor('the append-only file rewritten', async () => /aof_rewrite_in_progress:0/.test(await redis.info('persistence')) && /aof_rewrite_scheduled:0/.test(await redis.info('persistence')));
    const aofDir = path.join(stack.dataDir, 'redis', 'appendonlydir');
    const aof = fs
      .readdirSync(aofDir)
      .map((f) => fs.readFileSync(path.join(aofDir, f), 'latin1'))
      .join('');
    expect(aof.length).toBeGreaterThan(0);
    for (const id of allIds('era')) expect(aof.includes(id), id).toBe(false);
    // And the data directory is this user's only.
    for (const dir of ['redis', 'clickhouse']) expect(fs.statSync(path.join(stack.dataDir, dir)).mode & 0o077, dir).toBe(0);
  });

  it('follows the identity links of rows still queued: a device identified a moment ago is erased too', async () => {
    await seed('eqa');
    await stack.balise.queue.pause();
    try {
      const device = 'anon-eqa-new-device';
      const batch = [
        { type: 'track', event: 'page_seen', anonymousId: device, messageId: 'eqa-20' },
        { type: 'identify', anonymousId: device, userId: idsOf('eqa').user, messageId: 'eqa-21' },
      ];
      expect((await post(stack, '/v1/batch', { batch })).body).toMatchObject({ accepted: 2 });
      const exported = await api<PersonExport>('/api/admin/privacy/export', { id: idsOf('eqa').user });
      expect(exported.body.ids).toContain(device);
      expect(exported.body.tables.redis_queue!.map((r) => r.message_id).sort()).toEqual(['eqa-20', 'eqa-21']);
      const erased = await api<ErasureReport>('/api/admin/privacy/erase', { id: idsOf('eqa').user });
      expect(erased.body.ids).toContain(device);
      expect(erased.body.tables.redis_queue).toEqual({ found: 2, remaining: 0 });
    } finally {
      await stack.balise.queue.resume();
    }
    await stack.waitForDrained();
    expect(await traces([...allIds('eqa'), 'anon-eqa-new-device'])).toEqual({});
  });

  it('finishes an erasure that died half way when asked again, with the same result as an uninterrupted one', async () => {
    const a = await seed('cra');
    await seed('crb');
    const clean = await api<ErasureReport>('/api/admin/privacy/erase', { id: idsOf('cra').user });
    expect(clean.status).toBe(200);
    expect(clean.body.tables.events).toEqual({ found: a.eventIds.length, remaining: 0 });

    // The process "dies" right after deleting from `events`: later steps never ran.
    const crash = erasePerson({ warehouse: stack.warehouse, queue: stack.balise.queue, redis }, idsOf('crb').user, {
      actor: 'test',
      onStep: (step) => {
        if (step === 'events') throw new Error('killed half way');
      },
    });
    await expect(crash).rejects.toThrow('killed half way');
    const half = await traces(allIds('crb'));
    expect(half.events).toBeUndefined();
    expect(half.identity_links).toBe(3);
    expect(half.quarantine).toBe(3);

    const rerun = await api<ErasureReport>('/api/admin/privacy/erase', { id: idsOf('crb').anon2 });
    expect(rerun.status).toBe(200);
    expect(rerun.body.resumed).toBe(true);
    expect(clickhouseCounts(rerun.body)).toEqual(clickhouseCounts(clean.body));
    expect(await traces(allIds('crb'))).toEqual({});
    expect(await traces(allIds('cra'))).toEqual({});
    // A third request for the same person finds nothing left and deletes nothing.
    const again = await api<ErasureReport>('/api/admin/privacy/erase', { id: idsOf('crb').user, dryRun: true });
    expect(again.body.ids).toEqual([idsOf('crb').user]);
    expect(Object.values(again.body.tables).every((t) => t.found === 0)).toBe(true);
  });

  it('drops later events from an erased person at ingest when suppression is on', async () => {
    await seed('spa');
    expect((await api<ErasureReport>('/api/admin/privacy/erase', { id: idsOf('spa').anon3 })).body.suppressed).toBe(true);
    const res = await post(stack, '/v1/batch', {
      batch: [
        { type: 'track', event: 'page_seen', anonymousId: idsOf('spa').anon1, messageId: 'spa-20' },
        { type: 'track', event: 'page_seen', anonymousId: 'someone-else', messageId: 'spa-21' },
        // Malformed, with the ids spelled as erasure reads them in quarantine too (snake_case).
        { type: 'track', event: 'page_seen', user_id: idsOf('spa').user, messageId: 'spa-22' },
      ],
    });
    expect(res.body).toMatchObject({ accepted: 1, quarantined: 0, suppressed: 2 });
    await stack.waitForDrained();
    expect(await traces(allIds('spa'))).toEqual({});
    expect(await stack.query(`SELECT message_id FROM events WHERE message_id IN ('spa-20', 'spa-21')`)).toEqual([{ message_id: 'spa-21' }]);
  });

  it('tells every other API process of an erasure at once, not at its next refresh', async () => {
    const notices = createRedis(stack.balise.redisTarget);
    // Its own refresh an hour away: only the notice can tell it in time.
    const other = createSuppressionList(redis, '{suppression-notice}', notices, 3_600_000);
    const erasing = createSuppressionList(redis, '{suppression-notice}');
    try {
      await waitFor('the other process listening', async () => ((await redis.pubsub('NUMSUB', '{suppression-notice}:suppressed:changed')) as [string, number])[1] > 0 || undefined);
      expect(other.has(['pete'])).toBe(false);
      await erasing.add(['pete']);
      await waitFor('the other process suppressing pete', async () => other.has(['pete']) || undefined);
    } finally {
      other.stop();
      erasing.stop();
      notices.disconnect();
      await redis.del('{suppression-notice}:suppressed');
    }
  });

  it("on a cluster, finds and exports a person's rows on every shard, and checks every replica once erased", async () => {
    const h = await seed('cla');
    await seed('clb');
    const before = await traces(allIds('clb'));
    const sent: string[] = [];
    const deps = { warehouse: oneNodeCluster(stack.warehouse, 'balise', sent), queue: stack.balise.queue, redis };
    const personTables = [...CLICKHOUSE_TABLES, 'identity_links_before_025', 'quarantine_before_005'];
    const through = (fn: string) => personTables.map((table) => `${fn}('balise', currentDatabase(), ${table})`);
    /** What each statement starting with `prefix` reads from, in the order sent. */
    const readFrom = (prefix: string) => sent.filter((q) => q.startsWith(prefix)).map((q) => /^SELECT .+? FROM (\w+\('balise', currentDatabase\(\), \w+\)|\w+)/.exec(q)?.[1]);

    // Each node holds its own shard's rows: a person's are read from one replica of every shard.
    const exported = await exportPerson(deps, idsOf('cla').old, 'test');
    expect(exported.tables.events!.map((r) => String(r.message_id)).sort()).toEqual(h.eventIds);
    expect(exported.tables.quarantine_replays!.map((r) => String(r.message_id))).toEqual(['cla-07']);
    expect(readFrom('SELECT * FROM').sort()).toEqual(through('cluster').sort());

    sent.length = 0;
    const report = await erasePerson(deps, idsOf('cla').user, { actor: 'test' });
    expect(clickhouseCounts(report)).toEqual({
      events: { found: h.eventIds.length, remaining: 0 },
      events_before_003: { found: 1, remaining: 0 },
      identity_links: { found: 3, remaining: 0 },
      quarantine: { found: h.quarantineIds.length, remaining: 0 },
      quarantine_replays: { found: 1, remaining: 0 },
    });
    // Found on every shard, then the last check counts every replica's copy.
    expect(readFrom('SELECT count() AS n FROM').sort()).toEqual([...through('cluster'), ...through('clusterAllReplicas')].sort());
    // The message ids that find a replay record come from every shard too.
    const messageIdReads = readFrom('SELECT DISTINCT message_id');
    expect(messageIdReads.length).toBeGreaterThan(0);
    expect(messageIdReads.filter((from) => !from?.startsWith("cluster('balise'"))).toEqual([]);
    const deletes = sent.filter((q) => q.startsWith('ALTER TABLE'));
    expect(deletes.length).toBeGreaterThanOrEqual(personTables.length);
    expect(deletes.filter((q) => !q.includes(' ON CLUSTER balise '))).toEqual([]);
    expect(await traces(allIds('cla'))).toEqual({});
    expect(await traces(allIds('clb'))).toEqual(before);

    // What was sent, cluster forms included, is what the engine's parser accepts.
    for (const query of new Set(sent)) expect((await stack.query<{ f: string }>('SELECT formatQuery({q:String}) AS f', { q: query }))[0]!.f, query).toBeTruthy();
  });

  it('refuses a dry run asked for any other way than "dryRun": true, and erases nothing', async () => {
    const h = await seed('dry');
    const user = idsOf('dry').user;
    for (const [route, body] of [
      ['/api/admin/privacy/erase', { id: user, dryRun: 'true' }],
      ['/api/admin/privacy/erase', { id: user, dry_run: true }],
      ['/api/admin/privacy/erase?dryRun=true', { id: user }],
    ] as const) {
      const res = await api<{ code: string; message: string }>(route, body);
      expect([route, res.status, res.body.code]).toEqual([route, 400, 'invalid_parameter']);
    }
    expect((await traces([user]))['events']).toBeGreaterThan(0);
    const dry = await api<ErasureReport>('/api/admin/privacy/erase', { id: user, dryRun: true });
    expect(dry.status).toBe(200);
    expect((await stack.countEvents('dry-')).total).toBe(h.events.length);
    // The dry run reports what the real run will: the same tables, the queue included.
    const real = await api<ErasureReport>('/api/admin/privacy/erase', { id: user });
    expect(Object.keys(dry.body.tables).sort()).toEqual(Object.keys(real.body.tables).sort());
    expect(Object.fromEntries(Object.entries(dry.body.tables).map(([t, c]) => [t, c.found]))).toEqual(Object.fromEntries(Object.entries(real.body.tables).map(([t, c]) => [t, c.found])));
    expect(dry.body.suppressed).toBe(real.body.suppressed);
    // In words, a dry run names the ids it resolved (a shared device shows up there).
    const text = formatErasure(dry.body);
    for (const id of dry.body.ids) expect(text).toContain(id);
  });

  // Found 2026-12-05: the report counted a link stored twice, not yet folded by a merge, as two.
  it('reports the rows of a Replacing table as the export reads them, a link stored twice once', async () => {
    for (const messageId of ['dup-1', 'dup-2']) {
      expect((await post(stack, '/v1/batch', { batch: [{ type: 'identify', anonymousId: 'anon-dup', userId: 'user-dup', messageId }] })).body).toMatchObject({ accepted: 1 });
      await stack.waitForDrained();
    }
    await stack.waitForRows("identity_links WHERE alias_id = 'anon-dup'", 1);
    const dry = await api<ErasureReport>('/api/admin/privacy/erase', { id: 'user-dup', dryRun: true });
    const exported = await api<PersonExport>('/api/admin/privacy/export', { id: 'user-dup' });
    expect(dry.body.tables.identity_links).toEqual({ found: exported.body.tables.identity_links!.length, remaining: exported.body.tables.identity_links!.length });
    expect(exported.body.tables.identity_links).toHaveLength(1);
  });

  it('refuses a request without an id', async () => {
    const res = await api<{ code: string }>('/api/admin/privacy/erase', { id: '' });
    expect(res).toEqual({ status: 400, body: expect.objectContaining({ code: 'invalid_parameter' }) });
    // Said for a CLI user too (found 2026-12-05: `balise privacy erase " "` answered in HTTP terms only).
    const cli = await new Promise<{ code: number | null; out: string }>((resolve) => {
      execFile(process.execPath, [BIN, 'privacy', 'erase', ' '], { env: { ...process.env, BALISE_URL: stack.baseUrl, BALISE_ADMIN_TOKEN: stack.adminToken } }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      );
    });
    expect(cli.code).not.toBe(0);
    expect(cli.out).toContain('no id: give the userId, an anonymousId or an alias of the person');
  });
});
