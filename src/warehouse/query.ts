import type { Warehouse } from './client.ts';

/**
 * One SELECT with typed query parameters, its rows as objects. It runs on the reads connection:
 * in embedded mode not behind the worker's inserts (decision 0043).
 */
export async function queryRows<T>(warehouse: Warehouse, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const result = await warehouse.reads.query({ query, query_params: params, format: 'JSONEachRow' });
  return result.json<T>();
}
