import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  baliseProcessesOf,
  freePort,
  generateLoad,
  redisServersOf,
  runCli,
  startBaliseInTerminal,
  startBaliseProcess,
  TEST_ADMIN_TOKEN,
  TEST_WRITE_AUTH,
  TEST_WRITE_KEY,
  type BaliseProcess,
} from '../helpers/process.ts';
import { expectExactlyOnce } from '../helpers/exactly-once.ts';
import { REPO_ROOT, tempDir } from '../helpers/stack.ts';

const running: BaliseProcess[] = [];
const dataDirs: string[] = [];
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  // Whatever a failed assertion left running on our data directories.
  for (const dir of dataDirs) for (const pid of redisServersOf(dir)) process.kill(pid, 'SIGKILL');
});

function newDataDir(): string {
  const dir = tempDir();
  dataDirs.push(dir);
  return dir;
}

/** Resolves with the exit code, or 'hung' if the process is still running after `ms`. */
async function exitWithin(p: BaliseProcess, ms: number): Promise<number | null | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)));
  const code = await Promise.race([p.exited, hung]);
  clearTimeout(timer);
  return code;
}

async function track(baseUrl: string, messageId: string): Promise<number> {
  const res = await fetch(`${baseUrl}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: TEST_WRITE_AUTH },
    body: JSON.stringify({ type: 'track', event: 'terminal_test', userId: 'u1', messageId }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('`balise up` in a terminal', () => {
  it('stops within the grace period on Ctrl-C under load, leaves no redis-server, and loses nothing acknowledged', { timeout: 180_000 }, async () => {
    const dataDir = newDataDir();
    const port = await freePort();
    const balise = await startBaliseInTerminal('up', dataDir, port, { LOG_LEVEL: 'info', BALISE_API_PROCESSES: '1' });
    running.push(balise);
    const redisBefore = redisServersOf(dataDir);
    expect(redisBefore).toHaveLength(1);
    // The primary and its API child: the child runs in a session of its own (decision 0056), out
    // of the terminal's reach, so it is the primary that must stop it.
    expect(baliseProcessesOf(dataDir)).toHaveLength(2);

    const load = generateLoad(() => balise.baseUrl, 'ctrlc', 50);
    await new Promise((r) => setTimeout(r, 2500));
    // Ctrl-C typed in the terminal: SIGINT to the whole foreground process group.
    balise.press('\x03');
    // The shutdown grace (10 s) plus Redis's own stop; a hang (the bug) never gets here.
    expect(await exitWithin(balise, 25_000)).toBe(0);
    const result = await load.stop();
    expect(result.acknowledged.size).toBeGreaterThan(200);
    expect(balise.output()).toContain('stopped cleanly');
    expect(redisServersOf(dataDir)).toEqual([]);
    expect(baliseProcessesOf(dataDir)).toEqual([]);

    // Started again on the same data directory, every acknowledged event is there exactly once.
    const again = await startBaliseProcess('up', dataDir, port);
    running.push(again);
    await expectExactlyOnce(again.baseUrl, 'ctrlc', result.acknowledged);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    expect(redisServersOf(dataDir)).toEqual([]);
  });

  it('does not wait for an analyst query on Ctrl-C: the query is cancelled and its request told to run it again', { timeout: 120_000 }, async () => {
    const dataDir = newDataDir();
    const port = await freePort();
    const balise = await startBaliseInTerminal('up', dataDir, port, { LOG_LEVEL: 'info' });
    running.push(balise);
    // A scan only its own 10 s limit ends: before, the shutdown waited out the HTTP drain (5 s)
    // with this request in flight, cut it unanswered, then waited for the engine to close.
    const answer = fetch(`${balise.baseUrl}/api/sql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'SELECT count() FROM system.numbers WHERE sipHash64(number) % 7 = 3' }),
    }).then(
      async (res) => ({ status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { code?: string } }),
      (error: unknown) => ({ status: 0, retryAfter: null, body: { code: String(error) } }),
    );
    // Let the query reach the engine (it would run 10 s; a second is far from its end).
    await new Promise((r) => setTimeout(r, 1000));
    const pressed = Date.now();
    balise.press('\x03');
    // Answered by the engine's process, through the API child that took the connection: its
    // Retry-After comes along (the child forwarded only the body's type before).
    expect(await answer).toEqual({ status: 503, retryAfter: '2', body: expect.objectContaining({ code: 'query_cancelled' }) });
    expect(await exitWithin(balise, 25_000)).toBe(0);
    // Under the 5 s drain the old shutdown always waited out: the query no longer holds it.
    expect(Date.now() - pressed).toBeLessThan(5000);
    expect(balise.output()).toContain('stopped cleanly');
    expect(redisServersOf(dataDir)).toEqual([]);
  });

  it('exits at once on a second Ctrl-C, and still stops its redis-server', { timeout: 120_000 }, async () => {
    const dataDir = newDataDir();
    const port = await freePort();
    // At info level the first Ctrl-C is seen in the log ("shutting down").
    const balise = await startBaliseInTerminal('up', dataDir, port, { LOG_LEVEL: 'info' });
    running.push(balise);
    const load = generateLoad(() => balise.baseUrl, 'twice', 50);
    await new Promise((r) => setTimeout(r, 1000));
    balise.press('\x03');
    // The second press once the first is seen: two SIGINTs delivered before the handler runs are
    // one signal to the process (signals do not queue), which would test the graceful path instead.
    const seen = Date.now() + 10_000;
    while (!balise.output().includes('shutting down') && Date.now() < seen) await new Promise((r) => setTimeout(r, 20));
    expect(balise.output()).toContain('shutting down');
    balise.press('\x03');
    const exit = await exitWithin(balise, 5_000);
    expect(exit).not.toBe('hung');
    // Not a crash: the engine's teardown, run with an insert in flight, ended in SIGSEGV (139).
    expect([134, 139]).not.toContain(exit);
    await load.stop();
    const deadline = Date.now() + 10_000;
    const left = () => [...redisServersOf(dataDir), ...baliseProcessesOf(dataDir)];
    // The API child, in a session of its own, exits once its primary is gone.
    while (left().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(redisServersOf(dataDir)).toEqual([]);
    expect(baliseProcessesOf(dataDir)).toEqual([]);
  });
});

describe('the local redis-server is supervised', () => {
  it('is restarted after kill -9, ingest answers again, its death is logged once, nothing acknowledged is lost', { timeout: 180_000 }, async () => {
    const dataDir = newDataDir();
    const port = await freePort();
    const balise = await startBaliseProcess('up', dataDir, port);
    running.push(balise);
    const [redisPid] = redisServersOf(dataDir);
    expect(redisPid).toBeGreaterThan(0);

    const load = generateLoad(() => balise.baseUrl, 'kill9', 50);
    await new Promise((r) => setTimeout(r, 1000));
    process.kill(redisPid!, 'SIGKILL');
    // Clients keep sending through the outage; the supervisor brings Redis back on its AOF.
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = await track(balise.baseUrl, `kill9-probe-${Date.now()}`);
      if (status === 200 && redisServersOf(dataDir).some((pid) => pid !== redisPid)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    await new Promise((r) => setTimeout(r, 1000));
    const result = await load.stop();
    expect(result.acknowledged.size).toBeGreaterThan(500);
    expect(redisServersOf(dataDir)).toHaveLength(1);
    expect((await fetch(`${balise.baseUrl}/health`)).status).toBe(200);
    expect((await fetch(`${balise.baseUrl}/ready`)).status).toBe(200);

    await expectExactlyOnce(balise.baseUrl, 'kill9', result.acknowledged);
    const died = balise
      .output()
      .split('\n')
      .filter((line) => line.includes('the local redis-server died'));
    expect(died).toHaveLength(1);
    // One line per failure kind, not one stack trace per refused request.
    const queueFailures = balise
      .output()
      .split('\n')
      .filter((line) => line.includes('could not queue'));
    expect(queueFailures.length).toBeLessThanOrEqual(1);

    balise.child.kill('SIGTERM');
    expect(await balise.exited).toBe(0);
    expect(redisServersOf(dataDir)).toEqual([]);
  });

  it('a Balise killed with SIGKILL leaves its redis-server, which the next start stops and replaces', { timeout: 120_000 }, async () => {
    const dataDir = newDataDir();
    const port = await freePort();
    const first = await startBaliseProcess('up', dataDir, port);
    running.push(first);
    expect(await track(first.baseUrl, 'stale-1')).toBe(200);
    const [stale] = redisServersOf(dataDir);
    first.child.kill('SIGKILL');
    await first.exited;
    // Detached from Balise's process group, it survives (with the queued job) until the next start.
    expect(redisServersOf(dataDir)).toEqual([stale]);

    const second = await startBaliseProcess('up', dataDir, port);
    running.push(second);
    const now = redisServersOf(dataDir);
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(stale);
    await expectExactlyOnce(second.baseUrl, 'stale', new Set(['stale-1']));
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(redisServersOf(dataDir)).toEqual([]);
  });
});

describe('a failed start-up', () => {
  it('with its port taken exits with one line and leaves no redis-server behind', { timeout: 120_000 }, async () => {
    const dataDir = newDataDir();
    const port = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      // The shipped plan, whose alerts fire on an empty database: a start that fails must not evaluate them (nor notify) on its way out.
      const { code, output } = await runCli(['up'], {
        PORT: String(port),
        BALISE_DATA_DIR: dataDir,
        BALISE_PLAN_DIR: path.join(REPO_ROOT, 'tracking-plan'),
        LOG_LEVEL: 'info',
        BALISE_WRITE_KEYS: `test:${TEST_WRITE_KEY}`,
        BALISE_ADMIN_TOKEN: 'proc-admin-token-0123456789',
      });
      expect(code).not.toBe(0);
      expect(output).toContain('[port_in_use]');
      expect(output).toContain('tracking plan loaded');
      expect(output).not.toContain('"alert"');
      expect(redisServersOf(dataDir)).toEqual([]);
    } finally {
      blocker.close();
    }
  });

  it('on an address that is not this machine exits with one line naming HOST, and leaves no redis-server behind', { timeout: 120_000 }, async () => {
    const dataDir = newDataDir();
    // 203.0.113.9 is TEST-NET-3 (RFC 5737): never a local address.
    const { code, output } = await runCli(['up'], {
      HOST: '203.0.113.9',
      PORT: String(await freePort()),
      BALISE_DATA_DIR: dataDir,
      BALISE_WRITE_KEYS: `test:${TEST_WRITE_KEY}`,
      BALISE_ADMIN_TOKEN: 'proc-admin-token-0123456789',
    });
    expect(code).toBe(1);
    expect(output).toMatch(/balise: cannot listen on 203\.0\.113\.9:\d+: HOST 203\.0\.113\.9 is not an address of this machine \(EADDRNOTAVAIL\): set HOST or PORT \[listen_failed\]/);
    expect(output).not.toMatch(/\n\s+at /);
    expect(redisServersOf(dataDir)).toEqual([]);
  });

  it('against a ClickHouse server that does not answer exits with one line naming CLICKHOUSE_URL, not the client log and a stack', { timeout: 60_000 }, async () => {
    const closed = await freePort();
    const { code, output } = await runCli(['migrate'], { CLICKHOUSE_URL: `http://127.0.0.1:${closed}`, BALISE_DATA_DIR: newDataDir() });
    expect(code).toBe(1);
    expect(output.trim()).toBe(`balise: ClickHouse at http://127.0.0.1:${closed} (CLICKHOUSE_URL) could not create the database: connect ECONNREFUSED 127.0.0.1:${closed} [engine_unreachable]`);

    // Something else answers at that address: a web server's error page.
    const web = http.createServer((_req, res) => res.writeHead(501, { 'content-type': 'text/html' }).end('<!DOCTYPE HTML>\n<html><body>Unsupported method</body></html>'));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    try {
      const port = (web.address() as net.AddressInfo).port;
      const other = await runCli(['migrate'], { CLICKHOUSE_URL: `http://127.0.0.1:${port}`, BALISE_DATA_DIR: newDataDir() });
      expect(other.code).toBe(1);
      expect(other.output.trim()).toBe(
        `balise: ClickHouse at http://127.0.0.1:${port} (CLICKHOUSE_URL) could not create the database: it answered with a web page, not as ClickHouse: check the port of its HTTP interface (8123 by default) [engine_unreachable]`,
      );
    } finally {
      web.close();
    }
  });

  it('of a worker whose metrics port is taken exits with one line naming BALISE_WORKER_METRICS_PORT', { timeout: 120_000 }, async () => {
    const dataDir = newDataDir();
    const port = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const { code, output } = await runCli(['worker'], { BALISE_WORKER_METRICS_PORT: String(port), BALISE_DATA_DIR: dataDir });
      expect(code).toBe(1);
      expect(output).toContain(`127.0.0.1:${port} is already in use (EADDRINUSE): stop what listens there or set BALISE_WORKER_METRICS_PORT [port_in_use]`);
      expect(output).not.toMatch(/\n\s+at /);
      expect(redisServersOf(dataDir)).toEqual([]);
    } finally {
      blocker.close();
    }
  });
});
