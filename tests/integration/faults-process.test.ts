import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/redis/server.ts';
import { freePort, generateLoad, startBaliseProcess, type BaliseProcess } from '../helpers/process.ts';
import { expectExactlyOnce } from '../helpers/exactly-once.ts';
import { tempDir } from '../helpers/stack.ts';

const running: BaliseProcess[] = [];
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  // The redis-server child outlives a SIGKILLed Balise; stop any left in our temp dirs.
  await new Promise((r) => setTimeout(r, 100));
});

/** Polls `condition` until it holds: the test acts on what the process shows, not on a guessed sleep. */
async function waitUntil(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${timeoutMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Rows the process has inserted into `events`, from its /metrics (0 while it is unreachable). */
async function rowsInserted(baseUrl: string): Promise<number> {
  const text = await fetch(`${baseUrl}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  return Number(/^balise_rows_inserted_total\{table="events"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

/** Mid-batch: hundreds of events acknowledged, some already inserted, others still queued or in flight. */
async function midBatch(balise: BaliseProcess, acknowledged: Set<string>): Promise<void> {
  await waitUntil('events acknowledged and partly inserted', async () => {
    if (acknowledged.size < 600) return false;
    const inserted = await rowsInserted(balise.baseUrl);
    return inserted > 0 && inserted < acknowledged.size;
  });
}

async function start(dataDir: string, port: number): Promise<BaliseProcess> {
  const p = await startBaliseProcess('up', dataDir, port);
  running.push(p);
  return p;
}

describe('a real `balise up` process under load', () => {
  it('loses nothing acknowledged and counts nothing twice when killed with SIGKILL mid-batch and restarted', { timeout: 150_000 }, async () => {
    const dataDir = tempDir();
    const port = await freePort();
    let balise = await start(dataDir, port);
    const load = generateLoad(() => balise.baseUrl, 'kill', 50);
    await midBatch(balise, load.result.acknowledged);
    balise.child.kill('SIGKILL');
    await balise.exited;
    // Clients keep retrying while it is down (and see it down); it comes back on the same data directory.
    const refusedWhenKilled = load.result.refused;
    await waitUntil('a client refused while the process is down', () => load.result.refused > refusedWhenKilled);
    balise = await start(dataDir, port);
    const acknowledgedBeforeRestart = load.result.acknowledged.size;
    await waitUntil('the restarted process acknowledging batches', () => load.result.acknowledged.size >= acknowledgedBeforeRestart + 500);
    const result = await load.stop();
    expect(result.acknowledged.size).toBeGreaterThan(500);
    await expectExactlyOnce(balise.baseUrl, 'kill', result.acknowledged);
    balise.child.kill('SIGTERM');
    expect(await balise.exited).toBe(0);
  });

  // SIGHUP is a terminal closing: its default action killed up at once and left its redis-server running.
  it.each(['SIGTERM', 'SIGHUP'] as const)('drains and flushes on %s: every acknowledged event is stored, its redis-server stopped', { timeout: 150_000 }, async (signal) => {
    const dataDir = tempDir();
    const port = await freePort();
    let balise = await start(dataDir, port);
    const { redisPid } = JSON.parse(fs.readFileSync(path.join(dataDir, 'redis', 'owner.json'), 'utf8')) as { redisPid: number };
    expect(isAlive(redisPid)).toBe(true);
    const load = generateLoad(() => balise.baseUrl, signal, 50);
    await midBatch(balise, load.result.acknowledged);
    balise.child.kill(signal);
    expect(await balise.exited).toBe(0);
    expect(isAlive(redisPid)).toBe(false);
    const result = await load.stop();
    expect(result.acknowledged.size).toBeGreaterThan(500);
    balise = await start(dataDir, port);
    await expectExactlyOnce(balise.baseUrl, signal, result.acknowledged);
    balise.child.kill('SIGTERM');
    await balise.exited;
  });
});
