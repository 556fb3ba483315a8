/**
 * ClickHouse quoting for the few places that must inline text into SQL (view definitions, Metabase
 * questions). Everything else binds parameters. Backslashes are escaped first, so any text is
 * inert inside the quotes.
 */

/** A string literal: 'it\'s'. */
export function quoteString(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** An identifier: `my column`. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``;
}

/** An identifier as ClickHouse writes it: bare when it can be (`events`), backquoted when not (`prod-eu.1`). */
function identifier(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : quoteIdentifier(name);
}

/**
 * The ON CLUSTER clause of a DDL statement or a mutation: ` ON CLUSTER name` on a cluster, nothing
 * on one node. A cluster's name may hold `-` or `.` (remote_servers' element names do), which
 * ClickHouse's parser takes only quoted.
 */
export function onClusterClause(cluster: string | undefined): string {
  return cluster ? ` ON CLUSTER ${identifier(cluster)}` : '';
}
