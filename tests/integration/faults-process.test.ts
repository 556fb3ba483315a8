import { afterAll, describe, expect, it } from 'vitest';
import { freePort, generateLoad, startBaliseProcess, type BaliseProcess } from '../helpers/process.ts';
import { expectExactlyOnce } from '../helpers/exactly-once.ts';
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
