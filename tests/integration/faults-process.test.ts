import { afterAll, describe, expect, it } from 'vitest';
import { freePort, generateLoad, sqlViaApi, startBaliseProcess, type BaliseProcess } from '../helpers/process.ts';
import { tempDir } from '../helpers/stack.ts';

const running: BaliseProcess[] = [];
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  // The redis-server child outlives a SIGKILLed Balise; stop any left in our temp dirs.
  await new Promise((r) => setTimeout(r, 100));
});

async function start(dataDir: string, port: number): Promise<BaliseProcess> {
  const p = await startBaliseProcess('up', dataDir, port);
  running.push(p);
  return p;
}

/**
 * Every acknowledged event present exactly once. Batches are acknowledged whole, so the check is
 * per batch (a few hundred rows, within the SQL endpoint's row cap): each acknowledged batch has
 * all of its events, and no message id is stored twice.
 */
async function expectExactlyOnce(baseUrl: string, prefix: string, acknowledged: Set<string>): Promise<void> {
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

describe('a real `balise up` process under load', () => {
  it('loses nothing acknowledged and counts nothing twice when killed with SIGKILL mid-batch and restarted', { timeout: 150_000 }, async () => {
    const dataDir = tempDir();
    const port = await freePort();
    let balise = await start(dataDir, port);
    const load = generateLoad(() => balise.baseUrl, 'kill', 50);
    await new Promise((r) => setTimeout(r, 1500));
    balise.child.kill('SIGKILL');
    await balise.exited;
    // Clients keep retrying while it is down; it comes back on the same data directory.
    await new Promise((r) => setTimeout(r, 300));
    balise = await start(dataDir, port);
    await new Promise((r) => setTimeout(r, 1000));
    const result = await load.stop();
    expect(result.acknowledged.size).toBeGreaterThan(500);
    await expectExactlyOnce(balise.baseUrl, 'kill', result.acknowledged);
    balise.child.kill('SIGTERM');
    expect(await balise.exited).toBe(0);
  });

  it('drains and flushes on SIGTERM: every acknowledged event is stored', { timeout: 150_000 }, async () => {
    const dataDir = tempDir();
    const port = await freePort();
    let balise = await start(dataDir, port);
    const load = generateLoad(() => balise.baseUrl, 'term', 50);
    await new Promise((r) => setTimeout(r, 1500));
    balise.child.kill('SIGTERM');
    expect(await balise.exited).toBe(0);
    const result = await load.stop();
    expect(result.acknowledged.size).toBeGreaterThan(500);
    balise = await start(dataDir, port);
    await expectExactlyOnce(balise.baseUrl, 'term', result.acknowledged);
    balise.child.kill('SIGTERM');
    await balise.exited;
  });
});
