/**
 * GET /ready of an API process: writes, not pings. Redis out of memory or read-only (a replica, a
 * failed AOF write) still answers PING, and a full or read-only disk still lets the engine answer
 * SELECT 1; only a write proves either can take an event.
 */
import type { Redis } from 'ioredis';
import type { FailureLog } from '../observability/failures.ts';
import { withTimeout } from '../util/deadlines.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { migrationsUpToDate } from '../warehouse/migrations.ts';

/** /ready writes to ClickHouse at most this often; probes in between get the last answer. */
const WRITE_PROBE_INTERVAL_MS = 2000;
export const PROBE_TIMEOUT_MS = 3000;

export interface ReadinessSources {
  redis: Redis;
  /** Absent in an API process without the engine (`serve`, an API child of `up`). */
  warehouse: Warehouse | undefined;
  failures: FailureLog;
  /** An API child of `up`: the engine's checks, asked of the process that owns it. */
  ownerReadiness?: () => Promise<Record<string, boolean>>;
}

export function createReadiness(sources: ReadinessSources): () => Promise<Record<string, boolean>> {
  const { redis: connection, warehouse, failures } = sources;
  const readyKey = `balise:ready:${process.pid}`;
  let migrated = false;
  let lastWrite: { at: number; ok: boolean } | undefined;
  // A tiny insert proves the engine can write a part.
  const engineWrites = async (wh: Warehouse): Promise<boolean> => {
    if (lastWrite && Date.now() - lastWrite.at < WRITE_PROBE_INTERVAL_MS) return lastWrite.ok;
    const ok = await withTimeout(wh.client.command({ query: 'INSERT INTO health_probe SELECT now64(3), hostName()' }), PROBE_TIMEOUT_MS, 'ClickHouse write probe').then(
      () => {
        failures.recover('clickhouse_write');
        return true;
      },
      (err: unknown) => {
        failures.report('clickhouse_write', err, 'ClickHouse refuses writes: /ready fails until it accepts them again');
        return false;
      },
    );
    lastWrite = { at: Date.now(), ok };
    return ok;
  };
  return async (): Promise<Record<string, boolean>> => {
    const redis = await withTimeout(connection.set(readyKey, '1', 'PX', 10_000), PROBE_TIMEOUT_MS, 'Redis write probe').then(
      (r) => r === 'OK',
      () => false,
    );
    // An API child: the engine's checks come from the process that owns it; its own Redis write wins.
    if (!warehouse) return sources.ownerReadiness ? { ...(await sources.ownerReadiness().catch(() => ({ engine_owner: false }))), redis } : { redis };
    const clickhouse = await engineWrites(warehouse);
    migrated = migrated || (clickhouse && (await migrationsUpToDate(warehouse)));
    return { redis, clickhouse, migrations: migrated };
  };
}
