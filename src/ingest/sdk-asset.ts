/**
 * Serves Balise's own browser SDK, so a page needs one <script> line (README): the snippet bundle
 * at a versioned path with a year-long immutable cache (a new SDK version is a new URL), readable
 * from any origin. The bundle is built from sdk/src when missing or older than its sources.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import express, { type Request, type Response, type Router } from 'express';
import { BaliseError } from '../errors.ts';
import { IS_GIT_CHECKOUT as DEV_CHECKOUT } from '../util/checkout.ts';

const SDK_DIR = path.resolve(import.meta.dirname, '../../sdk');
export const SDK_BUNDLE = path.join(SDK_DIR, 'dist/balise.min.js');

/** The SDK's version, from its package.json: the path segment of the immutable URL. */
export function sdkVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(SDK_DIR, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Where the snippet bundle is served, relative to the API's base URL. */
export const sdkAssetPath = (version = sdkVersion()) => `/sdk/v${version}/balise.min.js`;

function isStale(): boolean {
  try {
    const built = fs.statSync(SDK_BUNDLE).mtimeMs;
    return fs.readdirSync(path.join(SDK_DIR, 'src')).some((f) => fs.statSync(path.join(SDK_DIR, 'src', f)).mtimeMs > built);
  } catch {
    return true;
  }
}

let building: Promise<void> | undefined;

async function buildIfNeeded(): Promise<void> {
  if (DEV_CHECKOUT ? !isStale() : fs.existsSync(SDK_BUNDLE)) return;
  if (!DEV_CHECKOUT) throw new BaliseError('sdk_bundle_missing', `the browser SDK bundle ${SDK_BUNDLE} is missing: this install was packed without its prepack build (npm pack runs it)`);
  const { buildSdk } = await import('../../sdk/build.mjs');
  await buildSdk({ declarations: false });
}

/** Builds sdk/dist when missing or stale (once per process; declarations are left to `npm run build:sdk`). */
export function ensureSdkBuilt(): Promise<void> {
  building ??= buildIfNeeded().catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}

export function createSdkAssetRouter(): Router {
  const router = express.Router();
  const version = sdkVersion();
  let bundle: { plain: Buffer; gzipped: Buffer } | undefined;
  const send = (cacheControl: string) => async (req: Request, res: Response) => {
    await ensureSdkBuilt();
    if (!bundle) {
      const plain = fs.readFileSync(SDK_BUNDLE);
      bundle = { plain, gzipped: gzipSync(plain, { level: 9 }) };
    }
    // Compressed once, for every page that loads it (about half the bytes): no CDN needed in front.
    const gzip = req.acceptsEncodings('gzip', 'identity') === 'gzip';
    res.setHeader('Vary', 'Accept-Encoding');
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
    res.setHeader('Cache-Control', cacheControl);
    // Loaded by customers' pages on other origins (and with crossorigin/SRI): readable from anywhere.
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.send(gzip ? bundle.gzipped : bundle.plain);
  };
  const immutable = send('public, max-age=31536000, immutable');
  const current = send('public, max-age=300');
  // One route for every version (the OpenAPI file describes it as such). Only the current SDK
  // exists; a tag pasted for another release (x.y.z) gets it, briefly cached, rather than a 404
  // that would stop every page still carrying the old tag after an upgrade.
  router.get('/sdk/v:version/balise.min.js', (req, res, next) =>
    req.params.version === version ? immutable(req, res) : /^\d+\.\d+\.\d+$/.test(req.params.version ?? '') ? current(req, res) : next(),
  );
  // Unversioned: always the current SDK, briefly cached (for trying things out, not for production pages).
  router.get('/sdk/balise.min.js', current);
  return router;
}
