/**
 * A dashboard session ends with the token that opened it: revoking a token (BALISE_TOKENS) or
 * rotating BALISE_ADMIN_TOKEN logs out every browser logged in with it, across a restart, while
 * the sessions of tokens still configured go on.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startStack, tempDir, type Stack } from '../helpers/stack.ts';

const sha = (t: string) => createHash('sha256').update(t).digest('hex');
const VIEWER = 'viewer-token-revoked-0123456789';
const ANALYST = 'analyst-token-kept-0123456789';
const OLD_ADMIN = 'admin-token-before-rotation-0123';

const stacks: Stack[] = [];
afterAll(async () => {
  for (const s of stacks) await s.stop().catch(() => undefined);
});

async function start(dataDir: string, tokens: string, adminToken: string): Promise<Stack> {
  const stack = await startStack({
    planDir: path.join(REPO_ROOT, 'tests/fixtures/privacy-plan'),
    queueKeys: { name: 'session-revocation', prefix: '{srev}' },
    env: { BALISE_DATA_DIR: dataDir, BALISE_TOKENS: tokens, BALISE_ADMIN_TOKEN: adminToken },
  });
  stacks.push(stack);
  return stack;
}

async function logIn(stack: Stack, token: string): Promise<string> {
  const login = await fetch(`${stack.baseUrl}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}` });
  expect(login.status).toBe(303);
  return login.headers.get('set-cookie')!.split(';')[0]!;
}

const status = async (stack: Stack, route: string, cookie: string) => (await fetch(`${stack.baseUrl}${route}`, { headers: { cookie } })).status;

describe('dashboard sessions', () => {
  it('end when their token is revoked or rotated, across a restart; the others go on', async () => {
    const dataDir = tempDir('balise-sessions-');
    const before = await start(dataDir, `pm:viewer:${sha(VIEWER)},ana:analyst:${sha(ANALYST)}`, OLD_ADMIN);
    const viewer = await logIn(before, VIEWER);
    const analyst = await logIn(before, ANALYST);
    const admin = await logIn(before, OLD_ADMIN);
    expect(await status(before, '/api/kpis', viewer)).toBe(200);
    expect(await status(before, '/api/admin/audit', admin)).toBe(200);
    await before.stop();

    // pm's token is revoked and the admin token rotated; ana's token stays.
    const after = await start(dataDir, `ana:analyst:${sha(ANALYST)}`, 'admin-token-after-rotation-4567');
    expect(await status(after, '/api/kpis', viewer)).toBe(401);
    expect(await status(after, '/api/admin/audit', admin)).toBe(401);
    expect(await status(after, '/api/kpis', analyst)).toBe(200);
    // The dashboard's pages send a revoked session to the login form.
    const page = await fetch(`${after.baseUrl}/`, { redirect: 'manual', headers: { cookie: admin } });
    expect([page.status, page.headers.get('location')]).toEqual([302, '/login']);
  }, 120_000);
});
