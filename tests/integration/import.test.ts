/**
 * `balise import` end to end: a generated archive of 100k events per format (Segment's S3
 * logs, RudderStack's object-storage dump, Amplitude's export zip; see
 * tests/helpers/import-archives.ts for the upstream formats), with lines that are not JSON,
 * plan-invalid events and duplicates, imported by the real CLI process, killed with SIGKILL
 * mid-way, then resumed: every row lands exactly once, back-dated, and counts in the funnel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunnelResult } from '../../src/analytics/results.ts';
import { waitForLoad } from '../../src/import/report.ts';
import { generateArchive, type Archive, type ArchiveFormat } from '../helpers/import-archives.ts';
import { post, REPO_ROOT, startStack, tempDir, type Stack } from '../helpers/stack.ts';

const PERSONS = 25_000; // × 4 events = 100,000 per archive
// 100k events take a few seconds on an idle machine; the timeout is for a shared, loaded one.
const TIMEOUT = 600_000;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

interface Report {
  run: string;
  resumed: boolean;
  alreadyComplete: boolean;
  lines: number;
  unparseable: number;
  sent: number;
  accepted: number;
  stored: number;
  quarantined: number;
  duplicates: number;
  problems: string[];
}

function spawnImport(
  input: string,
  dataDir: string,
  extra: string[] = [],
): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/balise.js'), 'import', input, '--host', stack.baseUrl, '--json', ...extra], {
    cwd: REPO_ROOT,
    env: { ...process.env, BALISE_DATA_DIR: dataDir, BALISE_WRITE_KEYS: `test:${stack.writeKey}`, BALISE_ADMIN_TOKEN: stack.adminToken, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

const checkpointIn = (dataDir: string): { completed: boolean; totals: { lines: number; sent: number } } | undefined => {
  const dir = path.join(dataDir, 'imports');
  const file = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.json')) : undefined;
  if (!file) return undefined;
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { completed: boolean; totals: { lines: number; sent: number } };
  } catch {
    return undefined; // caught between write and rename
  }
};

/** Runs the import, SIGKILLs it once the checkpoint has passed a quarter of the archive, and runs it again to the end. */
async function importWithCrash(archive: Archive, format: ArchiveFormat): Promise<Report> {
  const dataDir = tempDir('balise-import-cli-');
  const first = spawnImport(archive.input, dataDir, ['--format', format]);
  let killedAt = 0;
  for (;;) {
    const checkpoint = checkpointIn(dataDir);
    if (checkpoint && checkpoint.totals.lines >= archive.lines / 4) {
      first.child.kill('SIGKILL');
      killedAt = checkpoint.totals.lines;
      break;
    }
    if (first.child.exitCode !== null) throw new Error(`the import ended before it could be killed:\n${(await first.done).stderr}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const crashed = await first.done;
  expect(crashed.signal).toBe('SIGKILL');
  const after = checkpointIn(dataDir)!;
  expect(after.completed).toBe(false);
  expect(after.totals.lines).toBeGreaterThanOrEqual(killedAt);
  expect(after.totals.lines).toBeLessThan(archive.lines);

  const second = spawnImport(archive.input, dataDir, ['--format', format]);
  const result = await second.done;
  expect(result.stderr).not.toMatch(/balise:/);
  expect(result.code).toBe(0);
  const report = JSON.parse(result.stdout) as Report;
  expect(report.resumed).toBe(true);
  return report;
}

async function checkWarehouse(archive: Archive, report: Report, start: string): Promise<void> {
  // The report: what the server stored, quarantined and dropped as duplicates, and the lines never sent.
  expect(report.lines).toBe(archive.lines);
  expect(report.unparseable).toBe(archive.unparseable);
  expect(report.problems.length).toBeGreaterThan(0);
  expect(report.problems[0]).toMatch(/:\d+: not valid JSON$/);
  expect(report.sent).toBe(archive.events);
  expect(report.stored).toBe(archive.expectedStored);
  expect(report.quarantined).toBe(archive.invalid);
  expect(report.duplicates).toBe(archive.duplicates);

  // Exactly once in ClickHouse, without FINAL: no row of the crashed run was stored twice.
  const run = report.run;
  const [events] = await stack.query<{ rows: string; ids: string; first: string; last: string; first_day: string }>(
    `SELECT count() AS rows, uniqExact(message_id) AS ids, toString(min(toDate(timestamp))) AS first, toString(max(toDate(timestamp))) AS last, countIf(toDate(timestamp) = {start:Date}) AS first_day
     FROM events WHERE JSONExtractString(context, 'import', 'run') = {run:String}`,
    { run, start },
  );
  expect(Number(events!.rows)).toBe(archive.expectedStored);
  expect(Number(events!.ids)).toBe(archive.expectedStored);
  const [quarantine] = await stack.query<{ rows: string; ids: string; plan: string }>(
    `SELECT count() AS rows, uniqExact(message_id) AS ids, countIf(has(reasons, 'enum')) AS plan FROM quarantine WHERE position(raw, {needle:String}) > 0`,
    { needle: `"run":"${run}"` },
  );
  expect(Number(quarantine!.rows)).toBe(archive.invalid);
  expect(Number(quarantine!.ids)).toBe(archive.invalid);
  expect(Number(quarantine!.plan)).toBe(archive.invalid);

  // Back-dated: each event on its own day (no clock-skew correction moved it to today).
  expect(events!.first >= addDays(start, -1)).toBe(true);
  expect(events!.last <= addDays(start, 60)).toBe(true);
  expect(Number(events!.first_day)).toBe(archive.onFirstDay);

  // …and counted in the funnel over those dates.
  const response = await fetch(`${stack.baseUrl}/api/funnels/freelancer_activation?from=${start}&to=${addDays(start, 45)}`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
  expect(response.status).toBe(200);
  const funnel = (await response.json()) as FunnelResult;
  expect([funnel.entered, ...funnel.steps.slice(1).map((s) => s.count)]).toEqual(archive.funnel);
}

const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

describe('balise import', () => {
  it('a batch re-sent after a crash stores its valid events once and its invalid ones as one quarantine row each', async () => {
    const batch = [
      {
        type: 'track',
        event: 'freelancer_signup_completed',
        userId: 'fr_resent1',
        messageId: 'resent-valid',
        timestamp: '2020-06-01T10:00:00.000Z',
        sentAt: '2020-06-01T10:00:01.000Z',
        properties: { freelancer_id: 'fr_resent1', community: 'tech' },
      },
      {
        type: 'track',
        event: 'freelancer_signup_completed',
        userId: 'fr_resent2',
        messageId: 'resent-invalid',
        timestamp: '2020-06-01T10:00:00.000Z',
        properties: { freelancer_id: 'fr_resent2', community: 'marketing' },
      },
    ];
    for (let i = 0; i < 2; i++) {
      const response = await post(stack, '/v1/import', { batch });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ accepted: 1, quarantined: 1 });
      // The second send must find the first one's claims committed, as after a real crash.
      await stack.waitForRows('quarantine', 1);
    }
    // The second job is loaded (or dropped) once the server's queue is empty.
    expect(await waitForLoad({ baseUrl: stack.baseUrl, adminToken: stack.adminToken }, 30_000)).toBe(true);
    const [events] = await stack.query<{ n: string; ts: string }>(`SELECT count() AS n, toString(any(timestamp)) AS ts FROM events WHERE message_id = 'resent-valid'`);
    const [quarantine] = await stack.query<{ n: string }>(`SELECT count() AS n FROM quarantine WHERE message_id = 'resent-invalid'`);
    expect(Number(events!.n)).toBe(1);
    // Back-dated and not shifted by its sentAt (a live /v1/batch would have moved it to now).
    expect(events!.ts).toBe('2020-06-01 10:00:00.000');
    expect(Number(quarantine!.n)).toBe(1);
  });

  it(
    'imports a Segment S3 archive (gzipped and plain JSON lines) exactly once across a SIGKILL',
    async () => {
      const archive = await generateArchive({ format: 'segment', dir: tempDir('balise-import-seg-'), persons: PERSONS, start: '2023-01-02', tag: 'seg' });
      const report = await importWithCrash(archive, 'segment');
      await checkWarehouse(archive, report, '2023-01-02');
    },
    TIMEOUT,
  );

  it(
    'imports a RudderStack object-storage dump exactly once across a SIGKILL, identify traits from context.traits',
    async () => {
      const archive = await generateArchive({ format: 'rudderstack', dir: tempDir('balise-import-rud-'), persons: PERSONS, start: '2022-01-03', tag: 'rud' });
      const report = await importWithCrash(archive, 'rudderstack');
      await checkWarehouse(archive, report, '2022-01-03');
      const [identify] = await stack.query<{ traits: string }>(`SELECT traits FROM events WHERE type = 'identify' AND user_id = 'fr_rud5' LIMIT 1`);
      expect(JSON.parse(identify!.traits)).toEqual({ role: 'freelancer', community: 'tech' });
    },
    TIMEOUT,
  );

  it(
    'imports an Amplitude export zip exactly once across a SIGKILL, mapped to identify and track',
    async () => {
      const archive = await generateArchive({ format: 'amplitude', dir: tempDir('balise-import-amp-'), persons: PERSONS, start: '2021-01-04', tag: 'amp' });
      const report = await importWithCrash(archive, 'amplitude');
      await checkWarehouse(archive, report, '2021-01-04');
      const rows = await stack.query<{ type: string; event: string; message_id: string; anonymous_id: string; ts: string }>(
        `SELECT type, event, message_id, anonymous_id, toString(timestamp) AS ts FROM events WHERE user_id = 'fr_amp5' ORDER BY timestamp`,
      );
      expect(rows.map((r) => [r.type, r.event])).toEqual([
        ['identify', ''],
        ['track', 'freelancer_signup_completed'],
        ['track', '[Amplitude] Page Viewed'],
        ['track', '[Amplitude] Page Viewed'],
      ]);
      expect(rows.every((r) => r.message_id.startsWith('ins-') && r.anonymous_id === 'anon-amp-5')).toBe(true);
      // Person 5 signs up on day 5 at 05:00:05 UTC (microseconds in the export, milliseconds here).
      expect(rows[1]!.ts).toBe('2021-01-09 05:00:05.000');
    },
    TIMEOUT,
  );
});
