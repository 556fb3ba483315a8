/**
 * Whose a device is, for privacy, against the stitching the funnels and the People page use.
 * Found 2026-12-05: a quarantined event of one user naming a device made it theirs for export
 * and erasure whenever it came first, while a stored identify gave it to another user everywhere
 * else: exporting the first handed out the second one's events.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveIds } from '../../src/privacy/identity.ts';
import type { Warehouse } from '../../src/warehouse/client.ts';
import { queryRows } from '../../src/warehouse/query.ts';
import { openTestWarehouse, type TestWarehouse } from '../helpers/engine.ts';
import { insertWorld, WORLD_START } from '../helpers/known-world.ts';

let engine: TestWarehouse | undefined;
let warehouse: Warehouse;
beforeAll(async () => {
  engine = await openTestWarehouse('privacy-identity');
  warehouse = engine.warehouse;
});
afterAll(async () => {
  await engine?.close();
});

async function quarantined(messageId: string, raw: Record<string, unknown>, at: number): Promise<void> {
  const row = {
    message_id: messageId,
    received_at: at,
    source: 'test',
    type: 'track',
    event: 'mission_cancelled',
    plan_version: '2.0.0',
    reasons: ['required'],
    violations: '[]',
    raw: JSON.stringify({ messageId, ...raw }),
  };
  await warehouse.client.exec({ query: 'INSERT INTO quarantine FORMAT JSONEachRow', values: Readable.from([JSON.stringify(row)]) });
}

describe("a device's person for privacy", () => {
  it('is the user a stored link gives it to, as in the funnels, even after an earlier quarantined event of another user; a device only a quarantined event names is that user’s', async () => {
    await quarantined('q-pia', { userId: 'pia', anonymousId: 'shared-device' }, WORLD_START);
    await quarantined('q-pia-2', { userId: 'pia', anonymousId: 'pia-own-device' }, WORLD_START);
    await insertWorld(warehouse, [
      { event: '', type: 'identify', user: 'oscar', anon: 'shared-device', at: WORLD_START + 2000 },
      { event: 'mission_list', anon: 'shared-device', at: WORLD_START + 3000 },
    ]);
    const [person] = await queryRows<{ person_id: string }>(warehouse, "SELECT person_id FROM persons WHERE id = 'shared-device'");
    expect(person?.person_id).toBe('oscar');
    expect(await resolveIds(warehouse, 'oscar')).toEqual(['oscar', 'shared-device']);
    expect(await resolveIds(warehouse, 'shared-device')).toEqual(['oscar', 'shared-device']);
    expect(await resolveIds(warehouse, 'pia')).toEqual(['pia', 'pia-own-device']);
  });
});
