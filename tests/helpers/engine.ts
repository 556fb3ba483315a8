/** An embedded engine of its own for a test file: a temporary data directory, migrated. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openWarehouse, type Warehouse } from '../../src/warehouse/client.ts';
import { migrate } from '../../src/warehouse/migrations.ts';

export interface TestWarehouse {
  warehouse: Warehouse;
  close(): Promise<void>;
}

export async function openTestWarehouse(name: string): Promise<TestWarehouse> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `balise-${name}-`));
  const warehouse = await openWarehouse({ clickhouse: { url: undefined, user: 'default', password: '', database: `balise_${name.replaceAll('-', '_')}_test`, cluster: undefined }, dataDir });
  await migrate(warehouse);
  return {
    warehouse,
    close: async () => {
      await warehouse.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Empties what the analytics read, so each test starts from its own rows. */
export async function clearEvents(warehouse: Warehouse): Promise<void> {
  await warehouse.client.command({ query: 'TRUNCATE TABLE events' });
  await warehouse.client.command({ query: 'TRUNCATE TABLE identity_links' });
}
