/**
 * Retention: how long each table keeps its rows, as a ClickHouse TTL set from configuration
 * (BALISE_RETENTION_DAYS) at every start, after migrations. Not a migration: a period is an
 * operator's setting that changes without a schema change, and a migration that recreates a table
 * (003) would otherwise lose it. Idempotent: a table whose TTL already says the configured period
 * is left alone (MODIFY TTL rewrites parts to apply it, so it runs only when the period changes).
 * See docs/decisions/0033-retention-and-roles.md.
 */
import type { Warehouse } from './client.ts';
import { queryRows } from './query.ts';
import { onClusterClause } from '../util/sql-quote.ts';
import { RETENTION_TABLES, type RetentionTable } from '../config/index.ts';

/** The time each row of a table that can expire (config's RETENTION_TABLES, one key each) is aged by. */
export const RETENTION_COLUMNS: Readonly<Record<RetentionTable, string>> = {
  events: 'timestamp',
  events_before_003: 'timestamp',
  quarantine: 'received_at',
  quarantine_before_005: 'received_at',
  quarantine_replays: 'replayed_at',
  identity_links: 'first_seen',
  identity_links_before_025: 'first_seen',
  privacy_requests: 'updated_at',
  audit_log: 'at',
};

/** The TTL clause as ClickHouse prints it back in SHOW CREATE TABLE, so equal means unchanged. */
export const ttlExpression = (column: string, days: number) => `toDateTime(${column}) + toIntervalDay(${days})`;

export interface RetentionState {
  table: string;
  /** Configured period in days; null: kept forever. */
  days: number | null;
  /** The TTL the table has now, as ClickHouse shows it ('' when none). */
  ttl: string;
}

export interface RetentionChange {
  table: string;
  action: 'set' | 'removed' | 'unchanged';
}

/** The TTL clause of a CREATE TABLE statement ('' when none). */
export function ttlOf(createQuery: string): string {
  return /\sTTL\s+(.+?)(?:\s+SETTINGS\s|$)/s.exec(createQuery)?.[1]?.trim() ?? '';
}

/** Where a table's rows are, and its CREATE statement. */
interface StoredTable {
  table: string;
  query: string;
}

/**
 * The tables that can expire, by the name Balise gives them. On a cluster (decision 0012) a
 * sharded table's rows are in its `*_local` tables, under a `Distributed` table of the usual name
 * that holds none and refuses a TTL: there the TTL goes on the local table.
 */
async function storedTables(warehouse: Warehouse): Promise<Map<RetentionTable, StoredTable>> {
  const names = RETENTION_TABLES;
  const localOf = (name: string) => (warehouse.cluster ? `${name}_local` : name);
  const rows = await queryRows<{ name: string; q: string }>(warehouse, `SELECT name, create_table_query AS q FROM system.tables WHERE database = currentDatabase() AND name IN {names:Array(String)}`, {
    names: [...new Set([...names, ...names.map(localOf)])],
  });
  const queries = new Map(rows.map((r) => [r.name, r.q]));
  const out = new Map<RetentionTable, StoredTable>();
  for (const name of names) {
    const table = queries.has(localOf(name)) ? localOf(name) : name;
    const query = queries.get(table);
    if (query !== undefined) out.set(name, { table, query });
  }
  return out;
}

/** Sets (or removes) each table's TTL to match `days` (table → days). Returns what it did per table. */
export async function applyRetention(warehouse: Warehouse, days: ReadonlyMap<string, number>): Promise<RetentionChange[]> {
  const onCluster = onClusterClause(warehouse.cluster);
  const out: RetentionChange[] = [];
  for (const [table, stored] of await storedTables(warehouse)) {
    const column = RETENTION_COLUMNS[table];
    const current = ttlOf(stored.query);
    const period = days.get(table);
    if (period !== undefined) {
      const wanted = ttlExpression(column, period);
      if (current === wanted) out.push({ table, action: 'unchanged' });
      else {
        await warehouse.client.command({ query: `ALTER TABLE ${stored.table}${onCluster} MODIFY TTL ${wanted}` });
        out.push({ table, action: 'set' });
      }
    } else if (current.startsWith(`toDateTime(${column}) + toIntervalDay(`)) {
      // Only a TTL this mechanism set is removed; one written by a migration is left alone.
      await warehouse.client.command({ query: `ALTER TABLE ${stored.table}${onCluster} REMOVE TTL` });
      out.push({ table, action: 'removed' });
    } else out.push({ table, action: 'unchanged' });
  }
  return out.sort((a, b) => a.table.localeCompare(b.table));
}

/** What data health shows: each table's configured period and the TTL it really has. */
export async function retentionState(warehouse: Warehouse, days: ReadonlyMap<string, number>): Promise<RetentionState[]> {
  const stored = await storedTables(warehouse);
  return [...stored.keys()].sort().map((table) => ({ table, days: days.get(table) ?? null, ttl: ttlOf(stored.get(table)!.query) }));
}
