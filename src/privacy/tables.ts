/**
 * Where a person's rows are: every MergeTree table of the database, found by its columns rather
 * than by a fixed list, so a table added later (a copy kept by a migration such as
 * `events_before_003`, a derived table, a cluster's local tables) is covered without being named
 * here. Views (the typed `ev_*` views, `persons`) read these tables and hold nothing themselves.
 */
import type { Warehouse } from '../warehouse/client.ts';
import { queryRows } from '../warehouse/query.ts';
import { RAW_ANONYMOUS_KEYS, RAW_USER_KEYS } from '../warehouse/rows.ts';
import { quoteString } from '../util/sql-quote.ts';

/** Columns that hold a person's id: a table with neither pair below (events' ids, a link's) is searched on any of them. */
export const ID_COLUMNS = ['user_id', 'anonymous_id', 'previous_id', 'alias_id'] as const;
/**
 * Whose a row is, as funnels and KPIs attribute it (src/analytics/sql-common.ts EVENT_KEY): its
 * user id, or before login its anonymous id. Another user's row that names one of the person's
 * ids (their events on a device the person used first) is theirs, and is neither exported nor
 * erased with the person's.
 */
export const OWNER = "if(user_id != '', user_id, anonymous_id)";
/** The first of `keys` the raw JSON holds as a non-empty string or a number (`"userId": 42`, which JSONExtractString reads as ''). */
const firstRawId = (keys: readonly string[]) =>
  `multiIf(${keys.flatMap((k) => [`JSONExtractString(raw, '${k}') != ''`, `JSONExtractString(raw, '${k}')`, `match(JSONExtractRaw(raw, '${k}'), '^-?[0-9]')`, `JSONExtractRaw(raw, '${k}')`]).join(', ')}, '')`;
/** OWNER for a raw event kept in quarantine. */
export const RAW_OWNER = `if(${firstRawId(RAW_USER_KEYS)} != '', ${firstRawId(RAW_USER_KEYS)}, ${firstRawId(RAW_ANONYMOUS_KEYS)})`;
/** Balise's own bookkeeping: no person's data in them (the request log hashes its subjects). */
const NOT_PERSONAL = new Set(['schema_migrations', 'health_probe', 'privacy_requests', 'audit_log', 'access_tokens']);

export interface PersonTable {
  table: string;
  /** The expressions that hold an id of the person (or, when byMessageId, the message id). */
  keys: string[];
  /** True when the rows are found by message id (rows that name no person themselves). */
  byMessageId: boolean;
  /** Whether the table has a message_id column (the ids of its rows, for message-id tables). */
  hasMessageId: boolean;
  /** A Replacing…MergeTree: its copies of a row fold at merge time, and a read says FINAL to fold them first. */
  replacing?: boolean;
}

/** The table's id expressions, or undefined when it holds no person data. */
export function personCondition(table: string, columns: ReadonlySet<string>): PersonTable | undefined {
  if (NOT_PERSONAL.has(table)) return undefined;
  const hasMessageId = columns.has('message_id');
  const found = (keys: string[]): PersonTable => ({ table, keys, byMessageId: false, hasMessageId });
  // An event row is its owner's; a link (alias_id → user_id) is the person's it links an id to.
  if (columns.has('user_id') && columns.has('anonymous_id')) return found([OWNER]);
  if (columns.has('user_id') && columns.has('alias_id')) return found(['user_id']);
  if (columns.has('raw')) return found([RAW_OWNER]);
  const keys = ID_COLUMNS.filter((column) => columns.has(column));
  if (keys.length > 0) return found(keys);
  // `quarantine_replays` and the like: one row per message, naming no one.
  if (hasMessageId) return { table, keys: ['message_id'], byMessageId: true, hasMessageId };
  return undefined;
}

/**
 * What a read of a person's rows names in its FROM. On one node, the table. On a cluster
 * (decision 0012) the tables that hold rows are the `*_local` ones, and each node holds only its
 * own shard: `shards` reads one replica of every shard (`cluster()`), so finding and exporting see
 * a person's rows on every shard; `replicas` reads every replica (`clusterAllReplicas()`), so the
 * erasure's last check proves that no copy is left anywhere.
 */
export function readFrom(table: string, cluster: string | undefined, copies: 'shards' | 'replicas' = 'shards'): string {
  if (!cluster) return table;
  return `${copies === 'replicas' ? 'clusterAllReplicas' : 'cluster'}(${quoteString(cluster)}, currentDatabase(), ${table})`;
}

/** For reads: the condition with the values as a query parameter ({values:Array(String)}). */
export const selectCondition = (table: PersonTable) => table.keys.map((key) => `${key} IN {values:Array(String)}`).join(' OR ');

/**
 * For mutations: the condition with the values' SHA-256 hashes inlined. A mutation's text stays
 * in system.mutations (and the query log) and is sent as is to every node ON CLUSTER, so it names
 * hashes, never the ids themselves; hex digits need no escaping.
 */
export function mutationCondition(table: PersonTable, hashes: readonly string[]): string {
  if (hashes.some((h) => !/^[0-9a-f]{64}$/.test(h))) throw new Error('mutationCondition takes SHA-256 hex digests');
  const list = `(${hashes.map((h) => `'${h}'`).join(', ')})`;
  return table.keys.map((key) => `lower(hex(SHA256(${key}))) IN ${list}`).join(' OR ');
}

/** The tables of the warehouse's database that can hold a person's rows; message-id tables first. */
export async function personTables(warehouse: Warehouse): Promise<PersonTable[]> {
  const rows = await queryRows<{ table: string; column: string; engine: string }>(
    warehouse,
    `SELECT c.table AS table, c.name AS column, t.engine AS engine
     FROM system.columns AS c
     INNER JOIN system.tables AS t ON t.database = c.database AND t.name = c.table
     WHERE c.database = currentDatabase() AND t.engine LIKE '%MergeTree' AND NOT t.is_temporary
     ORDER BY c.table`,
  );
  const columnsByTable = new Map<string, Set<string>>();
  for (const row of rows) {
    const columns = columnsByTable.get(row.table) ?? new Set<string>();
    columns.add(row.column);
    columnsByTable.set(row.table, columns);
  }
  const replacing = new Set(rows.filter((r) => r.engine.includes('Replacing')).map((r) => r.table));
  const tables = [...columnsByTable]
    .map(([table, columns]): PersonTable | undefined => {
      const found = personCondition(table, columns);
      return found && { ...found, replacing: replacing.has(table) };
    })
    .filter((t): t is PersonTable => t !== undefined);
  // Rows found by message id must go before the rows that give their message ids.
  return tables.sort((a, b) => Number(b.byMessageId) - Number(a.byMessageId) || a.table.localeCompare(b.table));
}
