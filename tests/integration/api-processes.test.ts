/**
 * `balise up --api-processes N` (decision 0040), as a real process tree: the primary owns the
 * engine, the worker and Redis; N children share the public port, handed down by the primary. Checked from the
 * outside: where events go, what /metrics and /ready say, what a plan reload reaches, and what
 * happens when a child or the primary dies or is stopped.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectExactlyOnce } from '../helpers/exactly-once.ts';
import { FIXTURE_PLAN, requireMissionIdOnBookmarks } from '../helpers/plans.ts';
import { freePort, runCli, startBaliseProcess, TEST_ADMIN_TOKEN, TEST_WRITE_AUTH, type BaliseProcess } from '../helpers/process.ts';
import { tempDir } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

const running: BaliseProcess[] = [];
afterEach(async () => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(running.splice(0).map((p) => p.exited));
});

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

/** The node processes `up` forked: its API children. */
function apiChildren(pid: number): number[] {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-P', String(pid), '-f', 'balise.js'], { encoding: 'utf8' });
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  return out.trim().split('\n').filter(Boolean).map(Number);
}

/** The inode of the socket listening on a TCP port (from /proc/net/tcp and tcp6: state 0A is LISTEN). */
function listeningSocketInode(port: number): string {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A') return fields[9]!;
    }
  }
  throw new Error(`nothing listens on port ${port}`);
}

/** How many of a process's descriptors refer to one socket. */
function socketDescriptors(pid: number, inode: string): number {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).filter((fd) => {
    try {
      return readlinkSync(path.join(dir, fd)) === `socket:[${inode}]`;
    } catch {
      return false;
    }
  }).length;
}

/** The session a process belongs to (the sixth field of /proc/<pid>/stat, after the command name). */
function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A POST of `body` to /v1/batch with the test write key, on a connection of its own. */
const batchRequest = (port: number, body: string): http.RequestOptions => ({
  host: '127.0.0.1',
  port,
  path: '/v1/batch',
  method: 'POST',
  agent: false,
  headers: { 'content-type': 'application/json', authorization: TEST_WRITE_AUTH, 'content-length': Buffer.byteLength(body) },
});

/** One batch on a connection of its own, so that children take connections in turn. */
function sendBatch(port: number, ids: string[], event = 'procs_test', properties: Record<string, unknown> = { mission_id: 'msn_1' }): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({ batch: ids.map((messageId) => ({ type: 'track', event, userId: 'u1', messageId, properties })) });
  return new Promise((resolve, reject) => {
    const req = http.request(batchRequest(port, body), (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function metric(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

describe('balise up with API processes', () => {
  it('two children share the port; /metrics sums every process, /ready carries the engine checks, a plan reload reaches the children', { timeout: 180_000 }, async () => {
    const planDir = path.join(tempDir('balise-api-proc-plan-'), 'plan');
    await fs.cp(FIXTURE_PLAN, planDir, { recursive: true });
    const port = await freePort();
    const up = await startBaliseProcess('up', tempDir(), port, { BALISE_API_PROCESSES: '2', BALISE_PLAN_DIR: planDir });
    running.push(up);
    const children = apiChildren(up.child.pid!);
    expect(children).toHaveLength(2);

    // 40 batches, each on its own connection: both children take some.
    const acknowledged = new Set<string>();
    const answers = await Promise.all(
      Array.from({ length: 40 }, async (_, b) => {
        const ids = Array.from({ length: 5 }, (_, i) => `procs-${b}-${i}`);
        const answer = await sendBatch(port, ids);
        if (answer.status === 200) for (const id of ids) acknowledged.add(id);
        return answer.status;
      }),
    );
    expect(answers.every((s) => s === 200)).toBe(true);
    expect(acknowledged.size).toBe(200);
    await expectExactlyOnce(up.baseUrl, 'procs', acknowledged);

    // Each child counted its own share; whichever child answers the scrape, the sum is the whole.
    const accepted = await Promise.all(Array.from({ length: 4 }, () => metric(up.baseUrl, 'balise_events_accepted_total')));
    expect(accepted).toEqual([200, 200, 200, 200]);
    // Rows are inserted by the primary's worker: its registry is in the sum too.
    expect(await metric(up.baseUrl, 'balise_rows_inserted_total')).toBeGreaterThanOrEqual(200);
    // A process's own figures are not summed: one series per process, each its own.
    const scrape = await (await fetch(`${up.baseUrl}/metrics`)).text();
    const series = (name: string) => scrape.split('\n').filter((l) => l.startsWith(`${name}{`));
    for (const name of ['process_max_fds', 'process_start_time_seconds', 'process_resident_memory_bytes', 'balise_ingest_in_flight_limit']) {
      expect(
        series(name)
          .map((l) => /process="([^"]+)"/.exec(l)?.[1])
          .sort(),
        name,
      ).toEqual(['api-1', 'api-2', 'primary']);
    }
    const limits = series('process_max_fds').map((l) => Number(l.split(' ').pop()));
    expect(new Set(limits).size, 'each process reports its own limit').toBe(1);
    // Base units, as Prometheus names them: seconds, never milliseconds.
    expect(scrape).toMatch(/^balise_event_loop_delay_seconds[ {]/m);
    expect(scrape.match(/^\w+_ms[ {]/gm) ?? []).toEqual([]);

    const ready = await fetch(`${up.baseUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: Record<string, boolean> }).checks).toEqual({ redis: true, clickhouse: true, migrations: true });

    // Unknown to the plan, an event without properties is accepted; once the plan declares it
    // with a required property, every child quarantines it.
    const before = await sendBatch(port, ['procs-new-0'], 'mission_bookmarked', {});
    expect(JSON.parse(before.body)).toMatchObject({ accepted: 1, quarantined: 0 });
    await requireMissionIdOnBookmarks(planDir);
    const reload = await fetch(`${up.baseUrl}/api/admin/plan/reload`, { method: 'POST', headers: admin });
    expect(reload.status).toBe(200);
    // Both children answered the reload (decision 0047) before the primary did.
    expect(((await reload.json()) as { replicas: unknown }).replicas).toEqual({
      asked: 2,
      reloaded: [expect.objectContaining({ planVersion: '2.1.0' }), expect.objectContaining({ planVersion: '2.1.0' })],
      failed: [],
      unanswered: 0,
    });
    // Ten connections land on both children: each judges by the new plan.
    const after = await Promise.all(Array.from({ length: 10 }, (_, i) => sendBatch(port, [`procs-new-${i + 1}`], 'mission_bookmarked', {})));
    expect(after.map((a) => JSON.parse(a.body) as { quarantined: number }).map((a) => a.quarantined)).toEqual(Array(10).fill(1));

    up.child.kill('SIGTERM');
    expect(await up.exited).toBe(0);
    for (const child of children) expect(alive(child)).toBe(false);
  });

  // When the primary accepted connections and handed them over, a primary busy loading a batch
  // left hundreds of new connections waiting for seconds.
  it('children accept new connections themselves: with the primary stopped, a new connection is answered and its events are stored once it continues', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const up = await startBaliseProcess('up', tempDir(), port, { BALISE_API_PROCESSES: '1' });
    running.push(up);
    const primary = up.child.pid!;
    process.kill(primary, 'SIGSTOP');
    try {
      const answers = await Promise.all(
        [0, 1, 2].map((i) =>
          Promise.race([sendBatch(port, [`procs-stopped-${i}`]), new Promise<{ status: number }>((resolve) => setTimeout(() => resolve({ status: 0 }), 5000))]).then((answer) => answer.status),
        ),
      );
      expect(answers).toEqual([200, 200, 200]);
    } finally {
      process.kill(primary, 'SIGCONT');
    }
    await expectExactlyOnce(up.baseUrl, 'procs', new Set([0, 1, 2].map((i) => `procs-stopped-${i}`)));
  });

  // A child watches the socket on many descriptors; the HTTP server counts only the connections of
  // the first, and its close used to report "drained" while the others' requests still ran.
  it('on SIGTERM, every request a child is reading is answered before it exits, whichever descriptor took its connection', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const up = await startBaliseProcess('up', tempDir(), port, { BALISE_API_PROCESSES: '1' });
    running.push(up);
    const ids = Array.from({ length: 16 }, (_, i) => `procs-drain-${i}`);
    const started: Promise<void>[] = [];
    const answers = ids.map(
      (id) =>
        new Promise<number>((resolve) => {
          const body = JSON.stringify({ batch: [{ type: 'track', event: 'procs_test', userId: 'u1', messageId: id, properties: { mission_id: 'msn_1' } }] });
          const req = http.request(batchRequest(port, body), (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', () => resolve(0));
          // Half the body now, the rest once the stop has begun: the request is in flight across it.
          started.push(new Promise((sent) => req.write(body.slice(0, 40), () => sent())));
          setTimeout(() => req.end(body.slice(40)), 1500);
        }),
    );
    await Promise.all(started);
    // The child has the connections (their first bytes are read) before the stop begins.
    await new Promise((r) => setTimeout(r, 300));
    up.child.kill('SIGTERM');
    expect(await Promise.all(answers)).toEqual(ids.map(() => 200));
    expect(await up.exited).toBe(0);
  });

  // libuv accepts one connection per descriptor per turn of a loop: a busy child with one
  // descriptor left a burst of new connections waiting seconds in the kernel (decision 0044).
  it('each child watches the public socket on ACCEPT_DESCRIPTORS descriptors; the primary keeps one copy it does not listen on', { timeout: 120_000 }, async () => {
    const { ACCEPT_DESCRIPTORS } = await import('../../src/cli/api-processes.ts');
    const port = await freePort();
    const up = await startBaliseProcess('up', tempDir(), port, { BALISE_API_PROCESSES: '2' });
    running.push(up);
    const listening = listeningSocketInode(port);
    const children = apiChildren(up.child.pid!);
    expect(children).toHaveLength(2);
    // A child closes its hand-back copy once sent and the primary closes the copies it does not
    // keep, both a moment after up is ready: the counts settle, they are not instant.
    await vi.waitFor(
      () => {
        for (const child of children) expect(socketDescriptors(child, listening)).toBe(ACCEPT_DESCRIPTORS);
        expect(socketDescriptors(up.child.pid!, listening)).toBe(1);
      },
      { timeout: 5000, interval: 50 },
    );
    expect((await sendBatch(port, ['procs-descriptors-0'])).status).toBe(200);
    await expectExactlyOnce(up.baseUrl, 'procs', new Set(['procs-descriptors-0']));
  });

  // Where the kernel groups processes by session (autogroup), this is what shares the cores
  // between the API and the engine's threads as two groups (decision 0056).
  it('each child runs in a session of its own, apart from the primary and from each other', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const up = await startBaliseProcess('up', tempDir(), port, { BALISE_API_PROCESSES: '2' });
    running.push(up);
    const children = apiChildren(up.child.pid!);
    expect(children).toHaveLength(2);
    const primarySession = sessionOf(up.child.pid!);
    for (const child of children) {
      expect(sessionOf(child)).toBe(child);
      expect(sessionOf(child)).not.toBe(primarySession);
    }
    expect((await sendBatch(port, ['procs-session-0'])).status).toBe(200);
    await expectExactlyOnce(up.baseUrl, 'procs', new Set(['procs-session-0']));
  });

  it("a command that cannot have the engine names the address users reach up at, not the primary's loopback API", { timeout: 120_000 }, async () => {
    const port = await freePort();
    const dataDir = tempDir();
    const up = await startBaliseProcess('up', dataDir, port, { BALISE_API_PROCESSES: '1' });
    running.push(up);
    const migrate = await runCli(['migrate'], { BALISE_DATA_DIR: dataDir });
    expect(migrate.code).toBe(1);
    expect(migrate.output).toContain(`is held by Balise process ${up.child.pid} (${up.baseUrl}):`);
  });

  // The primary listens before its children serve; what it accepts then must wait for them, not be reset.
  it('a connection made while up starts (the port open, no child serving yet) is answered, never reset', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const starting = startBaliseProcess('up', tempDir(), port, { BALISE_API_PROCESSES: '1' });
    const outcomes: Record<string, number> = {};
    const probe = () =>
      new Promise<string>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(String(res.statusCode)));
        });
        req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
    const probes: Promise<void>[] = [];
    let up: BaliseProcess | undefined;
    void starting.then((p) => (up = p));
    // A new connection every 10 ms from before the port opens until up is ready.
    while (!up) {
      probes.push(probe().then((outcome) => void (outcomes[outcome] = (outcomes[outcome] ?? 0) + 1)));
      await new Promise((r) => setTimeout(r, 10));
      if (probes.length > 12_000) throw new Error('up did not become ready');
    }
    running.push(up);
    await Promise.all(probes);
    expect(outcomes['ECONNRESET'] ?? 0).toBe(0);
    expect(outcomes['200']).toBeGreaterThan(0);
    expect(Object.keys(outcomes).filter((k) => k !== '200' && k !== 'ECONNREFUSED')).toEqual([]);
  });

  it('a child that dies is replaced; the primary killed takes its children with it', { timeout: 180_000 }, async () => {
    const port = await freePort();
    const up = await startBaliseProcess('up', tempDir(), port, { BALISE_API_PROCESSES: '1' });
    running.push(up);
    const [first] = apiChildren(up.child.pid!);
    expect(first).toBeDefined();
    process.kill(first!, 'SIGKILL');
    const replacement = await waitFor('a replacement child', () => apiChildren(up.child.pid!).find((pid) => pid !== first), { intervalMs: 100 });
    await waitFor('the replacement answering', async () => (await sendBatch(port, ['procs-after-0']).catch(() => ({ status: 0 }))).status === 200, { intervalMs: 100 });
    await expectExactlyOnce(up.baseUrl, 'procs', new Set(['procs-after-0']));
    expect(up.output()).toContain('an API process died: starting another');

    up.child.kill('SIGKILL');
    await up.exited;
    await waitFor('the child gone with its primary', () => !alive(replacement), { timeoutMs: 15_000, intervalMs: 100 });
  });

  it('--api-processes and BALISE_API_PROCESSES take a whole number from 0 to 64', async () => {
    const { apiProcessCount, parseApiProcesses } = await import('../../src/cli/serve.ts');
    const { loadConfig } = await import('../../src/config/index.ts');
    const configured = (env: Record<string, string>) => loadConfig(env).apiProcesses;
    expect(apiProcessCount(undefined, configured({}), 2)).toBe(1);
    expect(apiProcessCount(undefined, configured({}), 1)).toBe(0);
    expect(apiProcessCount(parseApiProcesses('3'), configured({ BALISE_API_PROCESSES: '0' }), 2)).toBe(3);
    expect(apiProcessCount(undefined, configured({ BALISE_API_PROCESSES: '0' }), 8)).toBe(0);
    for (const bad of ['two', '-1', '65', '1.5']) expect(() => parseApiProcesses(bad)).toThrow(`must be a whole number from 0 to 64, got "${bad}"`);
    // A wrong option value is a usage error: exit 2, as an unknown option is.
    const run = await runCli(['up', '--api-processes', '-1'], {});
    expect([run.code, run.output.split('\n')[0]]).toEqual([2, `error: option '--api-processes <n>' argument '-1' is invalid. must be a whole number from 0 to 64, got "-1"`]);
    expect(() => configured({ BALISE_API_PROCESSES: '65' })).toThrow(/BALISE_API_PROCESSES: must be between 0 and 64, got 65/);
  });
});
