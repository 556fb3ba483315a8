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
