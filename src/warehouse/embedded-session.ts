import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { createClient } from '@clickhouse/client';
import { BaliseError } from '../errors.ts';
import { quoteString } from '../util/sql-quote.ts';

/** The connection contract that `createClient({ connection })` accepts. */
export type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;

/** Numeric engine settings for one insert. */
export type InsertSettings = Record<string, number>;

export interface EmbeddedSession {
  /** For `createClient({ connection })`. */
  connection: ClientConnection;
  /**
   * One INSERT of JSON rows (JSONCompactEachRow in the order of `columns` when given, else
   * JSONEachRow), read by the engine from a spool file (decision 0049). The generic connection
   * turns the payload back into a JS string and glues it to the SQL, which blocks the event loop
   * for tens of milliseconds on a large batch; chDB's own inline-data insert takes the bytes
   * as they are but costs the engine 2.5× the CPU of reading the same rows from a file.
   */
  insertJsonRows(table: string, body: Buffer, settings: InsertSettings, columns?: readonly string[]): Promise<void>;
}

type ChdbModule = typeof import('chdb/connection');

/** The INSERT that reads one spool file; table and column names are Balise's own, never a client's. */
export function insertFromFile(table: string, file: string, settings: InsertSettings, columns?: readonly string[]): string {
  const named = columns ? ` (${columns.join(', ')})` : '';
  const set = Object.entries(settings)
    .map(([name, value]) => `${name} = ${value}`)
    .join(', ');
  return `INSERT INTO ${table}${named} FROM INFILE ${quoteString(file)} COMPRESSION 'none'${set ? ` SETTINGS ${set}` : ''} FORMAT ${columns ? 'JSONCompactEachRow' : 'JSONEachRow'}`;
}

/**
 * Where inserts spool their rows for the engine to read: emptied when the engine is opened, as a
 * file left there belongs to an insert that died with its process (its jobs were not completed,
 * so they are delivered again).
 */
export function prepareSpool(spoolDir: string): void {
  fs.mkdirSync(spoolDir, { recursive: true });
  // Its content, not the directory: an operator may have mounted it.
  for (const name of fs.readdirSync(spoolDir)) fs.rmSync(path.join(spoolDir, name), { recursive: true, force: true });
}

/**
 * chDB is an optional dependency (≈ 550 MB of native engine): server images that talk to a
 * ClickHouse server leave it out, and only embedded mode ever imports it.
 */
export async function loadChdb(importer: () => Promise<ChdbModule> = () => import('chdb/connection')): Promise<ChdbModule> {
  try {
    return await importer();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new BaliseError('chdb_missing', 'embedded ClickHouse (the optional package chdb) is not installed here: set CLICKHOUSE_URL to a ClickHouse server, or install it with `npm install chdb`', {
        cause: (error as Error).message,
      });
    }
    throw error;
  }
}

/**
 * The in-process chDB engine, imported lazily so server deployments never load it.
 *
 * chDB keeps one output buffer per session and does not clear it when a query fails part-way:
 * whatever the failed query had already written (a JSON header, thousands of JSONEachRow lines)
 * is handed back as the start of the next query's result. A timed-out analyst query would then
 * corrupt the worker's dedupe check or a dashboard panel. The engine already runs one query at a
 * time per session, so running calls in order here costs no throughput; it guarantees that after
 * a failure a throw-away query drains the stale output before any other caller's query runs.
 */
export async function openEmbeddedSession(dataPath: string, spoolDir: string): Promise<EmbeddedSession> {
  const { createChdbConnection } = await loadChdb();
  const chdb = createChdbConnection({ path: dataPath });
  // chdb implements the same Connection contract but against its own copy of
  // @clickhouse/client-common, so the two nominal types differ only by package path.
  const inner = chdb as unknown as ClientConnection;

  let tail: Promise<unknown> = Promise.resolve();
  const inOrder = <T>(operation: () => Promise<T>): Promise<T> => {
    const result = tail.then(operation).catch(async (error: unknown) => {
      await inner.command({ query: 'SELECT 1' }).catch(() => undefined);
      throw error;
    });
    tail = result.catch(() => undefined);
    return result;
  };

  return {
    connection: {
      ping: (params) => inOrder(() => inner.ping(params)),
      query: (params) => inOrder(() => inner.query(params)),
      insert: (params) => inOrder(() => inner.insert(params)),
      command: (params) => inOrder(() => inner.command(params)),
      exec: (params) => inOrder(() => inner.exec(params)),
      close: () => inOrder(() => inner.close()),
    },
    async insertJsonRows(table, body, settings, columns) {
      const file = path.join(spoolDir, `${randomBytes(9).toString('base64url')}.json`);
      try {
        await fs.promises.writeFile(file, body);
        await inOrder(() => inner.command({ query: insertFromFile(table, file, settings, columns) }));
      } finally {
        await fs.promises.rm(file, { force: true });
      }
    },
  };
}
