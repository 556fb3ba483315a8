/**
 * The inputs of an import, as line streams: a file (JSON lines, gzipped or not), a zip archive
 * (Amplitude's export: one source per entry, each a gzipped JSON-lines file), or a directory of
 * those (walked in name order, so a resumed run meets the sources in the same order).
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import { BaliseError } from '../errors.ts';

export interface Source {
  /** Stable name in the checkpoint: the path relative to the input, `archive.zip!entry` for zip entries. */
  key: string;
  /** Bytes this source occupies on disk (compressed), for the progress bar. */
  size: number;
  open(): Promise<SourceStream>;
}

export interface SourceStream {
  lines: AsyncIterable<string>;
  /** Bytes read from disk so far. */
  bytesRead(): number;
}

const LINE_FILES = /\.(json|jsonl|ndjson|txt)(\.gz)?$|\.gz$/i;
const ZIP_FILES = /\.zip$/i;

function linesOf(raw: Readable, gzipped: boolean): SourceStream {
  let read = 0;
  raw.on('data', (chunk: Buffer) => (read += chunk.length));
  let decoded: Readable = raw;
  if (gzipped) {
    const gunzip = zlib.createGunzip();
    raw.on('error', (error) => gunzip.destroy(error));
    decoded = raw.pipe(gunzip);
  }
  return { lines: readline.createInterface({ input: decoded, crlfDelay: Infinity }), bytesRead: () => read };
}

/** Gzip is told by its magic bytes, whatever the file is called. */
function isGzipFile(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(2);
    return fs.readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}

function fileSource(file: string, key: string): Source {
  return {
    key,
    size: fs.statSync(file).size,
    async open() {
      return linesOf(fs.createReadStream(file, { highWaterMark: 1 << 20 }), isGzipFile(file));
    },
  };
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzl.open(file, { lazyEntries: true, autoClose: false }, (error, zip) => (error ? reject(error) : resolve(zip))));
}

async function zipEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      if (!entry.fileName.endsWith('/')) entries.push(entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', reject);
    zip.readEntry();
  });
}

async function zipSources(file: string, key: string, opened: yauzl.ZipFile[]): Promise<Source[]> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(file);
  } catch (error) {
    throw new BaliseError('import_invalid_zip', `${file} is not a readable zip archive: ${(error as Error).message}`);
  }
  opened.push(zip);
  const entries = (await zipEntries(zip)).filter((e) => LINE_FILES.test(e.fileName)).sort((a, b) => a.fileName.localeCompare(b.fileName));
  return entries.map((entry) => ({
    key: `${key}!${entry.fileName}`,
    size: entry.compressedSize,
    open: () => new Promise<SourceStream>((resolve, reject) => zip.openReadStream(entry, (error, stream) => (error ? reject(error) : resolve(linesOf(stream, /\.gz$/i.test(entry.fileName)))))),
  }));
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (fs.statSync(full).isDirectory()) out.push(...walk(full));
    else if (LINE_FILES.test(name) || ZIP_FILES.test(name)) out.push(full);
  }
  return out;
}

export interface Inputs {
  sources: Source[];
  close(): void;
}

/** Every source under `input`, in a stable order. */
export async function listSources(input: string): Promise<Inputs> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(input);
  } catch {
    throw new BaliseError('import_input_missing', `no such file or directory: ${input}`);
  }
  const files = stat.isDirectory() ? walk(input) : [input];
  const opened: yauzl.ZipFile[] = [];
  const sources: Source[] = [];
  for (const file of files) {
    const key = stat.isDirectory() ? path.relative(input, file) : path.basename(file);
    if (ZIP_FILES.test(file)) sources.push(...(await zipSources(file, key, opened)));
    else sources.push(fileSource(file, key));
  }
  if (sources.length === 0) throw new BaliseError('import_input_empty', `nothing to import in ${input}: expected .json, .jsonl, .ndjson, .gz or .zip files`);
  return { sources, close: () => opened.forEach((zip) => zip.close()) };
}
