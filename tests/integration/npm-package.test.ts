import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { freePort } from '../helpers/process.ts';
import { sourceCopy } from '../helpers/source-copy.ts';
import { REPO_ROOT, tempDir } from '../helpers/stack.ts';

const run = promisify(execFile);

it('npm pack → npm install -g of the tarball → balise --version, init, up in an empty folder takes an event and reads it back', async () => {
  const src = await sourceCopy();
  const out = tempDir('balise-pack-');
  const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  await run('npm', ['pack', '--pack-destination', out], { cwd: src, env: npmEnv, maxBuffer: 64 * 1024 * 1024 });
  const [filename] = fs.readdirSync(out).filter((f) => f.endsWith('.tgz'));
  const listing = await run('tar', ['-tzf', path.join(out, filename!)], { maxBuffer: 64 * 1024 * 1024 });
  const shipped = new Set(listing.stdout.split('\n').map((f) => f.replace(/^package\//, '')));
  for (const built of ['src/dashboard/public/app.js', 'sdk/dist/balise.browser.min.js', 'sdk/src/node.ts', 'templates/minimal/tracking-plan/plan.yaml']) expect(shipped).toContain(built);

  // An empty prefix, as on a machine with only Node.js; the npm cache makes it quick and the
  // registry is there for what the cache lacks.
  const prefix = tempDir('balise-prefix-');
  await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', path.join(out, filename!)], { cwd: out, env: npmEnv, maxBuffer: 64 * 1024 * 1024 });
  const bin = path.join(prefix, 'bin', 'balise');
  const devDependencies = Object.keys((JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies);
  const installed = path.join(prefix, 'lib', 'node_modules', 'balise');
  for (const dev of ['chart.js', 'vitest', 'typescript']) {
    expect(devDependencies).toContain(dev);
    expect(fs.existsSync(path.join(installed, 'node_modules', dev))).toBe(false);
  }

  const work = tempDir('balise-work-');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BALISE_') && !['PORT', 'REDIS_URL', 'CLICKHOUSE_URL', 'LOG_FORMAT'].includes(k)));
  const version = await run(bin, ['--version'], { cwd: work, env });
  expect(version.stdout.trim()).toBe((JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  const init = await run(bin, ['init'], { cwd: work, env });
  expect(init.stdout).toContain('Wrote');
  expect(fs.existsSync(path.join(work, 'tracking-plan', 'plan.yaml'))).toBe(true);

  const port = await freePort();
  const upEnv = { ...env, PORT: String(port), BALISE_BATCH_MAX_WAIT_MS: '100' };
  const up = spawn(bin, ['up'], { cwd: work, env: upEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  up.stdout.on('data', (c: Buffer) => (log += c.toString()));
  up.stderr.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
  try {
    const baseUrl = `http://127.0.0.1:${port}`;
    for (let ready = false; !ready;) {
      if (up.exitCode !== null) throw new Error(`balise up exited with ${up.exitCode}:\n${log}`);
      ready = await fetch(`${baseUrl}/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 200));
    }
    // Logs are JSON when stdout is not a terminal.
    expect(JSON.parse(log.split('\n')[0]!)).toMatchObject({ msg: expect.any(String) });

    const writeKey = fs.readFileSync(path.join(work, '.data', 'write-key'), 'utf8').trim();
    const messageId = `pkg-${port}`;
    const sent = await fetch(`${baseUrl}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ messageId, userId: 'fr_1', event: 'mission_proposal_received', properties: { mission_id: 'msn_1', category: 'bi' } }),
    });
    expect(await sent.json()).toMatchObject({ success: true, accepted: 1 });

    // Wait for the worker's insert, then read the event back with the installed CLI (it finds
    // the server from PORT and the admin token in .data).
    const query = `SELECT event, count() AS n FROM events WHERE message_id = '${messageId}' GROUP BY event`;
    const adminToken = fs.readFileSync(path.join(work, '.data', 'admin-token'), 'utf8').trim();
    for (let stored = false, attempt = 0; !stored && attempt < 100; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 200));
      const response = await fetch(`${baseUrl}/api/sql`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      stored = ((await response.json()) as { rows?: unknown[][] }).rows?.length === 1;
    }
    const sql = await run(bin, ['sql', query, '--json'], { cwd: work, env: upEnv });
    expect((JSON.parse(sql.stdout) as { rows: unknown[][] }).rows).toEqual([['mission_proposal_received', 1]]);
  } finally {
    up.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
}, 600_000); // unpacking chDB (≈ 550 MB) dominates; a loaded CI machine needs the margin

// Found 2026-12-05: `npm pack` of sdk/ in a fresh clone shipped no dist/, which every export names.
it('npm pack ./sdk in a fresh clone builds the SDK; an app that installs the tarball imports @balise/sdk and @balise/sdk/browser', async () => {
  const src = await sourceCopy();
  expect(fs.existsSync(path.join(src, 'sdk', 'dist'))).toBe(false);
  const out = tempDir('balise-sdk-pack-');
  const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  await run('npm', ['pack', './sdk', '--pack-destination', out], { cwd: src, env: npmEnv, maxBuffer: 16 * 1024 * 1024 });
  const [filename] = fs.readdirSync(out).filter((f) => f.endsWith('.tgz'));
  const app = tempDir('balise-sdk-app-');
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', path.join(out, filename!)], { cwd: app, env: npmEnv });
  const probe = `const node = await import('@balise/sdk'); const browser = await import('@balise/sdk/browser'); console.log(typeof node.createBalise, typeof browser.createBalise);`;
  const imported = await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: app });
  expect(imported.stdout.trim()).toBe('function function');
  for (const types of ['node.d.ts', 'browser.d.ts']) expect(fs.existsSync(path.join(app, 'node_modules', '@balise', 'sdk', 'dist', 'types', types)), types).toBe(true);
}, 120_000);
