import type { createClient } from '@clickhouse/client';
import { BaliseError } from '../errors.ts';

/** The connection contract that `createClient({ connection })` accepts. */
export type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;

export interface EmbeddedSession {
  /** For `createClient({ connection })`. */
  connection: ClientConnection;
}

type ChdbModule = typeof import('chdb/connection');

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
export async function openEmbeddedSession(dataPath: string, options: { admit?: () => void } = {}): Promise<EmbeddedSession> {
  const { createChdbConnection } = await loadChdb();
  // chdb implements the same Connection contract but against its own copy of
  // @clickhouse/client-common, so the two nominal types differ only by package path.
  const inner = createChdbConnection({ path: dataPath }) as unknown as ClientConnection;

  let tail: Promise<unknown> = Promise.resolve();
  // `admit` is asked when a call's turn comes, not when it is made: one queued behind a running
  // query can still be refused (throwing refuses it). Closing is never refused.
  const inOrder = <T>(operation: () => Promise<T>, admitted = true): Promise<T> => {
    const result = tail
      .then(() => {
        if (admitted) options.admit?.();
        return operation();
      })
      .catch(async (error: unknown) => {
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
      close: () => inOrder(() => inner.close(), false),
    },
  };
}
