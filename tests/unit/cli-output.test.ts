import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { formatFunnel, formatKpis, formatSql } from '../../src/analytics/format.ts';
import type { FunnelResult, KpiResult, SqlResult } from '../../src/analytics/results.ts';
import { planCheckAction } from '../../src/cli/plan.ts';
import { formatPointChange } from '../../src/dashboard/web/format.ts';
import { scaffoldPlan } from '../../src/cli/init.ts';
import { demoCommand, wantsBanner } from '../../src/cli/serve.ts';
import { EXIT, exitCodeFor, formatJsonError, useColour, wantsJson } from '../../src/cli/output.ts';
import { loadConfig } from '../../src/config/index.ts';
import { BaliseError } from '../../src/errors.ts';
import { createLogger, logStyle } from '../../src/observability/logger.ts';
import { loadChdb } from '../../src/warehouse/embedded-session.ts';
import { runCli } from '../helpers/process.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { REPO_ROOT, tempDir } from '../helpers/stack.ts';

const ANSI = /\x1b\[/; // eslint-disable-line no-control-regex

const sql: SqlResult = {
  columns: [
    { name: 'event', type: 'String' },
    { name: 'n', type: 'UInt64' },
  ],
  rows: [['signed_up', 3]],
  truncated: false,
} as SqlResult;
const kpis: KpiResult[] = [
  {
    id: 'k',
    title: 'Sign-ups',
    value: 3,
    previous: 2,
    change: 0.5,
    unit: '',
    from: '2026-01-01T00:00:00Z',
    to: '2026-01-31T00:00:00Z',
    range: { from: '2026-01-01T00:00:00Z', to: '2026-01-31T00:00:00Z', isDefault: true, defaultDays: 90 },
  } as unknown as KpiResult,
];
const funnel = {
  id: 'activation',
  title: 'Activation',
  entity: { kind: 'person' },
  order: 'strict',
  windowMs: 86_400_000,
  from: '2026-01-01T00:00:00Z',
  to: '2026-01-31T00:00:00Z',
  range: { from: '2026-01-01T00:00:00Z', to: '2026-01-31T00:00:00Z', isDefault: false, defaultDays: 90 },
  steps: [{ index: 1, label: 'Signed up', count: 4, conversionFromPrevious: 1, conversionFromStart: 1, dropOff: 0, medianMsFromPrevious: null, withinMs: null, exclude: [] }],
  conversion: 1,
  converted: 4,
  entered: 4,
  breakdown: null,
  cohorts: { grain: 'week', rows: [] },
} as unknown as FunnelResult;

describe('CLI exit codes', () => {
  it('maps usage errors to 2, an unreachable server to 3, other failures to 1, help and version to 0', () => {
    expect(exitCodeFor(new CommanderError(1, 'commander.unknownCommand', "error: unknown command 'x'"))).toBe(EXIT.usage);
    expect(exitCodeFor(new CommanderError(1, 'commander.missingArgument', "error: missing required argument 'id'"))).toBe(2);
    expect(exitCodeFor(new CommanderError(0, 'commander.version', '0.1.0'))).toBe(0);
    expect(exitCodeFor(new BaliseError('invalid_parameter', '--seed must be an integer'))).toBe(2);
    expect(exitCodeFor(new BaliseError('server_unreachable', 'not running'))).toBe(EXIT.unreachable);
    expect(exitCodeFor(new BaliseError('plan_exists', 'already there'))).toBe(EXIT.failure);
    expect(exitCodeFor(new Error('boom'))).toBe(1);
  });

  it("exits 2 for an option's value the CLI or the server refused", async () => {
    // Refused by the CLI itself, in a real process:
    const diff = await runCli(['plan', 'diff', 'HEAD', '--format', 'xml'], {});
    expect([diff.code, diff.output]).toEqual([2, expect.stringContaining('[invalid_argument]')]);
    const replay = await runCli(['replay', 'quarantine', '--since', 'garbage'], { BALISE_URL: 'http://127.0.0.1:9' });
    expect([replay.code, replay.output]).toEqual([2, expect.stringContaining('[invalid_since]')]);
    // Refused by the server (`funnel --from garbage`, `--attribution bogus`), answered with its code:
    for (const code of ['invalid_date', 'invalid_attribution', 'invalid_breakdown', 'invalid_range', 'invalid_time_zone'])
      expect(exitCodeFor(new BaliseError(code as 'invalid_date', 'x')), code).toBe(2);
  }, 30_000);

  it('plan views --apply goes to the server named by --url, and says when none answers there', async () => {
    const applied = await runCli(['plan', 'views', '--apply', '--url', 'http://127.0.0.1:9'], { BALISE_DATA_DIR: tempDir('balise-views-'), BALISE_ADMIN_TOKEN: 'views-admin-token-0123456789' });
    expect([applied.code, applied.output]).toEqual([3, expect.stringContaining('[server_unreachable]')]);
  }, 30_000);

  it('finishes quietly, with its own exit code, when the reader of its output stops early (balise … | head -1)', async () => {
    // stdout is a pipe whose reader is gone before the command writes: EPIPE on every write.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/balise.js'), 'plan', 'check'], {
      cwd: REPO_ROOT,
      env: { ...process.env, BALISE_PLAN_DIR: FIXTURE_PLAN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  }, 30_000);

  it('prints errors under --json as {"error":{"code","message"}}', () => {
    expect(JSON.parse(formatJsonError(new BaliseError('server_unreachable', 'Balise is not running')))).toEqual({ error: { code: 'server_unreachable', message: 'Balise is not running' } });
    expect(JSON.parse(formatJsonError(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--nope'")))).toEqual({ error: { code: 'usage', message: "unknown option '--nope'" } });
    expect(JSON.parse(formatJsonError(new TypeError('x is undefined')))).toEqual({ error: { code: 'internal', message: 'x is undefined' } });
    expect(wantsJson(['kpis', '--json'])).toBe(true);
    expect(wantsJson(['sql', 'SELECT 1'])).toBe(false);
    expect(wantsJson(['sql', '--', '--json'])).toBe(false);
    // --format json is JSON output too, errors included (they printed as text).
    expect(wantsJson(['sql', 'SELEC 1', '--format', 'json'])).toBe(true);
    expect(wantsJson(['sql', 'SELEC 1', '--format=json'])).toBe(true);
    expect(wantsJson(['sql', 'SELECT 1', '--format', 'csv'])).toBe(false);
  });
});

describe('balise kpis', () => {
  it("tells a rate's change in percentage points and a count's in relative %, as the dashboard's tiles do", () => {
    const rate = { ...kpis[0]!, id: 'r', title: 'Acceptance rate', type: 'ratio', value: 0.18, previous: 0.254, change: 0.18 / 0.254 - 1 } as KpiResult;
    const shown = { ...kpis[0]!, id: 's', title: 'Share', type: 'count', unit: '%', value: 0.5, previous: 0.42, change: 0.5 / 0.42 - 1 } as KpiResult;
    const text = formatKpis([rate, shown, kpis[0]!]);
    const row = (title: string) => text.split('\n').find((line) => line.includes(title)) ?? '';
    expect(row('Acceptance rate')).toContain('-7.4 pts');
    expect(row('Share')).toContain('+8.0 pts');
    expect(row('Sign-ups')).toContain('+50.0%');
    expect([formatPointChange(rate.value, rate.previous), formatPointChange(shown.value, shown.previous)]).toEqual(['−7.4 pts', '+8.0 pts']);
  });
});

describe('balise funnel', () => {
  it("prints no rate for a funnel nobody entered: '–', not 0.0 % of 0", () => {
    const empty = { ...funnel, entered: 0, converted: 0, conversion: 0, steps: funnel.steps.map((s) => ({ ...s, count: 0, conversionFromStart: 0, conversionFromPrevious: 0 })) } as FunnelResult;
    const text = formatFunnel(empty);
    expect(text).toContain('Overall conversion: – (0 of 0)');
    expect(text).not.toContain('0.0%');
    expect(formatFunnel(funnel)).toContain('100.0%');
  });
});

describe('CLI colour', () => {
  it('draws tables without ANSI colour unless asked, and asks only for a terminal without NO_COLOR', () => {
    for (const text of [formatSql(sql), formatKpis(kpis), formatFunnel(funnel), formatSql(sql, { colour: false })]) {
      expect(text).toContain('│');
      expect(text).not.toMatch(ANSI);
    }
    expect(formatSql(sql, { colour: true })).toMatch(ANSI);
    expect(useColour(false, true)).toBe(true);
    expect(useColour(true, true)).toBe(false);
    expect(useColour(false, false)).toBe(false);
    expect(useColour(false, undefined)).toBe(false);
    expect(loadConfig({ NO_COLOR: '1' }).noColor).toBe(true);
    expect(loadConfig({ NO_COLOR: '' }).noColor).toBe(false);
  });
});

describe('log format', () => {
  const capture = () => {
    let text = '';
    const stream = new Writable({ write: (chunk: Buffer, _enc, done) => ((text += chunk.toString()), done()) });
    return { stream, text: () => text };
  };

  it("up's banner is for a terminal that reads pretty logs: not with LOG_FORMAT=json, not when piped", () => {
    expect(wantsBanner(loadConfig({}), true)).toBe(true);
    expect(wantsBanner(loadConfig({ LOG_FORMAT: 'pretty' }), true)).toBe(true);
    expect(wantsBanner(loadConfig({ LOG_FORMAT: 'json' }), true)).toBe(false);
    expect(wantsBanner(loadConfig({}), false)).toBe(false);
  });

  it("up's banner gives the demo command that reaches this server, on another port too", () => {
    expect(demoCommand('http://127.0.0.1:3000')).toBe('npx balise demo');
    expect(demoCommand('http://127.0.0.1:3110')).toBe('npx balise demo --host http://127.0.0.1:3110');
  });

  it('is pretty on a terminal and JSON otherwise or with LOG_FORMAT=json; NO_COLOR drops colour', () => {
    expect(logStyle(loadConfig({}), true)).toEqual({ format: 'pretty', colour: true });
    expect(logStyle(loadConfig({}), false)).toEqual({ format: 'json', colour: false });
    expect(logStyle(loadConfig({ LOG_FORMAT: 'json' }), true)).toEqual({ format: 'json', colour: false });
    expect(logStyle(loadConfig({ LOG_FORMAT: 'pretty' }), false)).toEqual({ format: 'pretty', colour: false });
    expect(logStyle(loadConfig({ NO_COLOR: '1' }), true)).toEqual({ format: 'pretty', colour: false });
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/);
  });

  it('writes human-readable lines through pino-pretty, still redacting secrets', () => {
    const out = capture();
    createLogger('info', out.stream, { format: 'pretty', colour: false }).info({ writeKey: 'secret-key-123', port: 3000 }, 'Balise is up');
    expect(out.text()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Balise is up\n/);
    expect(out.text()).toContain('port: 3000');
    expect(out.text()).not.toContain('secret-key-123');
    expect(out.text()).not.toMatch(ANSI);
    const json = capture();
    createLogger('info', json.stream, { format: 'json', colour: false }).info('Balise is up');
    expect(JSON.parse(json.text())).toMatchObject({ level: 30, msg: 'Balise is up' });
  });
});

describe('balise init', () => {
  const empty = () => fs.mkdtempSync(path.join(os.tmpdir(), 'balise-init-'));

  it('scaffolds a minimal plan that passes plan check, and the example marketplace', async () => {
    const minimal = scaffoldPlan(empty(), { minimal: true });
    expect(fs.readdirSync(path.join(minimal.planDir, 'events')).sort()).toEqual(['feature_used.yaml', 'signed_up.yaml']);
    expect(fs.existsSync(path.join(minimal.planDir, 'schema/event.schema.json'))).toBe(true);
    expect(await planCheckAction(minimal.planDir)).toEqual({ messages: [], errors: 0 });

    const example = scaffoldPlan(empty());
    expect(fs.readdirSync(path.join(example.planDir, 'events'))).toContain('mission_proposal_received.yaml');
    expect(fs.existsSync(path.join(example.planDir, 'generated'))).toBe(false);
    expect((await planCheckAction(example.planDir)).errors).toBe(0);
  });

  it('refuses to write over an existing plan', () => {
    const dir = empty();
    scaffoldPlan(dir, { minimal: true });
    const before = fs.readFileSync(path.join(dir, 'tracking-plan/plan.yaml'), 'utf8');
    expect(() => scaffoldPlan(dir)).toThrow(expect.objectContaining({ code: 'plan_exists' }));
    expect(fs.readFileSync(path.join(dir, 'tracking-plan/plan.yaml'), 'utf8')).toBe(before);
  });
});

describe('embedded engine', () => {
  it('says in one line how to get chDB when the optional package is missing', async () => {
    const missing = () => import('chdb-not-installed-here' as string) as never;
    await expect(loadChdb(missing)).rejects.toMatchObject({ code: 'chdb_missing', message: expect.stringMatching(/CLICKHOUSE_URL.*npm install chdb/) });
  });
});
