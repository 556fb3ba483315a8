import { expect } from 'vitest';
import { sqlViaApi } from './process.ts';

/**
 * Every acknowledged event present exactly once. Batches are acknowledged whole, so the check is
 * per batch (a few hundred rows, within the SQL endpoint's row cap): each acknowledged batch has
 * all of its events, and no message id is stored twice.
 */
export async function expectExactlyOnce(baseUrl: string, prefix: string, acknowledged: Set<string>): Promise<void> {
  const expected = new Map<string, number>();
  for (const id of acknowledged) {
    const batch = id.split('-')[1]!;
    expected.set(batch, (expected.get(batch) ?? 0) + 1);
  }
  const storedPerBatch = async () =>
    new Map(
      (await sqlViaApi(baseUrl, `SELECT splitByChar('-', message_id)[2] AS b, count() AS n, uniqExact(message_id) AS d FROM events WHERE message_id LIKE '${prefix}-%' GROUP BY b`)).map(
        (r) => [String(r[0]), { total: Number(r[1]), distinct: Number(r[2]) }] as const,
      ),
    );
  const deadline = Date.now() + 90_000;
  let stored = await storedPerBatch();
  const missing = () => [...expected].filter(([batch, n]) => (stored.get(batch)?.distinct ?? 0) < n).map(([batch]) => batch);
  while (missing().length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    stored = await storedPerBatch();
  }
  expect(missing()).toEqual([]);
  const duplicated = [...stored].filter(([, s]) => s.total !== s.distinct).map(([batch]) => batch);
  expect(duplicated).toEqual([]);
}
