/**
 * The identity graph keeps each link's earliest time through merges (migration 025), so a
 * person does not change when ClickHouse merges parts. Found 2026-12-05: `identity_links` kept
 * the last row of a link, and an anonymous id identified as u1, then u2, then u1 again was
 * stitched to u2 once a merge ran. Checked here on an install migrated up to 024 (the state
 * users have), then upgraded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarehouse, type Warehouse } from '../../src/warehouse/client.ts';
import { DEFAULT_MIGRATIONS_DIR, migrate } from '../../src/warehouse/migrations.ts';
import { queryRows } from '../../src/warehouse/query.ts';
import { DAY, insertWorld, WORLD_START } from '../helpers/known-world.ts';
import { tempDir } from '../helpers/stack.ts';

let warehouse: Warehouse;

/** The migrations an install had before 025: the same files, the later ones left out. */
function migrationsBefore(version: number): string {
  const dir = tempDir('balise-migrations-');
  fs.cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  for (const sub of [dir, path.join(dir, 'cluster')]) {
    for (const file of fs.readdirSync(sub)) if (/^\d+_/.test(file) && Number(file.split('_')[0]) >= version) fs.rmSync(path.join(sub, file));
  }
  return dir;
}

const personOf = async (id: string) => (await queryRows<{ person_id: string }>(warehouse, 'SELECT person_id FROM persons WHERE id = {id:String}', { id }))[0]?.person_id;
const identify = (user: string, anon: string, at: number) => insertWorld(warehouse, [{ event: '', type: 'identify', user, anon, at }]);
const merge = () => warehouse.client.command({ query: 'OPTIMIZE TABLE identity_links FINAL' });

beforeAll(async () => {
  warehouse = await openWarehouse({ clickhouse: { url: undefined, user: 'default', password: '', database: 'identity_stability', cluster: undefined }, dataDir: tempDir('balise-identity-') });
  await migrate(warehouse, migrationsBefore(25));
});

afterAll(async () => {
  await warehouse?.close();
});

describe("a device's person through merges", () => {
  it('stays its earliest link: after the upgrade rebuilt the graph from events, and through later merges', async () => {
    // One device: u1 signs in, then u2, then u1 again, each in an insert of its own.
    await identify('u1', 'device-1', WORLD_START);
    await identify('u2', 'device-1', WORLD_START + DAY);
    await identify('u1', 'device-1', WORLD_START + 2 * DAY);
    expect(await personOf('device-1')).toBe('u1');
    await merge();
    // Before 025, the merge kept u1's later link and the device moved to u2.
    expect(await personOf('device-1')).toBe('u2');

    await migrate(warehouse);
    expect(await personOf('device-1')).toBe('u1');
    const kept = await queryRows<{ name: string }>(warehouse, "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'identity_links%' ORDER BY name");
    expect(kept.map((t) => t.name)).toEqual(['identity_links', 'identity_links_before_025', 'identity_links_from_events']);

    // New links go through the re-created view; merges keep the earliest row of each.
    await identify('u2', 'device-1', WORLD_START + 3 * DAY);
    await identify('u1', 'device-1', WORLD_START + 4 * DAY);
    await identify('u3', 'device-2', WORLD_START + 4 * DAY);
    await merge();
    expect(await personOf('device-1')).toBe('u1');
    expect(await personOf('device-2')).toBe('u3');
    const links = await queryRows<{ user_id: string; first_seen: string }>(
      warehouse,
      "SELECT user_id, toString(first_seen) AS first_seen FROM identity_links FINAL WHERE alias_id = 'device-1' ORDER BY user_id",
    );
    expect(links).toEqual([
      { user_id: 'u1', first_seen: '2025-03-03 00:00:00.000' },
      { user_id: 'u2', first_seen: '2025-03-04 00:00:00.000' },
    ]);
  });
});
