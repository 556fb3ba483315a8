import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startBaliseProcess, TEST_WRITE_AUTH, type BaliseProcess } from '../helpers/process.ts';
import { expectExactlyOnce } from '../helpers/exactly-once.ts';
import { tempDir } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';
import { openWarehouse } from '../../src/warehouse/client.ts';
import { queryRows } from '../../src/warehouse/query.ts';
import { diskSpoolDir, memorySpoolDir, openInsertSpool } from '../../src/warehouse/insert-spool.ts';

const running: BaliseProcess[] = [];
const mounts: string[] = [];
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited));
  // Lazy: the engine's files may still be open for a moment.
  for (const dir of mounts) execFileSync('umount', ['-l', dir]);
});

/** Fills a file system to the last byte; returns the filler so it can be removed. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(1 << 20, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
  }
  // The last partial megabyte, too.
  try {
    for (;;) fs.writeSync(fd, chunk.subarray(0, 4096));
  } catch {
    // ENOSPC again: full.
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

async function readyChecks(baseUrl: string): Promise<{ status: number; checks: Record<string, boolean> }> {
  const res = await fetch(`${baseUrl}/ready`);
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, boolean> }).checks };
}

/** /ready's answer, once its status is `status`. */
function readyAnswering(baseUrl: string, status: number) {
  return waitFor(
    `/ready to answer ${status}`,
    async () => {
      const ready = await readyChecks(baseUrl);
      return ready.status === status && ready;
    },
    { intervalMs: 200 },
  );
}

describe('/ready proves the engine can write', () => {
  // The engine's directory on a file system of its own (a small tmpfs, mounted as root like a
  // data volume), so it can be filled for real: ClickHouse still answers pings but refuses every insert.
  it('fails with clickhouse:false while the chDB disk is full, and recovers when space is freed', { timeout: 150_000 }, async () => {
    const dataDir = tempDir();
    const engineDir = path.join(dataDir, 'clickhouse');
    fs.mkdirSync(engineDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', engineDir]);
    mounts.push(engineDir);
    const balise = await startBaliseProcess('up', dataDir, await freePort());
    running.push(balise);
    expect(await readyChecks(balise.baseUrl)).toEqual({ status: 200, checks: { redis: true, clickhouse: true, migrations: true } });

    const filler = fill(engineDir);
    const full = await readyAnswering(balise.baseUrl, 503);
    expect(full).toEqual({ status: 503, checks: { redis: true, clickhouse: false, migrations: true } });
    // Accepted meanwhile (it waits in Redis), and stored once the disk has room again.
    const ingest = await fetch(`${balise.baseUrl}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: TEST_WRITE_AUTH },
      body: JSON.stringify({ type: 'track', event: 'disk_full', userId: 'u1', messageId: 'disk-full-1' }),
    });
    expect(ingest.status).toBe(200);

    fs.rmSync(filler);
    const back = await readyAnswering(balise.baseUrl, 200);
    expect(back).toEqual({ status: 200, checks: { redis: true, clickhouse: true, migrations: true } });
    await expectExactlyOnce(balise.baseUrl, 'disk', new Set(['disk-full-1']));
    balise.child.kill('SIGTERM');
    expect(await balise.exited).toBe(0);
  });
});

describe('an insert whose spool file does not fit', () => {
  // Decision 0049: the rows go to the engine as a file, in memory first. Memory full: the disk
  // takes it. Both full: the insert fails (its jobs stay queued and are retried), leaving no
  // partial file, and the next one that fits lands.
  it('goes to disk when memory is full, fails with ENOSPC when both are, and leaves no partial file', { timeout: 60_000 }, async () => {
    const dataDir = tempDir();
    const memoryRoot = tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', memoryRoot]);
    mounts.push(memoryRoot);
    const spool = openInsertSpool(dataDir, memoryRoot);
    const [memory, disk] = spool.dirs;
    expect(memory).toBe(memorySpoolDir(dataDir, memoryRoot));
    const small = await spool.write(Buffer.from('[1]'));
    expect(path.dirname(small)).toBe(memory);
    fs.rmSync(small);

    const tooBigForMemory = Buffer.alloc(2 << 20, 0x20);
    const spilled = await spool.write(tooBigForMemory);
    expect(path.dirname(spilled)).toBe(disk);
    expect(fs.statSync(spilled).size).toBe(tooBigForMemory.length);
    expect(fs.readdirSync(memory!)).toEqual([]);
    fs.rmSync(spilled);

    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk!]);
    mounts.push(disk!);
    await expect(spool.write(tooBigForMemory)).rejects.toMatchObject({ code: 'ENOSPC' });
    expect([...fs.readdirSync(memory!), ...fs.readdirSync(disk!)]).toEqual([]);
    spool.close();
  });

  it('an embedded insert that cannot be spooled is refused, and the next one lands', { timeout: 60_000 }, async () => {
    const dataDir = tempDir();
    const warehouse = await openWarehouse({ clickhouse: { url: undefined, user: 'default', password: '', database: 'balise_spool_full', cluster: undefined }, dataDir });
    // Both the memory and the disk spool on 1 MB file systems of their own.
    for (const dir of [memorySpoolDir(dataDir), diskSpoolDir(dataDir)]) {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir]);
      mounts.push(dir);
    }
    try {
      await warehouse.client.command({ query: 'CREATE TABLE rows (n UInt32) ENGINE = MergeTree ORDER BY n' });
      const tooBig = Buffer.from(Array.from({ length: 300_000 }, (_, i) => `[${i}]`).join('\n'));
      await expect(warehouse.insertJsonRows('rows', tooBig, {}, ['n'])).rejects.toMatchObject({ code: 'ENOSPC' });
      await warehouse.insertJsonRows('rows', Buffer.from('[1]\n[2]'), {}, ['n']);
      expect(await queryRows(warehouse, 'SELECT count() AS rows FROM rows')).toEqual([{ rows: 2 }]);
      expect([...fs.readdirSync(memorySpoolDir(dataDir)), ...fs.readdirSync(diskSpoolDir(dataDir))]).toEqual([]);
    } finally {
      for (const dir of mounts.splice(-2)) execFileSync('umount', ['-l', dir]);
      await warehouse.close();
    }
  });
});
