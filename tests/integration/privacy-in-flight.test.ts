/**
 * Erasure and export while the person's rows are being inserted: a batch the worker holds open
 * (BALISE_BATCH_MAX_WAIT_MS) keeps its jobs active, where they cannot be edited. Found 2026-12-05:
 * an erasure asked then resolved no id from them, reported "0 found", and the rows landed after
 * it was done; an export asked then had none of them.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErasureReport } from '../../src/privacy/erase.ts';
import type { PersonExport } from '../../src/privacy/export.ts';
import { waitFor } from '../helpers/wait.ts';
import { post, REPO_ROOT, startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    planDir: path.join(REPO_ROOT, 'tests/fixtures/privacy-plan'),
    queueKeys: { name: 'privacy-in-flight', prefix: '{pflight}' },
    env: { BALISE_BATCH_MAX_WAIT_MS: '3000' },
  });
});
afterAll(async () => {
  await stack?.stop();
});

async function api<T>(route: string, body: unknown): Promise<T> {
  const res = await fetch(`${stack.baseUrl}${route}`, { method: 'POST', headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

/** A device's page view, its login as `user`, and the user's own page view, sent in one batch that the worker then holds open. */
async function sendWhileHeld(tag: string): Promise<{ user: string; device: string; messageIds: string[] }> {
  const user = `user-${tag}`;
  const device = `device-${tag}`;
  const batch = [
    { type: 'track', event: 'page_seen', anonymousId: device, messageId: `${tag}-1` },
    { type: 'identify', anonymousId: device, userId: user, messageId: `${tag}-2` },
    { type: 'track', event: 'page_seen', userId: user, messageId: `${tag}-3` },
  ];
  expect((await post(stack, '/v1/batch', { batch })).body).toMatchObject({ accepted: 3 });
  await waitFor('the batch held open by the worker', async () => ((await stack.balise.queue.getJobs(['active'])).length > 0 ? true : undefined), { timeoutMs: 5_000, intervalMs: 20 });
  return { user, device, messageIds: batch.map((e) => e.messageId) };
}

const stored = async (messageIds: string[], device: string) => ({
  events: (await stack.query<{ m: string }>('SELECT message_id AS m FROM events WHERE message_id IN {ids:Array(String)}', { ids: messageIds })).length,
  links: (await stack.query<{ a: string }>('SELECT alias_id AS a FROM identity_links WHERE alias_id = {d:String}', { d: device })).length,
});

describe('a data-subject request while the person’s rows are being inserted', () => {
  it('erasure follows the links of jobs being inserted, waits for them, and leaves nothing behind', async () => {
    const { user, device, messageIds } = await sendWhileHeld('fle');
    const report = await api<ErasureReport>('/api/admin/privacy/erase', { id: user });
    expect(report.state).toBe('done');
    expect(report.ids).toEqual([device, user].sort());
    // Counted once they landed, for the record of the erasure (found 2026-12-05: "0 found" while it deleted them).
    expect([report.tables.events, report.tables.identity_links]).toEqual([
      { found: 3, remaining: 0 },
      { found: 1, remaining: 0 },
    ]);
    expect(await stored(messageIds, device)).toEqual({ events: 0, links: 0 });
    // Nothing lands later either: the jobs were done before the verification passes.
    await stack.waitForDrained();
    expect(await stored(messageIds, device)).toEqual({ events: 0, links: 0 });
  }, 60_000);

  it('export holds the rows of jobs being inserted when it was asked', async () => {
    const { user, device, messageIds } = await sendWhileHeld('flx');
    const exported = await api<PersonExport>('/api/admin/privacy/export', { id: user });
    expect(exported.ids).toEqual([device, user].sort());
    expect((exported.tables.events ?? []).map((r) => r.message_id).sort()).toEqual(messageIds);
  }, 60_000);
});
