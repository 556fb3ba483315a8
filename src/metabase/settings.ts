import type { Config } from '../config/index.ts';
import type { ClickHouseDetails, MetabaseClientOptions } from './client.ts';
import { MetabaseError } from './errors.ts';

/** Metabase credentials from the config; one clear error naming what is missing. */
export function metabaseSettings(config: Pick<Config, 'metabase'>): MetabaseClientOptions {
  const { url, user, password } = config.metabase;
  if (!url) throw new MetabaseError('metabase_not_configured', 'METABASE_URL is not set (e.g. METABASE_URL=http://localhost:3001 with METABASE_USER and METABASE_PASSWORD)');
  if (!user || !password) throw new MetabaseError('metabase_not_configured', 'METABASE_USER and METABASE_PASSWORD must be set to log in to Metabase');
  return { url, username: user, password };
}

/**
 * The ClickHouse connection as Metabase must see it. `override` is the URL from Metabase's side
 * (in docker compose: http://clickhouse:8123), else CLICKHOUSE_URL. The embedded engine lives
 * inside the Balise process, so Metabase cannot reach it.
 */
export function clickhouseDetails(config: Pick<Config, 'clickhouse'>, override?: string): ClickHouseDetails {
  const raw = override ?? config.clickhouse.url;
  if (!raw) {
    throw new MetabaseError('metabase_needs_clickhouse_server', 'Metabase needs a ClickHouse server: set CLICKHOUSE_URL (the embedded engine cannot be shared), or pass --clickhouse-url');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new MetabaseError('metabase_invalid_clickhouse_url', `not a URL: "${raw}"`);
  }
  const ssl = url.protocol === 'https:';
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : ssl ? 8443 : 8123,
    user: config.clickhouse.user,
    password: config.clickhouse.password,
    dbname: config.clickhouse.database,
    ssl,
  };
}
