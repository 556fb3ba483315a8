import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURE_PLAN, requireMissionIdOnBookmarks } from '../helpers/plans.ts';
import { freePort, runCli, sqlViaApi, startBaliseProcess, TEST_ADMIN_TOKEN, TEST_WRITE_AUTH, TEST_WRITE_KEY, type BaliseProcess } from '../helpers/process.ts';
import { expectExactlyOnce } from '../helpers/exactly-once.ts';
import { tempDir } from '../helpers/stack.ts';

const running: BaliseProcess[] = [];
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGTERM');
  await Promise.all(running.map((p) => p.exited));
});

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

async function post(baseUrl: string, batch: object[]): Promise<Response> {
  return fetch(`${baseUrl}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: TEST_WRITE_AUTH }, body: JSON.stringify({ batch }) });
}

async function sendBatch(baseUrl: string, ids: string[]): Promise<number> {
  const res = await post(
    baseUrl,
    ids.map((messageId) => ({ type: 'track', event: 'split_test', userId: 'u1', messageId })),
  );
  await res.arrayBuffer();
  return res.status;
}

describe('split mode with the embedded engine', () => {
  it('`serve` replicas share the Redis of `balise up`, ingest through it and read through it; the CLI says the engine is held', { timeout: 180_000 }, async () => {
    const dataDir = tempDir();
    const owner = await startBaliseProcess('up', dataDir, await freePort());
    running.push(owner);
    const replica = await startBaliseProcess('serve', dataDir, await freePort());
    running.push(replica);

    // Ingest on the replica: queued in the shared Redis, loaded by the owner's worker.
    const ids = Array.from({ length: 40 }, (_, i) => `split-0-${i}`);
    expect(await sendBatch(replica.baseUrl, ids)).toBe(200);
    // Read on the replica: the owner's engine answers (not an empty engine of the replica's own).
    await expectExactlyOnce(replica.baseUrl, 'split', new Set(ids));
    const count = `SELECT count() FROM events WHERE event = 'split_test'`;
    expect(await sqlViaApi(replica.baseUrl, count)).toEqual(await sqlViaApi(owner.baseUrl, count));
    expect((await fetch(`${replica.baseUrl}/api/kpis`, { headers: admin })).status).toBe(200);
    expect((await fetch(`${replica.baseUrl}/api/kpis`)).status).toBe(401);
    // A forwarded read is counted once, by the owner that answered it under its route: summed over
    // processes (a Grafana panel), the replica's hop would count it twice. Never "unmatched".
    const scrape = await (await fetch(`${replica.baseUrl}/metrics`)).text();
    expect(scrape).not.toMatch(/http_request_duration_seconds_count\{[^}]*route="\/api\/\* \(to the engine owner\)"[^}]*status_code="200"/);
    expect(scrape).not.toContain('route="unmatched"');
    const ownerScrape = await (await fetch(`${owner.baseUrl}/metrics`)).text();
    expect(ownerScrape).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/api\/kpis"[^}]*status_code="200"[^}]*\} [1-9]/);

    // A command that needs the engine itself says in one line who holds it.
    const migrate = await runCli(['migrate'], { BALISE_DATA_DIR: dataDir });
    expect(migrate.code).not.toBe(0);
    expect(migrate.output).toContain('[engine_locked]');
    expect(migrate.output).toContain(`Balise process ${owner.child.pid}`);
    expect(migrate.output).not.toContain('ChdbConnectionError');

    // The owner gone: reads answer 503 with a code, never an empty result.
    owner.child.kill('SIGTERM');
    expect(await owner.exited).toBe(0);
    const orphaned = await fetch(`${replica.baseUrl}/api/kpis`, { headers: admin });
    expect(orphaned.status).toBe(503);
    expect(((await orphaned.json()) as { code: string }).code).toBe('engine_unavailable');
    replica.child.kill('SIGTERM');
    expect(await replica.exited).toBe(0);
  });

  // Decision 0047: before it, a replica started by hand kept judging by the plan it started with.
  it('a plan reload on `up` reaches a `serve` replica started by hand: it judges by the new plan at once, and the reload says who followed', { timeout: 180_000 }, async () => {
    const dataDir = tempDir();
    const planDir = path.join(tempDir('balise-split-plan-'), 'plan');
    await fs.cp(FIXTURE_PLAN, planDir, { recursive: true });
    const env = { BALISE_PLAN_DIR: planDir };
    const owner = await startBaliseProcess('up', dataDir, await freePort(), env);
    running.push(owner);
    const replica = await startBaliseProcess('serve', dataDir, await freePort(), env);
    running.push(replica);
    const bookmarked = (messageId: string) => [{ type: 'track', event: 'mission_bookmarked', userId: 'u1', messageId, properties: {} }];

    // Unknown to the plan, an event without properties is accepted.
    expect(await (await post(replica.baseUrl, bookmarked('split-plan-0'))).json()).toMatchObject({ accepted: 1, quarantined: 0 });
    await requireMissionIdOnBookmarks(planDir);

    const reload = await fetch(`${owner.baseUrl}/api/admin/plan/reload`, { method: 'POST', headers: admin });
    expect(reload.status).toBe(200);
    const { planVersion, replicas } = (await reload.json()) as {
      planVersion: string;
      replicas: { asked: number; reloaded: { process: string; planVersion: string }[]; failed: unknown[]; unanswered: number };
    };
    expect(planVersion).toBe('2.1.0');
    // Every other API process of this Redis: up's API child and the replica.
    expect(replicas.reloaded.map((r) => r.planVersion)).toEqual(['2.1.0', '2.1.0']);
    expect(replicas.reloaded.map((r) => Number(r.process.split(':').pop()))).toContain(replica.child.pid);
    expect(replicas).toMatchObject({ asked: 2, failed: [], unanswered: 0 });

    // The replica now requires the new property.
    expect(await (await post(replica.baseUrl, bookmarked('split-plan-1'))).json()).toMatchObject({ accepted: 0, quarantined: 1 });

    // A replica whose plan files were not updated: the plan owner's command says so and fails.
    const oldPlanDir = path.join(tempDir('balise-split-old-plan-'), 'plan');
    await fs.cp(FIXTURE_PLAN, oldPlanDir, { recursive: true });
    const stale = await startBaliseProcess('serve', dataDir, await freePort(), { BALISE_PLAN_DIR: oldPlanDir });
    running.push(stale);
    const apply = await runCli(['plan', 'views', '--apply'], { BALISE_DATA_DIR: dataDir, BALISE_PLAN_DIR: planDir, BALISE_ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    expect(apply.output).toMatch(/^the running Balise \(http:.*\) reloaded plan 2\.1\.0 /);
    expect(apply.output).toContain(`2 of 3 other API processes reloaded plan 2.1.0; ${os.hostname()}:${stale.child.pid} reloaded plan 2.0.0 (its plan files differ)`);
    expect(apply.output).toContain('[plan_replicas_behind]');
    expect(apply.code).toBe(1);

    for (const p of [stale, replica, owner]) p.child.kill('SIGTERM');
    for (const p of [stale, replica, owner]) expect(await p.exited).toBe(0);
  });

  it('`serve` alone on an embedded data directory refuses to start, in one line', { timeout: 60_000 }, async () => {
    const { code, output } = await runCli(['serve'], { BALISE_DATA_DIR: tempDir(), PORT: String(await freePort()), BALISE_WRITE_KEYS: `test:${TEST_WRITE_KEY}`, BALISE_ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    expect(code).not.toBe(0);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toContain('[redis_owner_missing]');
  });
});
