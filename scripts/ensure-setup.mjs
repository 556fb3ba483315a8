#!/usr/bin/env node
// First-run set-up for `npm start` and `npm test` on a fresh machine: node modules, then
// redis-server (through apt-get when missing and we are allowed to), and, for tests, Chromium.
// Either it gets everything, or it stops with one line saying what to install.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const purpose = process.argv[2] ?? 'start';
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', cwd: root }).status === 0;
const fail = (line) => {
  console.error(`balise: ${line}`);
  process.exit(1);
};

const [major] = process.versions.node.split('.').map(Number);
if (major < 20) fail(`Node.js 20 or later is required (this is ${process.versions.node}).`);

if (!fs.existsSync(path.join(root, 'node_modules', '.package-lock.json')) && !fs.existsSync(path.join(root, 'node_modules', 'chdb'))) {
  console.log('balise: installing node modules (first run)…');
  // `npm ci`: exactly the locked versions, and the lock file is left as committed.
  if (!run('npm', ['ci', '--no-audit', '--no-fund'])) fail('`npm ci` failed; run it yourself to see why.');
}

const aptPackages = [];
if (!process.env.REDIS_URL && !has('redis-server')) aptPackages.push('redis-server');
if (purpose === 'test' && !fs.existsSync('/usr/bin/chromium')) aptPackages.push('chromium');
if (aptPackages.length) {
  const root_ = typeof process.getuid === 'function' && process.getuid() === 0;
  const canSudo = !root_ && has('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  if (!has('apt-get') || (!root_ && !canSudo)) {
    fail(
      `missing ${aptPackages.join(' and ')}: install ${aptPackages.length > 1 ? 'them' : 'it'} (Debian/Ubuntu: sudo apt-get install -y ${aptPackages.join(' ')})${aptPackages.includes('redis-server') ? ', or set REDIS_URL' : ''}.`,
    );
  }
  const sudo = root_ ? [] : ['sudo', '-n'];
  console.log(`balise: installing ${aptPackages.join(', ')} with apt-get…`);
  const apt = (...args) => (sudo.length ? run(sudo[0], [...sudo.slice(1), 'apt-get', ...args]) : run('apt-get', args));
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  Object.assign(process.env, env);
  if (!apt('update', '-qq') || !apt('install', '-y', '-qq', '--no-install-recommends', ...aptPackages)) {
    fail(`apt-get could not install ${aptPackages.join(' ')}; install ${aptPackages.length > 1 ? 'them' : 'it'} yourself.`);
  }
}
