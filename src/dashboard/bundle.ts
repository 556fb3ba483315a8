import fs from 'node:fs';
import path from 'node:path';
import { BaliseError } from '../errors.ts';
import { IS_GIT_CHECKOUT as DEV_CHECKOUT } from '../util/checkout.ts';
import { buildDashboard, LIVE_OUT_FILE, OUT_FILE } from './build.mjs';

const WEB_DIR = path.join(import.meta.dirname, 'web');
export const DASHBOARD_BUNDLE = OUT_FILE;
export const LIVE_BUNDLE = LIVE_OUT_FILE;

function newestSource(): number {
  return Math.max(...fs.readdirSync(WEB_DIR).map((name) => fs.statSync(path.join(WEB_DIR, name)).mtimeMs));
}

function isStale(): boolean {
  try {
    return Math.min(fs.statSync(OUT_FILE).mtimeMs, fs.statSync(LIVE_OUT_FILE).mtimeMs) < newestSource();
  } catch {
    return true;
  }
}

let building: Promise<void> | undefined;

/**
 * Builds public/app.js when it is missing or older than its sources (once per process).
 * The lead calls it at start-up so the first page load does not pay for the build.
 */
async function buildIfNeeded(): Promise<void> {
  const missing = [OUT_FILE, LIVE_OUT_FILE].filter((file) => !fs.existsSync(file));
  if (DEV_CHECKOUT ? !isStale() : missing.length === 0) return;
  if (!DEV_CHECKOUT) throw new BaliseError('dashboard_missing', `the dashboard bundle ${missing.join(' and ')} is missing: this install was packed without its prepack build (npm pack runs it)`);
  await buildDashboard();
}

export function ensureDashboardBuilt(): Promise<void> {
  building ??= buildIfNeeded().catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}
