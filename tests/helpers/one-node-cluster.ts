/**
 * A warehouse that says it is a ClickHouse cluster of one shard and one replica. No cluster runs
 * here (decision 0012): every statement goes to the real engine with its cluster forms (`ON
 * CLUSTER c`, `cluster(c, …)`, `clusterAllReplicas(c, …)`) read as that one node would read them,
 * and is kept in `sent` exactly as Balise wrote it, for the test to check (and the engine's parser
 * to parse).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { onClusterClause, quoteString } from '../../src/util/sql-quote.ts';
import type { Warehouse } from '../../src/warehouse/client.ts';

const escapeForRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function oneNodeCluster(warehouse: Warehouse, cluster: string, sent: string[]): Warehouse {
  // The forms Balise writes: onClusterClause, and privacy's readFrom (`cluster('c', currentDatabase(), t)`).
  const tableFunction = new RegExp(`\\b(?:clusterAllReplicas|cluster)\\(${escapeForRegExp(quoteString(cluster))}, currentDatabase\\(\\), (\\w+)\\)`, 'g');
  const asOneNode = (query: string) => query.replaceAll(onClusterClause(cluster), '').replace(tableFunction, '$1');
  const recording = (client: ClickHouseClient): ClickHouseClient =>
    new Proxy(client, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        if (key !== 'query' && key !== 'command') return value.bind(target);
        return (params: { query: string }) => {
          sent.push(params.query);
          return value.call(target, { ...params, query: asOneNode(params.query) });
        };
      },
    });
  return { ...warehouse, cluster, client: recording(warehouse.client), reads: recording(warehouse.reads), analyst: recording(warehouse.analyst) };
}
