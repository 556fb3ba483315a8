/**
 * Integration: the SDK against a real Balise (redis-server, embedded ClickHouse, API + worker):
 * Node events land in ClickHouse, and the browser scenarios deliver exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../tests/helpers/stack.ts';
import { createBalise } from '../src/node.ts';
import { runBrowserScenarios } from './browser-scenarios.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

/** Rows per messageId in the warehouse, valid or quarantined (a kept event is an arrived event). */
const countArrived = async () => {
  const rows = await stack.query<{ id: string; n: string }>(`SELECT id, count() AS n FROM (SELECT message_id AS id FROM events FINAL UNION ALL SELECT message_id AS id FROM quarantine) GROUP BY id`);
  return new Map(rows.map((r) => [r.id, Number(r.n)]));
};

describe('SDK against a running Balise', () => {
  it('Node: tracked events land in ClickHouse with the library and plan version', async () => {
    const ids: string[] = [];
    const errors: string[] = [];
    const sdk = createBalise({
      writeKey: stack.writeKey,
      host: stack.baseUrl,
      planVersion: '2.0.0',
      flushOnExit: false,
      devValidator: (e) => ids.push(e.messageId),
      onError: (e) => errors.push(e.message),
    });
    for (let i = 0; i < 25; i++) sdk.track('sdk_integration_ping', { i }, { userId: `u${i % 3}` });
    sdk.identify('u1', { email: 'u1@example.com' });
    await sdk.close();
    expect(errors).toEqual([]);
    expect(sdk.stats()).toMatchObject({ sent: 26, rejected: 0 });
    let seen = new Map<string, number>();
    for (let t = 0; t < 100 && !ids.every((id) => seen.has(id)); t++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await countArrived();
    }
    expect(ids.filter((id) => seen.get(id) !== 1)).toEqual([]);
    // The identify (last id) is never quarantined: it is in `events` with the SDK's stamps.
    const rows = await stack.query<{ library_name: string; library_version: string; plan_version: string }>(
      `SELECT library_name, library_version, plan_version FROM events WHERE message_id = {id:String}`,
      { id: ids.at(-1) },
    );
    expect(rows).toEqual([{ library_name: 'balise-sdk', library_version: '0.1.0', plan_version: '2.0.0' }]);
  });

  it('browser: closed page and offline→online scenarios deliver each event once', async () => {
    await runBrowserScenarios(stack.baseUrl, stack.writeKey, countArrived);
  });
});
