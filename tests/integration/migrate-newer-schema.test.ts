/**
 * A database a newer Balise migrated (a rollback, a mixed deploy): the older code's migrate says
 * so, instead of "up to date".
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openWarehouse, type Warehouse } from '../../src/warehouse/client.ts';
import { DEFAULT_MIGRATIONS_DIR, migrate, newerSchemaWarning } from '../../src/warehouse/migrations.ts';
import { tempDir } from '../helpers/stack.ts';

let warehouse: Warehouse | undefined;
afterAll(async () => {
  await warehouse?.close();
});

describe('migrate on a schema a newer Balise applied', () => {
  it('names the migrations it does not know, and warns', async () => {
    warehouse = await openWarehouse({ clickhouse: { url: undefined, user: 'default', password: '', database: 'newer_schema', cluster: undefined }, dataDir: tempDir('balise-newer-') });
    const newer = tempDir('balise-migrations-');
    fs.cpSync(DEFAULT_MIGRATIONS_DIR, newer, { recursive: true });
    fs.writeFileSync(path.join(newer, '999_from_the_future.sql'), 'CREATE TABLE IF NOT EXISTS future_table (x UInt8) ENGINE = MergeTree ORDER BY x;\n');
    expect((await migrate(warehouse, newer)).applied).toContain('999_from_the_future.sql');

    const older = await migrate(warehouse);
    expect([older.applied, older.unknown]).toEqual([[], ['999_from_the_future.sql']]);
    expect(newerSchemaWarning(older)).toMatch(/^the database has 1 migration\(s\) this Balise does not know \(999_from_the_future\.sql\): a newer Balise applied them/);
    expect(newerSchemaWarning(await migrate(warehouse, newer))).toBeUndefined();
  });
});
