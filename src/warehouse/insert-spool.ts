/**
 * Where an embedded insert puts its rows for the engine to read (decision 0049): in memory
 * (`/dev/shm`) when the machine has it, else, or when it is full, beside the engine on disk. A
 * file lives for the length of one insert; on disk, creating and removing one of ~14 MB several
 * times a second costs the disk's journal and the request tail. Jobs complete only after their
 * insert returns, so a file is never the only copy of an accepted event.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BaliseError } from '../errors.ts';
import { quoteString } from '../util/sql-quote.ts';
import { makeDirs } from '../util/make-dirs.ts';

/** Numeric engine settings for one insert. */
export type InsertSettings = Record<string, number>;

/** An insert's payload: whole, or in parts that follow one another (a batch's jobs). */
export type InsertBody = Buffer | readonly Buffer[];

export interface InsertSpool {
  /** The directories used, memory first; for tests and operators. */
  readonly dirs: readonly string[];
  /** Writes a payload to the first directory that takes it; returns its file. */
  write(body: InsertBody): Promise<string>;
  /** Removes the memory directory, once no insert runs: nothing is left in /dev/shm. */
  close(): void;
}

/** The disk spool's path for a data dir. */
export function diskSpoolDir(dataDir: string): string {
  return path.resolve(dataDir, 'insert-spool');
}

/** The memory spool's path for a data dir (nothing is created). */
export function memorySpoolDir(dataDir: string, memoryRoot = '/dev/shm'): string {
  return path.join(memoryRoot, `balise-spool-${createHash('sha256').update(diskSpoolDir(dataDir)).digest('hex').slice(0, 16)}`);
}

/**
 * The memory directory for this data dir: its name is derived from the data dir, so the next
 * start finds what a crash left there. Used only if it is ours alone (a directory, owned by this
 * user, closed to others): another user of a shared /dev/shm could have made it first to read
 * the events.
 */
function ownedMemoryDir(dir: string): string | undefined {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  const stat = fs.lstatSync(dir);
  return stat.isDirectory() && stat.uid === process.getuid?.() && (stat.mode & 0o077) === 0 ? dir : undefined;
}

/** Writes the parts one after the other, in one call: the whole batch is never copied into one buffer. */
async function writeParts(file: string, parts: readonly Buffer[]): Promise<void> {
  const handle = await fs.promises.open(file, 'w');
  try {
    const { bytesWritten } = await handle.writev(parts);
    const size = parts.reduce((n, part) => n + part.length, 0);
    if (bytesWritten !== size) throw new BaliseError('spool_write_short', `the spool file ${file} took ${bytesWritten} of ${size} bytes`);
  } finally {
    await handle.close();
  }
}

/** Writes a whole file, or leaves none: a partial one is removed before the error goes up. */
async function writeWhole(file: string, body: InsertBody): Promise<string> {
  try {
    await (Buffer.isBuffer(body) ? fs.promises.writeFile(file, body) : writeParts(file, body));
    return file;
  } catch (error) {
    await fs.promises.rm(file, { force: true });
    throw error;
  }
}

/** Its content, not the directory: an operator may have mounted it. */
function empty(dir: string): void {
  for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
}

/**
 * Opens the spool of the engine in `dataDir`, emptied: a file left there belongs to an insert
 * that died with its process. Call it only once the engine is ours (its lock is held), or
 * another process's inserts could lose the files they are reading.
 */
export function openInsertSpool(dataDir: string, memoryRoot = '/dev/shm'): InsertSpool {
  const disk = diskSpoolDir(dataDir);
  makeDirs(disk);
  // No /dev/shm (or not writable): mkdir fails there, and the disk takes every insert.
  const memory = ownedMemoryDir(memorySpoolDir(dataDir, memoryRoot));
  const dirs = memory ? [memory, disk] : [disk];
  for (const dir of dirs) empty(dir);
  return {
    dirs,
    async write(body) {
      const name = `${randomBytes(9).toString('base64url')}.json`;
      if (memory) {
        try {
          return await writeWhole(path.join(memory, name), body);
        } catch {
          // Memory full (or gone): the disk takes it.
        }
      }
      // The disk full: the insert fails, and its jobs wait in the queue.
      return writeWhole(path.join(disk, name), body);
    },
    close() {
      if (memory) fs.rmSync(memory, { recursive: true, force: true });
    },
  };
}

/**
 * The INSERT of JSON rows, JSONCompactEachRow in the order of `columns` when given, else
 * JSONEachRow; `from` is where the engine reads them (a spool file), absent when they follow
 * the statement (the body of an HTTP request). Table and column names are Balise's own, never a client's.
 */
export function insertStatement(table: string, settings: InsertSettings, columns?: readonly string[], from?: string): string {
  const named = columns ? ` (${columns.join(', ')})` : '';
  const set = Object.entries(settings)
    .map(([name, value]) => `${name} = ${value}`)
    .join(', ');
  return `INSERT INTO ${table}${named}${from ? ` ${from}` : ''}${set ? ` SETTINGS ${set}` : ''} FORMAT ${columns ? 'JSONCompactEachRow' : 'JSONEachRow'}`;
}

/** The INSERT that reads one spool file: only its quoted path is inlined. */
export function insertFromFile(table: string, file: string, settings: InsertSettings, columns?: readonly string[]): string {
  return insertStatement(table, settings, columns, `FROM INFILE ${quoteString(file)} COMPRESSION 'none'`);
}

/**
 * One INSERT of JSON rows (JSONCompactEachRow in the order of `columns` when given, else
 * JSONEachRow) that the engine reads from a spool file, removed when it returns, whatever it
 * returned. chDB's own insert of inline bytes costs the engine 2.5–3× the CPU of reading the
 * same rows from a file; the generic client's insert also turns them back into a JS string.
 */
export async function insertThroughSpool(
  spool: InsertSpool,
  run: (query: string) => Promise<unknown>,
  table: string,
  body: InsertBody,
  settings: InsertSettings,
  columns?: readonly string[],
): Promise<void> {
  const file = await spool.write(body);
  try {
    await run(insertFromFile(table, file, settings, columns));
  } finally {
    await fs.promises.rm(file, { force: true });
  }
}
