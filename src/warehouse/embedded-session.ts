import type { createClient } from '@clickhouse/client';

/** The connection contract that `createClient({ connection })` accepts. */
export type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;

/**
 * chDB keeps one output buffer per session and does not clear it when a query fails part-way:
 * whatever the failed query had already written (a JSON header, thousands of JSONEachRow lines)
 * is handed back as the start of the next query's result. A timed-out analyst query would then
 * corrupt the worker's dedupe check or a dashboard panel.
 *
 * The engine already runs one query at a time per session, so running calls in order here costs
 * no throughput; it guarantees that after a failure a throw-away query drains the stale output
 * before any other caller's query runs.
 */
export function withCleanSessionAfterErrors(inner: ClientConnection): ClientConnection {
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
    ping: (params) => inOrder(() => inner.ping(params)),
    query: (params) => inOrder(() => inner.query(params)),
    insert: (params) => inOrder(() => inner.insert(params)),
    command: (params) => inOrder(() => inner.command(params)),
    exec: (params) => inOrder(() => inner.exec(params)),
    close: () => inOrder(() => inner.close()),
  };
}
