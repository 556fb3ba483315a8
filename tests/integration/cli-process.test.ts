import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/process.ts';
import { REPO_ROOT, tempDir } from '../helpers/stack.ts';

const BIN = path.join(REPO_ROOT, 'bin/balise.js');
const TOKEN = 'cli-admin-token-0123456789';
const ANSI = /\x1b\[/; // eslint-disable-line no-control-regex

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `balise` CLI as a child process; stdout and stderr are pipes (not a terminal). */
function balise(args: string[], env: Record<string, string> = {}, command = process.execPath, prefix: string[] = [BIN]): Promise<Run> {
  return new Promise((resolve) => {
    const cwd = tempDir('balise-cli-');
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['NO_COLOR', 'FORCE_COLOR', 'BALISE_URL', 'PORT', 'BALISE_ADMIN_TOKEN'].includes(k)));
    execFile(command, [...prefix, ...args], { cwd, env: { ...base, BALISE_ADMIN_TOKEN: TOKEN, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The same, under a pseudo-terminal (util-linux `script`), as a person at a terminal runs it. */
function baliseOnTty(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return balise(['-qec', quoted, '/dev/null'], env, 'script', []);
}

// Stands in for the running Balise server's POST /api/sql (src/api/router.ts), so the
// test sees which URL the CLI called and with which token.
let server: http.Server;
let serverUrl: string;
const calls: string[] = [];
beforeAll(async () => {
  server = http.createServer((req, res) => {
    calls.push(`${req.method} ${req.url} ${req.headers.authorization}`);
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        columns: [
          { name: 'event', type: 'String' },
          { name: 'n', type: 'UInt64' },
        ],
        rows: [['signed_up', 3]],
        truncated: false,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('balise CLI process', () => {
  it('prints its version and exits 0', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const run = await balise(['--version']);
    expect(run).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('exits 2 on a usage error, as text or, under --json, as one JSON object on stdout', async () => {
    const text = await balise(['nope']);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain("unknown command 'nope'");
    const json = await balise(['kpis', '--json', '--frm', '2026-01-01']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'usage', message: "unknown option '--frm'\n(Did you mean --from?)" } });
    expect(json.stderr).toBe('');
    const badUrl = await balise(['--url', 'ftp://example.org', 'kpis', '--json']);
    expect(badUrl.code).toBe(2);
    expect(JSON.parse(badUrl.stdout).error.code).toBe('usage');
  });

  it('exits 3 when no server answers at the URL it was given', async () => {
    const port = await freePort();
    const json = await balise(['sql', 'SELECT 1', '--json', '--url', `http://127.0.0.1:${port}`]);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'server_unreachable', message: expect.stringContaining(`http://127.0.0.1:${port}`) } });
    const text = await balise(['sql', 'SELECT 1'], { PORT: String(port) });
    expect(text.code).toBe(3);
    expect(text.stderr).toMatch(/^balise: Balise is not running at http:\/\/127\.0\.0\.1:\d+.*\[server_unreachable\]\n$/);
  });

  it('balise demo exits 3 at once when no server answers, rather than waiting on the retries of its SDK', async () => {
    const port = await freePort();
    const run = await balise(['demo', '--freelancers', '10', '--days', '7'], { PORT: String(port), BALISE_WRITE_KEYS: 'demo:wk_demo_key_1' });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(new RegExp(`^balise: Balise is not running at http://127\\.0\\.0\\.1:${port}: .*--host.*\\[server_unreachable\\]\\n$`));
  });

  it('talks to the server named by --url or BALISE_URL', async () => {
    calls.length = 0;
    const viaFlag = await balise(['--url', serverUrl, 'sql', 'SELECT event, count() AS n FROM events GROUP BY ALL', '--json']);
    expect(viaFlag.code).toBe(0);
    expect(JSON.parse(viaFlag.stdout).rows).toEqual([['signed_up', 3]]);
    const viaEnv = await balise(['sql', 'SELECT 1'], { BALISE_URL: `${serverUrl}/` });
    expect(viaEnv.code).toBe(0);
    expect(calls).toEqual([`POST /api/sql Bearer ${TOKEN}`, `POST /api/sql Bearer ${TOKEN}`]);
  });

  it('draws tables in colour on a terminal only, and never with NO_COLOR', async () => {
    const piped = await balise(['sql', 'SELECT 1', '--url', serverUrl]);
    expect(piped.stdout).toContain('│ signed_up │ 3 │');
    expect(piped.stdout).not.toMatch(ANSI);
    const tty = await baliseOnTty(['sql', 'SELECT 1', '--url', serverUrl]);
    expect(tty.code).toBe(0);
    expect(tty.stdout).toContain('signed_up');
    expect(tty.stdout).toMatch(ANSI);
    const noColor = await baliseOnTty(['sql', 'SELECT 1', '--url', serverUrl], { NO_COLOR: '1' });
    expect(noColor.stdout).toContain('│ signed_up │ 3 │');
    expect(noColor.stdout).not.toMatch(ANSI);
  });
});
