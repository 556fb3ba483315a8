import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import type { Config } from './index.ts';
import { makeDirs } from '../util/make-dirs.ts';

/**
 * Out of the box there is no key to configure: a write key and an admin token are generated
 * into the data directory on first start (mode 600) and reused, so the demo and the CLI find
 * them. BALISE_WRITE_KEYS / BALISE_ADMIN_TOKEN / BALISE_PII_KEY take precedence when set.
 */
function readOrCreate(file: string, make: () => string): string {
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    if (existing) return existing;
  } catch {
    // first start
  }
  const value = make();
  try {
    makeDirs(path.dirname(file), 0o700);
    fs.writeFileSync(file, `${value}\n`, { mode: 0o600 });
  } catch (error) {
    // Usually the first write of a data directory: say which, in one line.
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ConfigError('BALISE_DATA_DIR', `cannot write ${file} (${code}): the data directory must be a directory this user can write`);
  }
  return value;
}

export const writeKeyFile = (dataDir: string) => path.join(dataDir, 'write-key');
export const adminTokenFile = (dataDir: string) => path.join(dataDir, 'admin-token');
export const piiKeyFile = (dataDir: string) => path.join(dataDir, 'pii-key');

/**
 * The HMAC key of `pii_action: hash`. Every API process must use the same one (else one value
 * gets two hashes and joins break): BALISE_PII_KEY when set, else generated into the data dir.
 * Changing it changes every hash from then on.
 */
export function resolvePiiKey(config: Pick<Config, 'piiKey' | 'dataDir'>): string {
  return config.piiKey ?? readOrCreate(piiKeyFile(config.dataDir), () => randomBytes(32).toString('hex'));
}

export function resolveWriteKeys(config: Pick<Config, 'writeKeys' | 'dataDir'>): Map<string, string> {
  if (config.writeKeys.size > 0) return config.writeKeys;
  return new Map([['default', readOrCreate(writeKeyFile(config.dataDir), () => `wk_${randomBytes(16).toString('hex')}`)]]);
}

export function resolveAdminToken(config: Pick<Config, 'adminToken' | 'dataDir'>): string {
  return config.adminToken ?? readOrCreate(adminTokenFile(config.dataDir), () => `adm_${randomBytes(24).toString('hex')}`);
}

/** For clients (CLI, demo) of a running server: the token without creating one. */
export function readAdminToken(config: Pick<Config, 'adminToken' | 'dataDir'>): string | undefined {
  if (config.adminToken) return config.adminToken;
  try {
    return fs.readFileSync(adminTokenFile(config.dataDir), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function readWriteKey(config: Pick<Config, 'writeKeys' | 'dataDir'>): string | undefined {
  const first = config.writeKeys.values().next();
  if (!first.done) return first.value;
  try {
    return fs.readFileSync(writeKeyFile(config.dataDir), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
