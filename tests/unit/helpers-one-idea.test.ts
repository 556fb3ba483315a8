import { describe, expect, it } from 'vitest';
import { keyFromDescription, markerOf } from '../../src/metabase/questions.ts';
import { parseKpiFile } from '../../src/analytics/kpi-parse.ts';
import { SNAKE } from '../../src/plan/file-schemas.ts';
import { quoteIdentifier, quoteString } from '../../src/util/sql-quote.ts';
import { stableJson } from '../../src/util/stable-json.ts';

describe('one helper for each idea', () => {
  it('stable JSON ignores key order at every depth, and keeps undefined apart from null', () => {
    expect(stableJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
    expect(stableJson({ a: 1, b: 2 })).toBe(stableJson({ b: 2, a: 1 }));
    expect(stableJson(undefined)).not.toBe(stableJson(null));
    expect(stableJson([2, 1])).not.toBe(stableJson([1, 2]));
  });

  it.each([
    ['plain', "'plain'"],
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ["\\'", "'\\\\\\''"],
  ])('quotes the string %s as %s', (text, quoted) => {
    expect(quoteString(text)).toBe(quoted);
  });

  it('quotes identifiers with backticks', () => {
    expect(quoteIdentifier('my `col`')).toBe('`my \\`col\\``');
  });

  it.each([
    ['weekly_orders', true],
    ['a__b', false],
    ['_a', false],
    ['a_', false],
    ['A', false],
  ])('KPI id %s: accepted by the plan, the KPI files and the Metabase marker alike (%s)', (id, ok) => {
    expect(new RegExp(SNAKE).test(id)).toBe(ok);
    const parsed = parseKpiFile('kpis/x.yaml', `metrics:\n  - { id: ${id}, type: count, event: e }\n`);
    expect(parsed.messages.some((m) => m.rule === 'kpi_id')).toBe(!ok);
    expect(keyFromDescription(`managed: ${markerOf(`kpi:${id}`)}`)).toBe(ok ? `kpi:${id}` : undefined);
  });
});
