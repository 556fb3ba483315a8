// Bundles the dashboard front-end (web/*.ts + Chart.js) into public/app.js, and the live events
// page (web/live.ts) into public/live.js.
// Run directly (`npm run build:dashboard`) or imported by the server (ensureDashboardBuilt).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const OUT_FILE = path.join(here, 'public', 'app.js');
export const LIVE_OUT_FILE = path.join(here, 'public', 'live.js');

/** Builds public/app.js and public/live.js; returns the size of app.js in bytes. */
export async function buildDashboard({ minify = true } = {}) {
  // esbuild is a build tool (devDependency): loaded only when a build is needed, so a production
  // install with the prebuilt bundle runs without it.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: { app: path.join(here, 'web', 'main.ts'), live: path.join(here, 'web', 'live.ts') },
    outdir: path.dirname(OUT_FILE),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    minify,
    sourcemap: true,
    metafile: true,
    legalComments: 'eof',
    logLevel: 'silent',
  });
  return result.metafile.outputs[path.relative(process.cwd(), OUT_FILE)]?.bytes ?? 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const bytes = await buildDashboard();
  console.log(`dashboard: ${path.relative(process.cwd(), OUT_FILE)} ${(bytes / 1024).toFixed(1)} KB`);
}
