/**
 * `balise metabase provision` against recorded contracts of Metabase's REST API: a small
 * node:http server checks every request (method, path, body shape) against
 * tests/fixtures/metabase/contract.json (0.47–0.56, legacy queries) or contract-0.57.json (0.57+,
 * every card query stored and answered as MBQL 5), replays the recorded responses and keeps
 * state, so idempotence, archiving and a failed login are observed through the requests Balise
 * sends. Every test runs against both contracts.
 */
import fs from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadKpiDefinitions } from '../../src/analytics/definitions.ts';
import type { KpiDefinitions } from '../../src/analytics/model.ts';
import { loadConfig } from '../../src/config/index.ts';
import { MetabaseClient } from '../../src/metabase/client.ts';
import { MetabaseError } from '../../src/metabase/errors.ts';
import { provisionMetabase } from '../../src/metabase/provision.ts';
import { readNativeQuery } from '../../src/metabase/query-format.ts';
import { keyFromDescription } from '../../src/metabase/questions.ts';
import { clickhouseDetails, metabaseSettings } from '../../src/metabase/settings.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';
import { runCli } from '../helpers/process.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
type Shape = string | Shape[] | { oneOf: Shape[] } | { [key: string]: Shape };
interface Endpoint {
  name: string;
  method: string;
  path: string;
  query?: Record<string, string>;
  request?: Record<string, Shape>;
  response: { status: number; body: unknown };
  failure?: { status: number; body: unknown };
}
interface Contract {
  queryFormat: 'legacy' | 'mbql5';
  endpoints: Endpoint[];
}
const loadContract = (file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/fixtures/metabase', file), 'utf8')) as Contract;
const CONTRACTS = [
  ['Metabase 0.47–0.56 (legacy queries)', loadContract('contract.json')],
  ['Metabase 0.57+ (MBQL 5 queries)', loadContract('contract-0.57.json')],
] as const;

/** Problems with `value` against `shape` (empty when it conforms). */
function shapeErrors(value: unknown, shape: Shape, at: string): string[] {
  if (typeof shape === 'string') {
    const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
    return actual === shape ? [] : [`${at}: expected ${shape}, got ${actual}`];
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return [`${at}: expected an array`];
    return value.flatMap((v, i) => shapeErrors(v, shape[0] as Shape, `${at}[${i}]`));
  }
  if (Array.isArray(shape.oneOf)) {
    const tries = (shape.oneOf as Shape[]).map((alternative) => shapeErrors(value, alternative, at));
    return tries.some((t) => t.length === 0) ? [] : [`${at}: matches none of its alternatives (${tries.map((t) => t.join('; ')).join(' | ')})`];
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: expected an object`];
  const errors: string[] = [];
  const allowed = new Set(Object.keys(shape).map((k) => k.replace(/\?$/, '')));
  for (const [rawKey, sub] of Object.entries(shape)) {
    const key = rawKey.replace(/\?$/, '');
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) {
      if (!rawKey.endsWith('?')) errors.push(`${at}.${key}: missing`);
    } else errors.push(...shapeErrors(v, sub, `${at}.${key}`));
  }
  for (const key of Object.keys(value)) if (!allowed.has(key)) errors.push(`${at}.${key}: not in the contract`);
  return errors;
}

type Row = Record<string, unknown> & { id: number };
const isPlainRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
interface Logged {
  method: string;
  path: string;
  body: unknown;
}

/**
 * What Metabase 0.57+ stores for a saved query (transform-query-in → normalize-query): a legacy
 * native query becomes one MBQL 5 native stage; an MBQL 5 query is kept. Anything else is refused.
 */
function toMbql5(query: unknown): Record<string, unknown> | undefined {
  const q = query as Record<string, unknown> & { native?: { query?: unknown; 'template-tags'?: unknown } };
  if (q['lib/type'] === 'mbql/query') return q;
  if (q.type === 'native' && typeof q.native?.query === 'string') {
    return { 'lib/type': 'mbql/query', database: q.database, stages: [{ 'lib/type': 'mbql.stage/native', native: q.native.query, 'template-tags': q.native['template-tags'] ?? {} }] };
  }
  return undefined;
}

/** The replaying Metabase: state in memory, every request checked against the contract. */
class ContractServer {
  readonly log: Logged[] = [];
  readonly violations: string[] = [];
  databases: Row[] = [];
  collections: Row[] = [];
  cards: Row[] = [];
  dashboards: Row[] = [];
  password = 'correct-horse';
  private nextId = 100;
  private server = http.createServer((req, res) => void this.handle(req, res));
  url = '';

  constructor(private readonly contract: Contract) {}

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
  writes(): Logged[] {
    return this.log.filter((l) => l.method !== 'GET' && l.path !== '/api/session');
  }

  private match(method: string, pathname: string): { endpoint: Endpoint; id: number | undefined } | undefined {
    for (const endpoint of this.contract.endpoints) {
      if (endpoint.method !== method) continue;
      const pattern = new RegExp(`^${endpoint.path.replace(':id', '(\\d+)')}/?$`);
      const m = pattern.exec(pathname);
      if (m) return { endpoint, id: m[1] === undefined ? undefined : Number(m[1]) };
    }
    return undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    this.log.push({ method: req.method ?? '', path: url.pathname, body });
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const found = this.match(req.method ?? '', url.pathname);
    if (!found) {
      this.violations.push(`${req.method} ${url.pathname}: no such endpoint in the contract`);
      return send(404, { message: 'not in contract' });
    }
    const { endpoint, id } = found;
    const problems = [
      ...(endpoint.request ? shapeErrors(body, endpoint.request, 'body') : body === undefined ? [] : ['body: none expected']),
      ...Object.keys(endpoint.query ?? {})
        .filter((q) => !url.searchParams.has(q))
        .map((q) => `query ${q}: missing`),
    ];
    if (endpoint.path !== '/api/session' && req.headers['x-metabase-session'] !== (this.contract.endpoints[0]!.response.body as { id: string }).id)
      problems.push('X-Metabase-Session: missing or wrong');
    const input = { ...((body ?? {}) as Record<string, unknown>) };
    if (this.contract.queryFormat === 'mbql5' && input.dataset_query !== undefined) {
      const stored = toMbql5(input.dataset_query);
      if (!stored) problems.push('body.dataset_query: not a native query Metabase can normalise');
      else input.dataset_query = stored;
    }
    if (problems.length) {
      this.violations.push(...problems.map((p) => `${endpoint.name}: ${p}`));
      return send(400, { errors: problems });
    }
    const recorded = endpoint.response.body as Record<string, unknown>;
    const create = (table: Row[], extra: Record<string, unknown> = {}) => {
      const row = { ...recorded, ...input, ...extra, id: this.nextId++ } as Row;
      // 0.57's built-in driver adds its defaults (scan-all-databases…) to the submitted details.
      if (this.contract.queryFormat === 'mbql5' && isPlainRecord(input.details)) row.details = { ...(recorded.details as object), ...input.details };
      table.push(row);
      return send(200, row);
    };
    const update = (table: Row[]) => {
      const row = table.find((r) => r.id === id);
      if (!row) return send(404, { message: 'Not found.' });
      Object.assign(row, input);
      return send(200, row);
    };
    switch (endpoint.name) {
      case 'login':
        return input.password === this.password ? send(200, recorded) : send(endpoint.failure!.status, endpoint.failure!.body);
      case 'list databases':
        return send(200, { ...recorded, data: this.databases.map((d) => ({ ...d, details: { ...(d.details as object), password: '**MetabasePass**' } })), total: this.databases.length });
      case 'create database':
        return create(this.databases);
      case 'update database':
        return update(this.databases);
      case 'list collections':
        return send(200, [...(recorded as unknown as Row[]), ...this.collections]);
      case 'create collection':
        return create(this.collections, { archived: false });
      case 'collection items': {
        const items = this.dashboards.filter((d) => d.collection_id === id && !d.archived).map((d) => ({ id: d.id, name: d.name, description: d.description, model: 'dashboard' }));
        return send(200, { ...recorded, data: items, total: items.length });
      }
      case 'list cards':
        // f=all lists the cards that are not archived, f=archived the archived ones, as Metabase does.
        return send(
          200,
          this.cards.filter((c) => (url.searchParams.get('f') === 'archived' ? c.archived === true : !c.archived)),
        );
      case 'create card':
        return create(this.cards, { archived: false });
      case 'update card':
        return update(this.cards);
      case 'create dashboard':
        return create(this.dashboards, { dashcards: [] });
      case 'get dashboard': {
        const d = this.dashboards.find((r) => r.id === id);
        return d ? send(200, d) : send(404, { message: 'Not found.' });
      }
      case 'update dashboard': {
        const d = this.dashboards.find((r) => r.id === id);
        if (!d) return send(404, { message: 'Not found.' });
        if (Array.isArray(input.dashcards)) {
          // 0.57 answers each dashcard with its tab, mappings, settings and the hydrated card.
          const hydrated = (dc: Row) =>
            this.contract.queryFormat === 'mbql5'
              ? { dashboard_tab_id: null, parameter_mappings: [], visualization_settings: {}, series: [], card: this.cards.find((c) => c.id === dc.card_id) ?? null }
              : {};
          d.dashcards = (input.dashcards as Row[]).map((dc) => ({ ...hydrated(dc), ...dc, id: dc.id < 0 ? this.nextId++ : dc.id, dashboard_id: d.id }));
        }
        for (const key of ['name', 'description'] as const) if (input[key] !== undefined) d[key] = input[key];
        return send(200, d);
      }
      default:
        return send(500, { message: `unhandled ${endpoint.name}` });
    }
  }
}

const CLICKHOUSE = { host: 'clickhouse', port: 8123, user: 'default', password: 'secret', dbname: 'balise', ssl: false };
let server: ContractServer;
let definitions: KpiDefinitions;
/** The SQL and database of a stored card, whichever shape the contract's Metabase stores. */
const nativeOf = (card: Row) => readNativeQuery(card.dataset_query)!;

const client = (password = server.password) => new MetabaseClient({ url: server.url, username: 'admin@example.com', password });
const provision = (defs: KpiDefinitions = definitions, password?: string) => provisionMetabase(client(password), { clickhouse: CLICKHOUSE, definitions: defs });
const managedCards = () => server.cards.filter((c) => !c.archived);

describe.each(CONTRACTS)('metabase provision against the recorded contract of %s', (_label, contract) => {
  beforeEach(async () => {
    server = new ContractServer(contract);
    await server.start();
    definitions = await loadKpiDefinitions(FIXTURE_PLAN);
  });
  afterEach(async () => {
    expect(server.violations).toEqual([]);
    await server.stop();
  });

  it('creates the database, the collection, one question per KPI and funnel, and the dashboard', async () => {
    const report = await provision();
    const expectedKeys = [...definitions.metrics.map((m) => `kpi:${m.id}`), ...definitions.funnels.map((f) => `funnel:${f.id}`), ...definitions.retention.map((r) => `retention:${r.id}`)];
    expect(report.database.action).toBe('created');
    expect(report.collection.action).toBe('created');
    expect(report.dashboard.action).toBe('created');
    expect(report.cards.created).toEqual(expectedKeys);

    expect(server.databases).toHaveLength(1);
    expect(server.databases[0]).toMatchObject({ name: 'Balise ClickHouse', engine: 'clickhouse', details: CLICKHOUSE });
    const db = server.databases[0]!.id;
    const collection = server.collections[0]!.id;
    expect(managedCards()).toHaveLength(expectedKeys.length);
    for (const card of managedCards()) {
      expect(card).toMatchObject({ collection_id: collection });
      if (contract.queryFormat === 'mbql5') expect(card.dataset_query).toMatchObject({ 'lib/type': 'mbql/query', stages: [{ 'lib/type': 'mbql.stage/native' }] });
      else expect(card.dataset_query).toMatchObject({ type: 'native' });
      expect(nativeOf(card).database).toBe(db);
      expect(String(card.description)).toMatch(/balise:(kpi|funnel|retention):[a-z_]+/);
      expect(nativeOf(card).sql).not.toMatch(/\{[a-z_0-9]+:[A-Za-z]/); // every parameter inlined
      // Some ClickHouse JDBC versions fail on a leading comment: the SQL starts with SELECT.
      expect(nativeOf(card).sql).toMatch(/^SELECT /);
    }
    const signups = managedCards().find((c) => String(c.description).includes('balise:kpi:weekly_freelancer_signups'))!;
    expect(signups).toMatchObject({ name: 'Freelancer sign-ups', display: 'line' });
    expect(String(signups.description)).toMatch(/\nFreelancer sign-ups per week \(UTC\), generated by Balise from kpis\/metrics.yaml\. The last point is the current week, still under way\./);
    expect(nativeOf(signups).sql).toContain("e.event = 'freelancer_signup_completed'");

    const dashboard = server.dashboards[0]!;
    expect(dashboard).toMatchObject({ name: 'Balise KPIs', collection_id: collection });
    const dashcards = dashboard.dashcards as Row[];
    expect(new Set(dashcards.map((d) => d.card_id))).toEqual(new Set(managedCards().map((c) => c.id)));
    // No two dashcards overlap on the 24-column grid.
    const cells = new Set<string>();
    for (const d of dashcards as unknown as { row: number; col: number; size_x: number; size_y: number }[]) {
      expect(d.col + d.size_x).toBeLessThanOrEqual(24);
      for (let r = d.row; r < d.row + d.size_y; r++)
        for (let c = d.col; c < d.col + d.size_x; c++) {
          expect(cells.has(`${r}:${c}`)).toBe(false);
          cells.add(`${r}:${c}`);
        }
    }
  });

  it('changes nothing on a second run: no write request at all', async () => {
    await provision();
    const before = server.log.length;
    const report = await provision();
    const second = server.log.slice(before);
    expect(second.filter((l) => l.method !== 'GET' && l.path !== '/api/session')).toEqual([]);
    expect(report.writes).toBe(0);
    expect(report.cards.unchanged).toHaveLength(definitions.metrics.length + definitions.funnels.length + definitions.retention.length);
    expect([report.database.action, report.collection.action, report.dashboard.action]).toEqual(['unchanged', 'unchanged', 'unchanged']);
  });

  it('a dry run reports what a run would write, and writes nothing, on an empty Metabase and after a KPI is removed', async () => {
    const dryRun = (defs: KpiDefinitions) =>
      provisionMetabase(new MetabaseClient({ url: server.url, username: 'admin@example.com', password: server.password, dryRun: true }), { clickhouse: CLICKHOUSE, definitions: defs });
    const planned = await dryRun(definitions);
    expect(server.writes()).toEqual([]);
    expect([server.databases, server.cards, server.dashboards]).toEqual([[], [], []]);
    const real = await provision();
    expect({ ...planned, database: planned.database.action, collection: planned.collection.action, dashboard: planned.dashboard.action }).toEqual({
      ...real,
      database: real.database.action,
      collection: real.collection.action,
      dashboard: real.dashboard.action,
    });
    const writesBefore = server.writes().length;
    const removed = await dryRun({ ...definitions, metrics: definitions.metrics.filter((m) => m.id !== 'average_mission_rating') });
    expect([removed.cards.archived, removed.cards.created, removed.dashboard.action, removed.writes]).toEqual([['kpi:average_mission_rating'], [], 'updated', 2]);
    expect(server.writes()).toHaveLength(writesBefore);
    expect(managedCards()).toHaveLength(real.cards.created.length);
  });

  it('balise metabase provision --dry-run says what it would do, in words, and writes nothing', async () => {
    const env = { BALISE_PLAN_DIR: FIXTURE_PLAN, METABASE_URL: server.url, METABASE_USER: 'admin@example.com', METABASE_PASSWORD: server.password, CLICKHOUSE_URL: 'http://clickhouse:8123' };
    const run = await runCli(['metabase', 'provision', '--dry-run'], env);
    expect(run.code).toBe(0);
    expect(run.output).toMatch(/^Dry run: what `balise metabase provision` would change\.\ndatabase "Balise ClickHouse": would be created\n/);
    expect(run.output).toContain('dashboard "Balise KPIs": would be created');
    expect(run.output).toMatch(/\d+ change\(s\) to write; dry run: nothing was sent\./);
    expect(server.writes()).toEqual([]);
  });

  it('sends a rotated ClickHouse password, which Metabase answers masked, only when asked to (--update-connection)', async () => {
    await provision();
    const rotated = { ...CLICKHOUSE, password: 'rotated' };
    const run = (updateConnection: boolean) => provisionMetabase(client(), { clickhouse: rotated, definitions, updateConnection });
    const before = server.writes().length;
    expect((await run(false)).database.action).toBe('unchanged');
    expect(server.writes()).toHaveLength(before);
    expect((await run(true)).database.action).toBe('updated');
    expect(server.writes().slice(before)).toEqual([{ method: 'PUT', path: `/api/database/${server.databases[0]!.id}`, body: expect.objectContaining({ details: rotated }) }]);
    expect(server.databases[0]!.details).toEqual(rotated);
  });

  /** Replaces a stored card's query the way the contract's Metabase would store it. */
  const storeQuery = (card: Row, sql: string, extraStages: unknown[] = []) => {
    const { database } = nativeOf(card);
    card.dataset_query =
      contract.queryFormat === 'mbql5'
        ? { 'lib/type': 'mbql/query', database, stages: [{ 'lib/type': 'mbql.stage/native', native: sql, 'template-tags': {} }, ...extraStages] }
        : { type: 'native', native: { query: sql }, database };
  };

  it('rewrites once a question an older Balise wrote with a leading SQL comment, then leaves it alone', async () => {
    await provision();
    const card = server.cards.find((c) => String(c.description).includes('balise:funnel:freelancer_activation'))!;
    const sql = nativeOf(card).sql;
    storeQuery(card, `-- Freelancer activation, generated by Balise\n${sql}`);
    const report = await provision();
    expect(report.cards.updated).toEqual(['funnel:freelancer_activation']);
    expect(report.writes).toBe(1);
    expect(nativeOf(card).sql).toBe(sql);
    expect((await provision()).writes).toBe(0);
  });

  it('restores a question edited in Metabase (SQL changed, a template tag or a query-builder stage added)', async () => {
    await provision();
    const cards = managedCards().slice(0, 3);
    const sqls = cards.map((c) => nativeOf(c).sql);
    storeQuery(cards[0]!, `${sqls[0]} LIMIT 1`);
    const tagged =
      contract.queryFormat === 'mbql5'
        ? {
            'lib/type': 'mbql/query',
            database: nativeOf(cards[1]!).database,
            stages: [{ 'lib/type': 'mbql.stage/native', native: sqls[1], 'template-tags': { x: { name: 'x', 'display-name': 'X', type: 'text' } } }],
          }
        : { type: 'native', native: { query: sqls[1], 'template-tags': { x: { name: 'x', 'display-name': 'X', type: 'text' } } }, database: nativeOf(cards[1]!).database };
    cards[1]!.dataset_query = tagged;
    if (contract.queryFormat === 'mbql5') storeQuery(cards[2]!, sqls[2]!, [{ 'lib/type': 'mbql.stage/mbql', limit: 10 }]);
    else storeQuery(cards[2]!, sqls[2]!.replace('SELECT', 'SELECT DISTINCT'));
    const report = await provision();
    expect(report.cards.updated.sort()).toEqual(cards.map((c) => keyFromDescription(String(c.description))!).sort());
    cards.forEach((c, i) => expect(readNativeQuery(c.dataset_query)).toEqual({ database: nativeOf(c).database, sql: sqls[i], templateTags: {} }));
    expect((await provision()).writes).toBe(0);
  });

  it('archives the card of a KPI removed from the definitions and takes it off the dashboard', async () => {
    await provision();
    const removed = definitions.metrics.find((m) => m.id === 'average_mission_rating')!;
    const card = server.cards.find((c) => String(c.description).includes('balise:kpi:average_mission_rating'))!;
    const report = await provision({ ...definitions, metrics: definitions.metrics.filter((m) => m !== removed) });
    expect(report.cards.archived).toEqual(['kpi:average_mission_rating']);
    expect(report.cards.created).toEqual([]);
    expect(card.archived).toBe(true);
    const onDashboard = (server.dashboards[0]!.dashcards as Row[]).map((d) => d.card_id);
    expect(onDashboard).not.toContain(card.id);
    expect(onDashboard).toHaveLength(managedCards().length);
    // Archiving is a PUT {archived: true}, never a DELETE.
    expect(server.writes().filter((w) => w.path === `/api/card/${card.id}`)).toEqual([{ method: 'PUT', path: `/api/card/${card.id}`, body: { archived: true } }]);
  });

  it("keeps the cards a user added to the dashboard (a text card, their own question) when it moves Balise's, and then changes nothing", async () => {
    await provision();
    const dashboard = server.dashboards[0]!;
    const text = {
      id: 900,
      card_id: null,
      row: 40,
      col: 0,
      size_x: 24,
      size_y: 2,
      dashboard_tab_id: null,
      visualization_settings: { text: '## Notes from the PM' },
      parameter_mappings: [],
      series: [],
    };
    const own = { id: 901, card_id: 9999, row: 42, col: 0, size_x: 12, size_y: 6, dashboard_tab_id: null, visualization_settings: { 'graph.goal_value': 10 }, parameter_mappings: [], series: [] };
    dashboard.dashcards = [...(dashboard.dashcards as Row[]), text, own];
    const removed = definitions.metrics.find((m) => m.id === 'average_mission_rating')!;
    const report = await provision({ ...definitions, metrics: definitions.metrics.filter((m) => m !== removed) });
    expect(report.dashboard.action).toBe('updated');
    expect(server.violations).toEqual([]);
    const after = dashboard.dashcards as Row[];
    expect(after.find((d) => d.id === 900)).toMatchObject({ card_id: null, row: 40, visualization_settings: { text: '## Notes from the PM' } });
    expect(after.find((d) => d.id === 901)).toMatchObject({ card_id: 9999, row: 42, visualization_settings: { 'graph.goal_value': 10 } });
    expect(after.filter((d) => d.id !== 900 && d.id !== 901)).toHaveLength(managedCards().length);
    const writes = server.writes().length;
    const again = await provision({ ...definitions, metrics: definitions.metrics.filter((m) => m !== removed) });
    expect([again.dashboard.action, server.writes().length]).toEqual(['unchanged', writes]);
  });

  it('brings back the archived card of a KPI removed and then restored, rather than a second card', async () => {
    await provision();
    const removed = definitions.metrics.find((m) => m.id === 'average_mission_rating')!;
    const card = server.cards.find((c) => String(c.description).includes('balise:kpi:average_mission_rating'))!;
    await provision({ ...definitions, metrics: definitions.metrics.filter((m) => m !== removed) });
    expect(card.archived).toBe(true);
    const cardsBefore = server.cards.length;
    const report = await provision();
    expect([report.cards.restored, report.cards.created]).toEqual([['kpi:average_mission_rating'], []]);
    expect([card.archived, server.cards.length]).toEqual([false, cardsBefore]);
    expect((server.dashboards[0]!.dashcards as Row[]).map((d) => d.card_id)).toContain(card.id);
    expect(server.violations).toEqual([]);
  });

  it('updates a renamed KPI in place, found by its marker rather than its title', async () => {
    await provision();
    const count = server.cards.length;
    const renamed = { ...definitions, metrics: definitions.metrics.map((m) => (m.id === 'weekly_missions_posted' ? { ...m, title: 'Missions published' } : m)) };
    const report = await provision(renamed);
    expect(report.cards.updated).toEqual(['kpi:weekly_missions_posted']);
    expect(server.cards).toHaveLength(count);
    const card = server.cards.find((c) => String(c.description).includes('balise:kpi:weekly_missions_posted'))!;
    expect(card.name).toBe('Missions published');
    // The title lives in the description, not in the SQL: the query (and its re-run) is left alone.
    expect(server.writes().at(-1)).toEqual({
      method: 'PUT',
      path: `/api/card/${card.id}`,
      body: {
        name: 'Missions published',
        description: expect.stringContaining('Missions published per week'),
        visualization_settings: expect.objectContaining({ 'graph.y_axis.title_text': 'Missions published' }),
      },
    });
  });

  it('fails a wrong password with a clear error and a stable code, sending nothing else', async () => {
    const error = await provision(definitions, 'wrong-password').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetabaseError);
    expect(error).toMatchObject({ code: 'metabase_login_failed', message: expect.stringContaining('METABASE_PASSWORD') });
    expect(server.log.map((l) => `${l.method} ${l.path}`)).toEqual(['POST /api/session']);
  });

  it('the contract check itself rejects a request shape Metabase would not accept', async () => {
    const c = client();
    await c.login();
    const error = await c.createCard({ name: 'x', display: 'table' } as never).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'metabase_http_error' });
    expect(server.violations.join('\n')).toContain('body.dataset_query: missing');
    server.violations.length = 0;
  });
});

describe('metabase login', () => {
  it('fails a login that opens no session (a second factor asked) with the same code, sending nothing else', async () => {
    // Not in the contracts: a Metabase whose user must give a second factor answers 200 without a session id.
    const requests: string[] = [];
    const mfa = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ mfa_required: true, methods: ['totp'], challenge_token: 'c' }));
    });
    await new Promise<void>((resolve) => mfa.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = mfa.address() as AddressInfo;
      const error = await new MetabaseClient({ url: `http://127.0.0.1:${port}`, username: 'admin@example.com', password: 'p' }).login().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'metabase_login_failed', message: expect.stringContaining('opened no session') });
      expect(requests).toEqual(['POST /api/session']);
    } finally {
      await new Promise((resolve) => mfa.close(resolve));
    }
  });
});

describe('metabase settings', () => {
  it.each([
    [{}, 'metabase_not_configured', 'METABASE_URL is not set'],
    [{ METABASE_URL: 'http://mb:3000' }, 'metabase_not_configured', 'METABASE_USER and METABASE_PASSWORD'],
  ])('%j → %s', (env, code, message) => {
    expect(() => metabaseSettings(loadConfig(env))).toThrow(expect.objectContaining({ code, message: expect.stringContaining(message) }));
  });

  it.each([
    ['http://clickhouse:8123', { host: 'clickhouse', port: 8123, ssl: false }],
    ['https://ch.example.com', { host: 'ch.example.com', port: 8443, ssl: true }],
  ])('Metabase reaches ClickHouse at %s', (url, expected) => {
    expect(clickhouseDetails(loadConfig({ CLICKHOUSE_URL: url, CLICKHOUSE_DATABASE: 'analytics' }))).toMatchObject({ ...expected, dbname: 'analytics', user: 'default' });
  });

  it('refuses definitions plan check refuses, before sending anything to Metabase', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-mb-lint-'));
    fs.cpSync(FIXTURE_PLAN, dir, { recursive: true });
    const metrics = path.join(dir, 'kpis/metrics.yaml');
    fs.writeFileSync(metrics, fs.readFileSync(metrics, 'utf8').replace('event: mission_posted', 'event: mission_postd'));
    // Metabase at a port nothing listens on: reaching it would fail with metabase_unreachable.
    const run = await runCli(['metabase', 'provision'], { BALISE_PLAN_DIR: dir, METABASE_URL: 'http://127.0.0.1:9', METABASE_USER: 'a@b.c', METABASE_PASSWORD: 'p', CLICKHOUSE_URL: 'http://ch:8123' });
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/kpis\/ has 1 error\(s\) that `balise plan check` reports; nothing was sent to Metabase\. First: .*mission_postd.*\[kpi_definition_invalid\]/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses the embedded engine, which Metabase cannot reach', () => {
    expect(() => clickhouseDetails(loadConfig({}))).toThrow(expect.objectContaining({ code: 'metabase_needs_clickhouse_server' }));
  });
});
