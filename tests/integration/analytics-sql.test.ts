/**
 * The analyst SQL surface on the real embedded engine: what the read-only guard now accepts
 * (comments, UNION, EXPLAIN, DESCRIBE, SHOW, names containing FORMAT/SETTINGS) really runs, and
 * what it refuses still cannot write; the `persons` view joins without inflating counts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Warehouse } from '../../src/warehouse/client.ts';
import { runReadOnlySql } from '../../src/analytics/run.ts';
import { formatSql } from '../../src/analytics/format.ts';
import { DAY, insertWorld, WORLD_START } from '../helpers/known-world.ts';
import { clearEvents, openTestWarehouse, type TestWarehouse } from '../helpers/engine.ts';

let warehouse: Warehouse;
let engine: TestWarehouse | undefined;
const LIMITS = { maxRows: 100, maxSeconds: 10 };

beforeAll(async () => {
  engine = await openTestWarehouse('sql');
  warehouse = engine.warehouse;
});

afterAll(async () => {
  await engine?.close();
});

beforeEach(() => clearEvents(warehouse));

const sql = (query: string) => runReadOnlySql(warehouse, query, LIMITS);

describe('what the guard accepts runs on the engine', () => {
  it('comments, UNION and words that merely contain FORMAT or SETTINGS', async () => {
    await insertWorld(warehouse, [{ event: 'mission_posted', user: 'c1', at: WORLD_START, props: { format: 'remote', settings: 2 } }]);
    expect((await sql('-- how many?\nSELECT count() AS n FROM events /* all */ -- end')).rows).toEqual([[1]]);
    expect((await sql('SELECT 1 AS x UNION ALL SELECT 2 AS x')).rows.flat().sort()).toEqual([1, 2]);
    expect((await sql('(SELECT 1 AS x) UNION DISTINCT (SELECT 1)')).rows).toEqual([[1]]);
    const named = await sql("SELECT JSONExtractString(properties, 'format') AS format, JSONExtractInt(properties, 'settings') AS settings, formatDateTime(timestamp, '%F') AS day FROM events");
    expect(named.rows).toEqual([['remote', 2, '2025-03-03']]);
  });

  it('keeps the row of WITH TOTALS apart, and the table says it', async () => {
    await insertWorld(warehouse, [
      { event: 'mission_posted', user: 'c1', at: WORLD_START },
      { event: 'mission_posted', user: 'c2', at: WORLD_START },
      { event: 'mission_completed', user: 'c1', at: WORLD_START },
    ]);
    const result = await sql('SELECT event, count() AS n FROM events GROUP BY event WITH TOTALS ORDER BY event');
    expect([result.rows, result.totals]).toEqual([
      [
        ['mission_completed', 1],
        ['mission_posted', 2],
      ],
      ['', 3],
    ]);
    expect(formatSql(result, { colour: false })).toMatch(/2 row\(s\)\ntotals: event = , n = 3$/);
    expect((await sql('SELECT 1 AS x')).totals).toBeUndefined();
  });

  it('DESCRIBE, SHOW and EXPLAIN', async () => {
    const describe = await sql('DESCRIBE TABLE events');
    expect(describe.columns.map((c) => c.name)).toEqual(['name', 'type', 'default_type', 'default_expression', 'comment']);
    expect(describe.rows.slice(0, 2).map((r) => r.slice(0, 2))).toEqual([
      ['message_id', 'String'],
      ['type', 'LowCardinality(String)'],
    ]);
    expect((await sql('SHOW TABLES')).rows.flat()).toEqual(expect.arrayContaining(['events', 'identity_links', 'persons', 'quarantine']));
    expect(String((await sql('SHOW CREATE TABLE persons')).rows[0]?.[0])).toContain('VIEW');
    expect((await sql('EXPLAIN SELECT count() FROM events')).rows.length).toBeGreaterThan(0);
  });

  it('still refuses writes, settings and formats, and EXPLAIN cannot smuggle one in', async () => {
    for (const query of [
      'INSERT INTO events (message_id) VALUES (1)',
      'SELECT 1 SETTINGS readonly = 0',
      'SELECT 1 FORMAT CSV',
      "SELECT 1 INTO OUTFILE '/tmp/x'",
      'EXPLAIN INSERT INTO events (message_id) VALUES (1)',
    ]) {
      await expect(sql(query), query).rejects.toMatchObject({ code: 'sql_rejected' });
    }
    // EXPLAIN runs with readonly = 2: it may not lift readonly itself nor write.
    await expect(sql("EXPLAIN SELECT * FROM url('http://127.0.0.1:9/x', CSV, 'a String')")).resolves.toBeDefined();
    await expect(sql("SELECT * FROM url('http://127.0.0.1:9/x', CSV, 'a String')")).rejects.toThrow(/readonly/i);
  });
});

describe('what the analyst gets back', () => {
  it('64-bit integers exactly: numbers while exact as one, strings past 2^53, in arrays too', async () => {
    const result = await sql(
      "SELECT toUInt64(9007199254740993) AS big, cityHash64('x') AS hash, count() AS n, toInt64(-3) AS neg, [toUInt64(1), toUInt64(18446744073709551615)] AS ids, toNullable(toUInt64(7)) AS maybe",
    );
    expect(result.rows).toEqual([['9007199254740993', '5748889492429595544', 1, -3, [1, '18446744073709551615'], 7]]);
  });

  it("tells a syntax error at its place in the analyst's own query, without the read-only wrapper's text", async () => {
    await expect(sql('SELECT 1 +')).rejects.toThrow(/^Syntax error at the end of the query\. Expected one of: /);
    const inside = await sql('SELECT 1,\n  2 3 AS x\nFROM system.one').catch((error: Error) => error.message);
    expect(inside).toMatch(/^Syntax error at position 15 \(line 2, col 5\): 3 AS x\. Expected /);
    expect(inside).not.toMatch(/SETTINGS readonly|LIMIT 101/);
  });
});

describe('the persons view', () => {
  it('gives one person per id, so a join counts each event once and agrees with stitching', async () => {
    await insertWorld(warehouse, [
      { event: 'freelancer_signup_started', anon: 'a1', at: WORLD_START },
      // identify twice (two rows linking a1 → u1), the second resent with the same message_id
      { event: '', type: 'identify', user: 'u1', anon: 'a1', at: WORLD_START + 1000 },
      { event: '', type: 'identify', user: 'u1', anon: 'a1', at: WORLD_START + 2000, id: 'dup' },
      { event: '', type: 'identify', user: 'u1', anon: 'a1', at: WORLD_START + 2000, id: 'dup' },
      // a1 later signs in as somebody else: the earliest link stands
      { event: '', type: 'identify', user: 'u2', anon: 'a1', at: WORLD_START + DAY },
      { event: 'freelancer_signup_completed', user: 'u1', at: WORLD_START + 3000 },
      // an alias from an old user id to a new one
      { event: 'mission_posted', user: 'old', at: WORLD_START },
      { event: '', type: 'alias', user: 'new', previous: 'old', at: WORLD_START + 5000 },
      { event: 'mission_posted', user: 'new', at: WORLD_START + DAY },
      { event: 'mission_posted', anon: 'never-linked', at: WORLD_START },
    ]);
    const persons = await sql('SELECT id, person_id, is_alias FROM persons ORDER BY id');
    expect(persons.rows).toEqual([
      ['a1', 'u1', 1],
      ['new', 'new', 0],
      ['old', 'new', 1],
      ['u1', 'u1', 0],
      ['u2', 'u2', 0],
    ]);
    const joined = await sql(`SELECT count() AS events, uniqExact(if(p.person_id != '', p.person_id, if(e.user_id != '', e.user_id, e.anonymous_id))) AS people
      FROM (SELECT * FROM events FINAL LIMIT 1 BY message_id) AS e LEFT JOIN persons AS p ON p.id = if(e.user_id != '', e.user_id, e.anonymous_id)
      WHERE e.type = 'track'`);
    // 5 track events; people: u1 (a1's and u1's events), new (old's and new's), never-linked.
    expect(joined.rows).toEqual([[5, 3]]);
    const naive = await sql(`SELECT count() FROM events AS e LEFT JOIN identity_links AS l ON l.alias_id = if(e.user_id != '', e.user_id, e.anonymous_id) WHERE e.type = 'track'`);
    expect(Number(naive.rows[0]?.[0])).toBeGreaterThan(5); // what the view exists to avoid
    // When each id was first linked: a1's earliest identify; never, for a user id's own row (NULL, not 1970).
    const linked = await sql("SELECT id, toString(first_linked_at) FROM persons WHERE id IN ('a1', 'u1', 'new') ORDER BY id");
    expect(linked.rows).toEqual([
      ['a1', '2025-03-03 00:00:01.000'],
      ['new', null],
      ['u1', null],
    ]);
  });
});
