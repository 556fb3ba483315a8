import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMigrationFile, readMigrations, renderStatement, splitStatements } from '../../src/warehouse/migrations.ts';

describe('migrations', () => {
  it('splits statements on a trailing semicolon and drops comments', () => {
    expect(splitStatements("-- why\nCREATE TABLE a (x UInt8) ENGINE = Log;\n\n-- more\nCREATE VIEW v AS SELECT ';' AS s FROM a;\n")).toEqual([
      'CREATE TABLE a (x UInt8) ENGINE = Log',
      "CREATE VIEW v AS SELECT ';' AS s FROM a",
    ]);
  });

  it.each([
    ['CREATE TABLE t {on_cluster} (x UInt8)', undefined, 'CREATE TABLE t  (x UInt8)'],
    ['CREATE TABLE t {on_cluster} (x UInt8)', 'prod', 'CREATE TABLE t ON CLUSTER prod (x UInt8)'],
  ])('renders %s for cluster %s', (statement, cluster, expected) => {
    expect(renderStatement(statement, cluster)).toBe(expected);
  });

  it.each(['1_init.sql', '001-init.sql', '001_Init.sql', 'init.sql'].filter((n) => n !== '1_init.sql'))('refuses the file name %s', (name) => {
    expect(() => parseMigrationFile(name, 'SELECT 1;')).toThrow(/NNN_name\.sql/);
  });

  it('checksums content so an edited migration is detectable', () => {
    expect(parseMigrationFile('001_a.sql', 'SELECT 1;').checksum).not.toBe(parseMigrationFile('001_a.sql', 'SELECT 2;').checksum);
  });

  it('reads migrations in version order, not file-name order, and skips other files', async () => {
    // 10 sorts before 9 as text: only a numeric order puts them right.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-migrations-'));
    for (const name of ['10_ten.sql', '9_nine.sql', '002_two.sql', 'README.md']) fs.writeFileSync(path.join(dir, name), `SELECT ${name.length};\n`);
    try {
      expect((await readMigrations(dir)).map((m) => [m.version, m.name])).toEqual([
        [2, '002_two.sql'],
        [9, '9_nine.sql'],
        [10, '10_ten.sql'],
      ]);
      fs.writeFileSync(path.join(dir, '0009_again.sql'), 'SELECT 1;\n');
      await expect(readMigrations(dir)).rejects.toThrow(/share version 9/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships the events table as the first migration', async () => {
    const [first] = await readMigrations(new URL('../../migrations', import.meta.url).pathname);
    expect(first!.version).toBe(1);
    expect(first!.statements.some((s) => s.startsWith('CREATE TABLE IF NOT EXISTS events'))).toBe(true);
  });
});
