import fs from 'node:fs';
import path from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Config } from '../config/index.ts';
import { withCleanSessionAfterErrors, type ClientConnection } from './embedded-session.ts';

export type Warehouse = {
  client: ClickHouseClient;
  database: string;
  cluster: string | undefined;
  /** 'embedded' = in-process chDB; 'server' = HTTP to a ClickHouse server or cluster. */
  mode: 'embedded' | 'server';
  close(): Promise<void>;
};

/**
 * One ClickHouse code path: the same @clickhouse/client either talks HTTP to a server
 * (CLICKHOUSE_URL set) or is handed the in-process chDB connection with its data under the
 * data directory. chDB is imported lazily so server deployments never load the native engine.
 */
export async function openWarehouse(config: Pick<Config, 'clickhouse' | 'dataDir'>): Promise<Warehouse> {
  const { url, user, password, database, cluster } = config.clickhouse;
  if (url) {
    const bootstrap = createClient({ url, username: user, password });
    await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}${cluster ? ` ON CLUSTER ${cluster}` : ''}` });
    await bootstrap.close();
    const client = createClient({ url, username: user, password, database, request_timeout: 60_000 });
    return { client, database, cluster, mode: 'server', close: () => client.close() };
  }
  const chdbPath = path.join(config.dataDir, 'clickhouse');
  fs.mkdirSync(chdbPath, { recursive: true });
  const { createChdbConnection } = await import('chdb/connection');
  // chdb implements the same Connection contract but against its own copy of
  // @clickhouse/client-common, so the two nominal types differ only by package path.
  const connection = withCleanSessionAfterErrors(createChdbConnection({ path: chdbPath }) as unknown as ClientConnection);
  const client = createClient({ connection });
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  // The chDB connection ignores the client's `database` option; its session keeps a current
  // database instead, so unqualified table names resolve the same way as on a server.
  await client.command({ query: `USE ${database}` });
  return { client, database, cluster: undefined, mode: 'embedded', close: () => client.close() };
}
