import type { Warehouse } from './client.ts';

/** One SELECT with typed query parameters, its rows as objects. */
export async function queryRows<T>(warehouse: Warehouse, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const result = await warehouse.client.query({ query, query_params: params, format: 'JSONEachRow' });
  return result.json<T>();
}
