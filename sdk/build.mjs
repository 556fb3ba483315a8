// Builds the SDK bundles and prints the browser core's minified + gzipped size.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = (f) => join(here, 'src', f);
const dist = (f) => join(here, 'dist', f);
const common = { bundle: true, legalComments: 'none', logLevel: 'warning' };
// No "use strict" prologue (the root tsconfig's strict would add one): the code is strict-safe and the 13 bytes count.
const browser = { ...common, platform: 'browser', target: 'es2020', tsconfigRaw: { compilerOptions: { alwaysStrict: false } } };

/**
 * `.d.ts` files for package consumers, next to the bundles (dist/types/): `types` pointing at the
 * `.ts` sources made a strict consumer fail with TS5097 under NodeNext or bundler resolution.
 * Relative `.ts` specifiers become `.js`, which both resolutions map to the `.d.ts` beside them.
 */
export async function buildDeclarations() {
  const { default: ts } = await import('typescript');
  const program = ts.createProgram(['node.ts', 'browser.ts', 'dev.ts', 'violations.ts'].map(src), {
    declaration: true,
    emitDeclarationOnly: true,
    outDir: dist('types'),
    rootDir: join(here, 'src'),
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    rewriteRelativeImportExtensions: true,
    skipLibCheck: true,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
  });
  // tsc keeps `.ts` specifiers in declarations; consumers without allowImportingTsExtensions need `.js`.
  const result = program.emit(undefined, (file, text) => {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text.replace(/(from\s+['"]\.{1,2}\/[^'"]+)\.ts(['"])/g, '$1.js$2'));
  });
  const problems = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
  if (problems.length) throw new Error(ts.formatDiagnostics(problems, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => here, getNewLine: () => '\n' }));
}

const iife = { ...browser, format: 'iife', minify: true, mangleProps: /^_/ };
const gzipSize = (f) => gzipSync(readFileSync(f), { level: 9 }).length;

/** min+gzip bytes of the core and snippet bundles, built in memory (for the size check in tests). */
export async function browserSizes() {
  const gzipped = async (entry) => {
    const out = await build({ ...iife, entryPoints: [src(entry)], write: false });
    return gzipSync(out.outputFiles[0].contents, { level: 9 }).length;
  };
  return { core: await gzipped('browser-global.ts'), snippet: await gzipped('browser-snippet.ts') };
}

/** Builds every bundle; returns the browser core's sizes in bytes (and the snippet bundle's). */
export async function buildSdk({ declarations = true } = {}) {
  await Promise.all([
    build({ ...iife, entryPoints: [src('browser-global.ts')], outfile: dist('balise.browser.min.js') }),
    // What the README's <script> snippet loads: the core plus auto-initialisation from data-* attributes.
    build({ ...iife, entryPoints: [src('browser-snippet.ts')], outfile: dist('balise.min.js') }),
    build({ ...browser, entryPoints: [src('browser.ts')], outfile: dist('browser.mjs'), format: 'esm' }),
    build({ ...common, entryPoints: [src('node.ts')], outfile: dist('node.mjs'), format: 'esm', platform: 'node', target: 'node20' }),
    build({ ...common, entryPoints: [src('dev.ts')], outfile: dist('dev.mjs'), format: 'esm', platform: 'neutral', external: ['ajv', 'ajv-formats'] }),
    build({ ...common, entryPoints: [src('violations.ts')], outfile: dist('violations.mjs'), format: 'esm', platform: 'neutral' }),
  ]);
  if (declarations) await buildDeclarations();
  const min = readFileSync(dist('balise.browser.min.js'));
  return { minified: min.length, gzipped: gzipSize(dist('balise.browser.min.js')), snippetGzipped: gzipSize(dist('balise.min.js')) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { minified, gzipped, snippetGzipped } = await buildSdk();
  console.log(`browser core: ${minified} B minified, ${gzipped} B min+gzip (budget 3072 B); snippet bundle balise.min.js: ${snippetGzipped} B min+gzip`);
  if (gzipped > 3072) process.exitCode = 1;
}
