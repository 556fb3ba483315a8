import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarehouse, type Warehouse } from '../../src/warehouse/client.ts';
import { queryRows } from '../../src/warehouse/query.ts';
import { runReadOnlySql } from '../../src/analytics/run.ts';
import { diskSpoolDir, memorySpoolDir } from '../../src/warehouse/insert-spool.ts';

// A query that writes output, then fails part-way (after 200 blocks of rows).
const failsAfterOutput = 'SELECT number, throwIf(number = 200000) AS boom FROM numbers(300000) SETTINGS max_block_size = 1000';

describe('embedded chDB session after a failed query', () => {
  let dataDir: string;
  let warehouse: Warehouse;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-embedded-'));
    warehouse = await openWarehouse({ clickhouse: { url: undefined, user: 'default', password: '', database: 'balise_embedded', cluster: undefined }, dataDir });
  });
  afterAll(async () => {
    await warehouse.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it.each(['JSONEachRow', 'JSONCompact', 'CSVWithNames'] as const)('the next query sees only its own result (%s output of the failed one)', async (format) => {
    await expect(warehouse.client.query({ query: failsAfterOutput, format }).then((r) => r.text())).rejects.toThrow(/throwIf/);
    expect(await queryRows(warehouse, 'SELECT 42 AS answer')).toEqual([{ answer: 42 }]);
  });

  it('a query issued while another is failing is not handed its leftovers', async () => {
    const failing = warehouse.client.query({ query: failsAfterOutput, format: 'JSONEachRow' }).then((r) => r.text());
    const concurrent = queryRows(warehouse, 'SELECT 7 AS seven');
    await expect(failing).rejects.toThrow(/throwIf/);
    expect(await concurrent).toEqual([{ seven: 7 }]);
  });

  it('an analyst query that times out leaves the next analyst query readable', { timeout: 20_000 }, async () => {
    const limits = { maxRows: 100, maxSeconds: 1 };
    await expect(runReadOnlySql(warehouse, 'SELECT count() FROM system.numbers', limits)).rejects.toThrow(/Timeout exceeded/);
    const next = await runReadOnlySql(warehouse, 'SELECT currentDatabase() AS db', limits);
    expect(next.rows).toEqual([['balise_embedded']]);
  });
});

describe('embedded chDB: analyst SQL has its own lane', () => {
  let dataDir: string;
  let warehouse: Warehouse;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-embedded-lane-'));
    warehouse = await openWarehouse({ clickhouse: { url: undefined, user: 'default', password: '', database: 'balise_lane', cluster: undefined }, dataDir });
    await warehouse.client.command({ query: 'CREATE TABLE lane_rows (n UInt64) ENGINE = MergeTree ORDER BY n' });
  });
  afterAll(async () => {
    await warehouse.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  // Order, not time: a query that only ends when its limit cuts it is still running when the
  // dashboard's query and the worker's insert, issued after it, have both returned. Before the
  // lane existed, both queued behind it on the engine's one connection.
  it('a long analyst query does not hold dashboard reads or inserts behind it', { timeout: 30_000 }, async () => {
    const order: string[] = [];
    const analyst = runReadOnlySql(warehouse, 'SELECT count() FROM system.numbers', { maxRows: 10, maxSeconds: 3 }).then(
      () => order.push('analyst'),
      () => order.push('analyst'),
    );
    // Give the analyst query time to reach the engine first.
    await new Promise((r) => setTimeout(r, 300));
    await warehouse.insertJsonRows('lane_rows', Buffer.from('{"n":1}\n{"n":2}'), {});
    order.push('insert');
    const rows = await queryRows<{ c: string }>(warehouse, 'SELECT count() AS c FROM lane_rows WHERE n IN (1, 2)');
    order.push('dashboard');
    await analyst;
    // The rows just inserted, whatever the other test of this table wrote before (any order).
    expect(Number(rows[0]!.c)).toBe(2);
    expect(order).toEqual(['insert', 'dashboard', 'analyst']);
  });

  // Order, not time: the dashboard's read is issued while a large insert is running on the
  // worker's connection, and returns first. On one shared connection it queued behind the insert.
  it('a dashboard read does not wait behind an insert on the worker connection', { timeout: 60_000 }, async () => {
    const order: string[] = [];
    const rows = Buffer.from(Array.from({ length: 2_000_000 }, (_, i) => `{"n":${100 + (i % 1000)}}`).join('\n'));
    const insert = warehouse.insertJsonRows('lane_rows', rows, {}).then(() => order.push('insert'));
    await new Promise((r) => setTimeout(r, 50));
    const [row] = await queryRows<{ one: number }>(warehouse, 'SELECT 1 AS one');
    order.push('dashboard');
    await insert;
    expect(row).toEqual({ one: 1 });
    expect(order).toEqual(['dashboard', 'insert']);
  });

  // Order, not time (decision 0048): a read that sleeps two seconds holds the cores from nobody,
  // yet an analyst query of a fraction of that work, issued while it runs, is paused until it
  // ends. Without priorities the analyst query returned first.
  it('an analyst query waits while a dashboard read runs', { timeout: 60_000 }, async () => {
    const order: string[] = [];
    const read = queryRows(warehouse, 'SELECT sleepEachRow(0.5) AS slept FROM numbers(4)').then(() => order.push('dashboard'));
    await new Promise((r) => setTimeout(r, 200));
    const analyst = await runReadOnlySql(warehouse, 'SELECT count() AS n FROM numbers(1000000) WHERE sipHash64(number) % 7 = 3', { maxRows: 10, maxSeconds: 30 });
    order.push('analyst');
    await read;
    expect(analyst.rows).toEqual([[expect.any(Number)]]);
    expect(order).toEqual(['dashboard', 'analyst']);
  });

  it('the analyst lane reads the same data, in the same database', async () => {
    await warehouse.insertJsonRows('lane_rows', Buffer.from('{"n":10}'), {});
    const result = await runReadOnlySql(warehouse, 'SELECT currentDatabase() AS db, countIf(n = 10) AS tens FROM lane_rows', { maxRows: 10, maxSeconds: 5 });
    expect(result.rows).toEqual([['balise_lane', 1]]);
  });
});

// A shutdown must not wait for analysts' queries, each of which may run to its time limit.
describe("embedded chDB: cancelling the analysts' queries", () => {
  it('ends the running one and the one waiting its turn, refuses later ones, and leaves reads, inserts and close alone', { timeout: 60_000 }, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-embedded-cancel-'));
    const warehouse = await openWarehouse({ clickhouse: { url: undefined, user: 'default', password: '', database: 'balise_cancel', cluster: undefined }, dataDir });
    try {
      // Each would run to its 10 s limit and fail TIMEOUT_EXCEEDED: the errors say what ended them.
      const scan = () => runReadOnlySql(warehouse, 'SELECT count() FROM system.numbers WHERE sipHash64(number) % 7 = 3', { maxRows: 10, maxSeconds: 10 }).catch((error: unknown) => error);
      const running = scan();
      await new Promise((r) => setTimeout(r, 500));
      const waiting = scan();
      await warehouse.cancelAnalystQueries();
      expect(await running).toMatchObject({ type: 'QUERY_WAS_CANCELLED' });
      expect(await waiting).toMatchObject({ code: 'query_cancelled' });
      expect(await scan()).toMatchObject({ code: 'query_cancelled' });
      await warehouse.client.command({ query: 'CREATE TABLE after_cancel (n UInt64) ENGINE = MergeTree ORDER BY n' });
      await warehouse.insertJsonRows('after_cancel', Buffer.from('{"n":1}'), {});
      expect(await queryRows(warehouse, 'SELECT count() AS c FROM after_cancel')).toEqual([{ c: 1 }]);
    } finally {
      await warehouse.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

// Decision 0049: embedded inserts hand the engine a file of rows, not inline bytes.
describe('embedded chDB: inserts read their rows from a spool file', () => {
  const filesIn = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);
  const open = (dataDir: string) => openWarehouse({ clickhouse: { url: undefined, user: 'default', password: '', database: 'balise_spool', cluster: undefined }, dataDir });

  it('rows arrive whole, a refused insert says why, and no file outlives its insert or its process', { timeout: 30_000 }, async () => {
    // A quote in the path: the file name is inlined into the INSERT's SQL.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "balise-spool-o'clock-"));
    const disk = diskSpoolDir(dataDir);
    const memory = memorySpoolDir(dataDir);
    // What a process that died mid-insert left, on disk and in memory.
    fs.mkdirSync(disk, { recursive: true });
    fs.mkdirSync(memory, { mode: 0o700 });
    fs.writeFileSync(path.join(disk, 'left-by-a-dead-process.json'), '[1]');
    fs.writeFileSync(path.join(memory, 'left-by-a-dead-process.json'), '[1]');
    const warehouse = await open(dataDir);
    try {
      expect([...filesIn(disk), ...filesIn(memory)]).toEqual([]);
      await warehouse.client.command({ query: 'CREATE TABLE spooled (n UInt32, props String) ENGINE = MergeTree ORDER BY n' });
      const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify([i, { i, text: 'tab\there, quote " and newline \n' }]));
      await warehouse.insertJsonRows('spooled', Buffer.from(lines.join('\n')), { input_format_json_read_objects_as_strings: 1 }, ['n', 'props']);
      expect(await queryRows(warehouse, 'SELECT count() AS rows, max(n) AS last, any(props) AS props FROM spooled WHERE n = 7')).toEqual([
        { rows: 1, last: 7, props: '{"i":7,"text":"tab\\there, quote \\" and newline \\n"}' },
      ]);
      await expect(warehouse.insertJsonRows('spooled', Buffer.from('["not a number", "x"]'), {}, ['n', 'props'])).rejects.toThrow(/not a number|Cannot parse|CANNOT_PARSE/i);
      expect([...filesIn(disk), ...filesIn(memory)]).toEqual([]);
      expect(await queryRows(warehouse, 'SELECT count() AS rows FROM spooled')).toEqual([{ rows: 5000 }]);
    } finally {
      await warehouse.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    expect(fs.existsSync(memory)).toBe(false);
  });

  // A shutdown gives up waiting for a connection whose query runs on (an analyst's); the memory
  // spool must not wait behind it, or it stays in /dev/shm after the process is gone.
  it('closing removes the memory spool at once, even while an analyst query keeps its connection busy', { timeout: 30_000 }, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-spool-close-'));
    const warehouse = await open(dataDir);
    const analyst = runReadOnlySql(warehouse, 'SELECT count() AS n FROM system.numbers WHERE sipHash64(number) % 7 = 3', { maxRows: 10, maxSeconds: 3 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const closing = warehouse.close();
    await new Promise((r) => setTimeout(r, 300));
    try {
      expect(fs.existsSync(memorySpoolDir(dataDir))).toBe(false);
    } finally {
      await closing;
      await analyst;
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
