import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { diskSpoolDir, insertFromFile, insertStatement, memorySpoolDir, openInsertSpool } from '../../src/warehouse/insert-spool.ts';

const made: string[] = [];
const temp = (prefix: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the insert spool (decision 0049)', () => {
  it('writes in memory first, in a directory closed to other users, and removes it on close', async () => {
    const dataDir = temp('balise-spool-data-');
    const memoryRoot = temp('balise-spool-shm-');
    const spool = openInsertSpool(dataDir, memoryRoot);
    expect(spool.dirs).toEqual([memorySpoolDir(dataDir, memoryRoot), diskSpoolDir(dataDir)]);
    expect(fs.statSync(spool.dirs[0]!).mode & 0o777).toBe(0o700);
    const file = await spool.write(Buffer.from('[1]'));
    expect(path.dirname(file)).toBe(spool.dirs[0]);
    expect(fs.readFileSync(file, 'utf8')).toBe('[1]');
    spool.close();
    expect(fs.existsSync(spool.dirs[0]!)).toBe(false);
  });

  it("writes a batch given in parts (its jobs' payloads) as one file, in order, without joining them first", async () => {
    const spool = openInsertSpool(temp('balise-spool-data-'), temp('balise-spool-shm-'));
    const jobs = Array.from({ length: 1500 }, (_, i) => Buffer.from(`[${i},"job ${i}"]`));
    // More parts than one writev call takes at once (IOV_MAX, 1024 here): every one still lands.
    const parts = jobs.flatMap((job, i) => (i === 0 ? [job] : [Buffer.from('\n'), job]));
    const file = await spool.write(parts);
    expect(fs.readFileSync(file, 'utf8')).toBe(jobs.map(String).join('\n'));
    spool.close();
  });

  it.each([
    ['open to other users', (dir: string) => fs.mkdirSync(dir, { mode: 0o755 })],
    ['a symbolic link', (dir: string) => fs.symlinkSync(temp('balise-spool-elsewhere-'), dir)],
  ])('does not use a memory directory that another made first (%s): the disk takes every insert', async (_, makeFirst) => {
    const dataDir = temp('balise-spool-data-');
    const memoryRoot = temp('balise-spool-shm-');
    const taken = memorySpoolDir(dataDir, memoryRoot);
    makeFirst(taken);
    const spool = openInsertSpool(dataDir, memoryRoot);
    expect(spool.dirs).toEqual([diskSpoolDir(dataDir)]);
    expect(path.dirname(await spool.write(Buffer.from('[1]')))).toBe(diskSpoolDir(dataDir));
  });

  it('has no memory directory where the machine has no /dev/shm', () => {
    const dataDir = temp('balise-spool-data-');
    expect(openInsertSpool(dataDir, path.join(dataDir, 'no-such-dir')).dirs).toEqual([diskSpoolDir(dataDir)]);
  });

  it('inlines only the quoted file path, the settings and the format into the INSERT', () => {
    expect(insertFromFile('db.events', "/data/o'clock\\x.json", { optimize_on_insert: 0 }, ['a', 'b'])).toBe(
      "INSERT INTO db.events (a, b) FROM INFILE '/data/o\\'clock\\\\x.json' COMPRESSION 'none' SETTINGS optimize_on_insert = 0 FORMAT JSONCompactEachRow",
    );
    expect(insertFromFile('db.quarantine', '/f.json', {})).toBe("INSERT INTO db.quarantine FROM INFILE '/f.json' COMPRESSION 'none' FORMAT JSONEachRow");
  });

  it('over HTTP, the same INSERT with its rows following it (a ClickHouse server)', () => {
    expect(insertStatement('db.events', { optimize_on_insert: 0 }, ['a', 'b'])).toBe('INSERT INTO db.events (a, b) SETTINGS optimize_on_insert = 0 FORMAT JSONCompactEachRow');
    expect(insertStatement('db.quarantine', {})).toBe('INSERT INTO db.quarantine FORMAT JSONEachRow');
  });
});
