import fs from 'node:fs';
import path from 'node:path';

/**
 * chDB binds one data directory per process. The process that opened it records itself here
 * (and its API URL when it has one), so other processes of the same data directory (`serve`
 * replicas, the CLI) can go through it, or say in one line which process holds the engine.
 */
export interface EngineOwner {
  pid: number;
  /** The owner's HTTP API, when it runs one (`up`, or a `serve` that owns the engine). */
  url?: string;
  /** Where users reach it, when that is not `url`: `up`'s public port, its API children's (`url` is then the primary's loopback API). */
  publicUrl?: string;
}

const ownerPath = (dataDir: string) => path.join(dataDir, 'engine.json');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live process that owns the embedded engine of this data directory, if any. */
export function readEngineOwner(dataDir: string): EngineOwner | undefined {
  try {
    const owner = JSON.parse(fs.readFileSync(ownerPath(dataDir), 'utf8')) as Partial<EngineOwner>;
    if (typeof owner.pid !== 'number' || !alive(owner.pid)) return undefined;
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
    return { pid: owner.pid, url: text(owner.url), publicUrl: text(owner.publicUrl) };
  } catch {
    return undefined;
  }
}

export function writeEngineOwner(dataDir: string, owner: EngineOwner): void {
  fs.writeFileSync(ownerPath(dataDir), JSON.stringify(owner));
}

/** The address users reach this process's API at, beside the one other processes of the data directory use. */
export function recordPublicUrl(dataDir: string, publicUrl: string): void {
  const owner = readEngineOwner(dataDir);
  if (owner?.pid === process.pid) writeEngineOwner(dataDir, { ...owner, publicUrl });
}

export function clearEngineOwner(dataDir: string): void {
  if (readEngineOwner(dataDir)?.pid === process.pid) fs.rmSync(ownerPath(dataDir), { force: true });
}

/** One line saying who holds the engine, for errors of processes that cannot open it. */
export function describeEngineOwner(dataDir: string): string {
  const owner = readEngineOwner(dataDir);
  if (!owner) return 'another process';
  const url = owner.publicUrl ?? owner.url;
  return `Balise process ${owner.pid}${url ? ` (${url})` : ''}`;
}
