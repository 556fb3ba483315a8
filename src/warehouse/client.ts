import path from 'node:path';
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import type { Config } from '../config/index.ts';
import { BaliseError, ConfigError } from '../errors.ts';
import { onClusterClause } from '../util/sql-quote.ts';
import { openEmbeddedSession, type EmbeddedSession } from './embedded-session.ts';
import { insertStatement, insertThroughSpool, openInsertSpool, type InsertBody, type InsertSettings } from './insert-spool.ts';
import { describeEngineOwner, readEngineOwner } from './engine-owner.ts';
import { makeDirs } from '../util/make-dirs.ts';

export type Warehouse = {
  client: ClickHouseClient;
  /**
   * Where analysts' own SQL runs. Embedded: a second engine connection on the same data, so a
   * long ad-hoc query runs beside the dashboard and the worker's inserts instead of in front of
   * them (docs/decisions/0014-analyst-sql-has-its-own-lane.md). Server: the same client.
   */
  analyst: ClickHouseClient;
  /** Reads of the API and the worker's checks; embedded: a connection of its own, so a dashboard does not wait behind inserts. */
  reads: ClickHouseClient;
  database: string;
  cluster: string | undefined;
  /** 'embedded' = in-process chDB; 'server' = HTTP to a ClickHouse server or cluster. */
  mode: 'embedded' | 'server';
  /**
   * One INSERT of already-serialised rows (see insert.ts): JSONCompactEachRow arrays in the order
   * of `columns` when given, else JSONEachRow objects.
   */
  insertJsonRows(table: string, body: InsertBody, settings: InsertSettings, columns?: readonly string[]): Promise<void>;
  /**
   * Stops the analysts' queries, running or waiting their turn, and refuses any later one, so a
   * shutdown does not wait for them (each may run to its time limit). Their requests fail with
   * QUERY_WAS_CANCELLED or `query_cancelled`. Embedded only: every query in the engine is this
   * process's; on a server the same priority may be another process's.
   */
  cancelAnalystQueries(): Promise<void>;
  close(): Promise<void>;
};

const READS_PRIORITY = '1';
const ANALYST_PRIORITY = '2';

/** The engine's own lock on its data directory (the message is on the error or its cause). */
function isLockError(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) if (/Cannot lock file|Failed to create connection/.test(e.message)) return true;
  return false;
}

/** Over HTTP the bytes are the request body; the settings travel in the statement. */
async function insertOverHttp(client: ClickHouseClient, table: string, body: InsertBody, settings: InsertSettings, columns: readonly string[] | undefined): Promise<void> {
  const result = await client.exec({ query: insertStatement(table, settings, columns), values: Readable.from(Buffer.isBuffer(body) ? [body] : body) });
  // Drain the (empty) response so the connection goes back to the pool.
  for await (const _chunk of result.stream) void _chunk;
}

/**
 * One ClickHouse code path: the same @clickhouse/client either talks HTTP to a server
 * (CLICKHOUSE_URL set) or is handed the in-process chDB connection with its data under the
 * data directory. chDB is imported lazily so server deployments never load the native engine.
 */
export async function openWarehouse(config: Pick<Config, 'clickhouse' | 'dataDir'>): Promise<Warehouse> {
  const { url, user, password, database, cluster } = config.clickhouse;
  if (url) {
    // The first contact: a server that does not answer is one line with a code, not the client's log and a stack.
    const bootstrap = createClient({ url, username: user, password, log: { level: ClickHouseLogLevel.OFF } });
    try {
      await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}${onClusterClause(cluster)}` });
    } catch (error) {
      const first = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
      // Something else answers there (a web server's error page): say what to check.
      const reason = /^\s*</.test(first) ? 'it answered with a web page, not as ClickHouse: check the port of its HTTP interface (8123 by default)' : first;
      throw new BaliseError('engine_unreachable', `ClickHouse at ${new URL(url).origin} (CLICKHOUSE_URL) could not create the database: ${reason}`);
    } finally {
      await bootstrap.close();
    }
    // On a cluster (decision 0012): an insert returns once the shards have the rows, not when
    // they are queued on the node that received it (jobs complete only after the insert); and a
    // subquery over a Distributed table (the identity graph, replayed ids) reads every shard.
    const clickhouse_settings: ClickHouseSettings = cluster ? { insert_distributed_sync: 1, distributed_product_mode: 'global' } : {};
    const client = createClient({ url, username: user, password, database, request_timeout: 60_000, clickhouse_settings });
    return {
      client,
      analyst: client,
      reads: client,
      database,
      cluster,
      mode: 'server',
      insertJsonRows: (table, body, settings, columns) => insertOverHttp(client, table, body, settings, columns),
      // A query outlives its HTTP request on a server; this process's shutdown does not wait for it.
      cancelAnalystQueries: async () => undefined,
      close: () => client.close(),
    };
  }
  const chdbPath = path.join(config.dataDir, 'clickhouse');
  // The events are personal data: readable by this user only (as .data itself when it is made here).
  try {
    makeDirs(chdbPath, 0o700);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ConfigError('BALISE_DATA_DIR', `cannot create ${chdbPath} (${code}): the data directory must be a directory this user can write`);
  }
  // chDB locks its directory: a second process gets a native stack trace. Say who holds it instead.
  const locked = () =>
    new BaliseError(
      'engine_locked',
      `the embedded ClickHouse engine in ${chdbPath} is held by ${describeEngineOwner(config.dataDir)}: in embedded mode one process owns it, so go through its API (\`balise sql\`, \`balise serve\`), stop it first, or set CLICKHOUSE_URL`,
    );
  const owner = readEngineOwner(config.dataDir);
  if (owner && owner.pid !== process.pid) throw locked();
  let session: EmbeddedSession;
  let analystSession: EmbeddedSession;
  let readsSession: EmbeddedSession;
  let analystsCancelled = false;
  try {
    session = await openEmbeddedSession(chdbPath);
    // Connections on one path share the engine and its data but run their queries in parallel.
    // Once the analysts' queries are cancelled (a shutdown), those still waiting their turn are refused too.
    analystSession = await openEmbeddedSession(chdbPath, {
      admit: () => {
        if (analystsCancelled) throw new BaliseError('query_cancelled', 'the query was cancelled before it ran (the server is stopping); run it again');
      },
    });
    readsSession = await openEmbeddedSession(chdbPath);
  } catch (error) {
    if (isLockError(error)) throw locked();
    throw error;
  }
  // Only once the engine is ours: another process's inserts may be reading theirs until then.
  const spool = openInsertSpool(config.dataDir);
  const client = createClient({ connection: session.connection });
  // The engine pauses a query while one of a higher priority runs (`priority`: 1 first, 0 none).
  // The API's reads (the dashboard's panels, funnels, the worker's id checks) go before analysts'
  // ad-hoc SQL, which otherwise takes both cores from a product manager's panel for as long as
  // it runs. Inserts have none: they never wait for, nor pause, anything (decision 0048).
  const analyst = createClient({ connection: analystSession.connection, clickhouse_settings: { priority: ANALYST_PRIORITY } });
  const reads = createClient({ connection: readsSession.connection, clickhouse_settings: { priority: READS_PRIORITY } });
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  // The chDB connection ignores the client's `database` option; each connection keeps a current
  // database instead, so unqualified table names resolve the same way as on a server.
  await client.command({ query: `USE ${database}` });
  await analyst.command({ query: `USE ${database}` });
  await reads.command({ query: `USE ${database}` });
  return {
    client,
    analyst,
    reads,
    database,
    cluster: undefined,
    mode: 'embedded',
    insertJsonRows: (table, body, settings, columns) => insertThroughSpool(spool, (query) => client.command({ query }), `${database}.${table}`, body, settings, columns),
    // Through `reads`: the insert connection may be busy, the analyst's is the one to stop.
    // ASYNC: the engine cancels at its next block; the queries' own callers see them end.
    cancelAnalystQueries: async () => {
      // Once is enough: the lane refuses every later query (`up` asks before its children stop, then again in its own stop).
      if (analystsCancelled) return;
      analystsCancelled = true;
      await reads.command({ query: `KILL QUERY WHERE Settings['priority'] = '${ANALYST_PRIORITY}' ASYNC` });
    },
    close: async () => {
      // First: closing a connection waits for its running query (an analyst's may last minutes),
      // and a shutdown gives up on that wait. An insert already reading its file keeps it open;
      // one not yet started fails, and its jobs stay queued for the next start.
      spool.close();
      await reads.close();
      await analyst.close();
      await client.close();
    },
  };
}
