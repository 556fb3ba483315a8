import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, tempDir } from './stack.ts';

const run = promisify(execFile);

/**
 * A copy of the working tree (tracked and new files, as git sees them) with the checkout's
 * node_modules linked in for the prepack build: packing writes the bundles into the copy, never
 * into the checkout that other test files are reading.
 */
export async function sourceCopy(): Promise<string> {
  const dir = tempDir('balise-src-');
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
  for (const file of stdout.split('\0').filter(Boolean)) {
    if (!fs.existsSync(path.join(REPO_ROOT, file))) continue; // deleted in the working tree
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, file), path.join(dir, file));
  }
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}
