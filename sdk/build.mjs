// Builds the SDK bundles and prints the browser core's minified + gzipped size.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = (f) => join(here, 'src', f);
const dist = (f) => join(here, 'dist', f);
const common = { bundle: true, legalComments: 'none', logLevel: 'warning' };
const browser = { ...common, platform: 'browser', target: 'es2020' };

/** Builds every bundle; returns the browser core's sizes in bytes. */
export async function buildSdk() {
  await Promise.all([
    build({ ...browser, entryPoints: [src('browser-global.ts')], outfile: dist('balise.browser.min.js'), format: 'iife', minify: true, mangleProps: /^_/ }),
    build({ ...browser, entryPoints: [src('browser.ts')], outfile: dist('browser.mjs'), format: 'esm' }),
    build({ ...common, entryPoints: [src('node.ts')], outfile: dist('node.mjs'), format: 'esm', platform: 'node', target: 'node20' }),
    build({ ...common, entryPoints: [src('dev.ts')], outfile: dist('dev.mjs'), format: 'esm', platform: 'neutral', external: ['ajv', 'ajv-formats'] }),
  ]);
  const min = readFileSync(dist('balise.browser.min.js'));
  return { minified: min.length, gzipped: gzipSync(min, { level: 9 }).length };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { minified, gzipped } = await buildSdk();
  console.log(`browser core: ${minified} B minified, ${gzipped} B min+gzip (budget 3072 B)`);
  if (gzipped > 3072) process.exitCode = 1;
}
