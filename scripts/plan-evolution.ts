/**
 * `npm run test:plan-evolution [-- <test files…>]`: copies this checkout, evolves the example
 * plan in the copy by several versions (tests/helpers/plan-evolution.ts), then runs the test
 * suite there (or the files named). Proves that a team editing tracking-plan/ keeps `npm test`
 * green. `--keep` leaves the copy for inspection.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evolvedCheckout } from '../tests/helpers/plan-evolution.ts';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const files = args.filter((a) => a !== '--keep');

const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-evolved-'));
const { versions } = await evolvedCheckout(root, dest);
console.log(`example plan evolved through ${versions.join(', ')} in ${dest}`);
// A vitest run started from inside a vitest worker must not inherit the worker's identity; the
// copy does not run the evolution test itself again.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_ENV' && k !== 'TEST'));
const result = spawnSync(process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--exclude', 'tests/integration/plan-evolution.test.ts', ...files], {
  cwd: dest,
  stdio: 'inherit',
  env,
});
if (!keep) fs.rmSync(dest, { recursive: true, force: true });
process.exit(result.status ?? 1);
