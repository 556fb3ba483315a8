import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKpiDefinitions } from '../../src/analytics/definitions.ts';
import { inlineParams, keyFromDescription, quote, questionsFor } from '../../src/metabase/questions.ts';
import { formatChange, formatDuration, formatKpi, formatPercent } from '../../src/dashboard/web/format.ts';
import { violationRates } from '../../src/dashboard/web/health.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('Metabase question SQL', () => {
  it.each([
    ['plain', "'plain'"],
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ["x'); DROP TABLE events; --", "'x\\'); DROP TABLE events; --'"],
  ])('quote(%j) = %s', (text, expected) => {
    expect(quote(text)).toBe(expected);
  });

  it.each([
    ['{a:String}', { a: "o'k" }, {}, "'o\\'k'"],
    ['{n:Float64} {b:UInt8}', { n: 2.5, b: 1 }, {}, '2.5 1'],
    ['{xs:Array(String)}', { xs: ['a', 'b'] }, {}, "['a', 'b']"],
    ["{from:DateTime64(3, 'UTC')} < {to:DateTime64(3, 'UTC')}", { from: 'x', to: 'y' }, { from: 'now() - 1', to: 'now()' }, 'now() - 1 < now()'],
  ])('inlineParams(%s)', (sql, params, bounds, expected) => {
    expect(inlineParams({ sql, params }, bounds)).toBe(expected);
  });

  it('refuses a placeholder without a value', () => {
    expect(() => inlineParams({ sql: '{missing:String}', params: {} }, {})).toThrow(expect.objectContaining({ code: 'metabase_invalid_question' }));
  });

  it.each([
    ['Managed by Balise (balise:kpi:weekly_signups): edit…', 'kpi:weekly_signups'],
    ['text\n\nbalise:funnel:freelancer_activation', 'funnel:freelancer_activation'],
    ['a card someone else made', undefined],
    [null, undefined],
  ])('marker in %j → %s', (description, key) => {
    expect(keyFromDescription(description)).toBe(key);
  });

  it('one question per metric and funnel, with stable SQL relative to now and no placeholders left', async () => {
    const defs = await loadKpiDefinitions(path.join(ROOT, 'tracking-plan'));
    const first = questionsFor(defs);
    expect(first.map((q) => q.key)).toEqual([...defs.metrics.map((m) => `kpi:${m.id}`), ...defs.funnels.map((f) => `funnel:${f.id}`)]);
    for (const q of first) {
      expect(q.sql).not.toMatch(/\{[a-z_0-9]+:/);
      expect(q.sql).toContain("now64(3, 'UTC')");
      expect(keyFromDescription(q.description)).toBe(q.key);
    }
    // Same definitions, same text: what makes a second provisioning a no-op.
    expect(questionsFor(defs)).toEqual(first);
    const funnel = first.find((q) => q.key === 'funnel:freelancer_activation')!;
    expect(funnel.sql).toContain("('1. Signed up', entered), ('2. Received a proposal', reached_2), ('3. Completed a mission', reached_3)");
  });
});

describe('dashboard formatting', () => {
  it.each([
    [0.4567, '45.7%'],
    [1, '100.0%'],
    [null, '–'],
  ])('formatPercent(%j) = %s', (v, expected) => expect(formatPercent(v)).toBe(expected));

  it.each([
    [0.25, '%', '25.0%'],
    [4.25, '/5', '4.25/5'],
    [1234, '', '1,234'],
    [null, '', '–'],
  ])('formatKpi(%j, %j) = %s', (v, unit, expected) => expect(formatKpi(v, unit)).toBe(expected));

  it.each([
    [0.125, 8, 9, '+12.5%'],
    [-0.03, 100, 97, '−3.0%'],
    [null, 0, 5, 'new this period'],
    [null, 0, 0, 'no change'],
  ])('formatChange(%j, previous %j, value %j) = %s', (change, previous, value, expected) => expect(formatChange(change, previous, value)).toBe(expected));

  it.each([
    [12_000, '12 s'],
    [45 * 60_000, '45 min'],
    [3 * 3_600_000, '3 h'],
    [2.5 * 86_400_000, '2.5 d'],
  ])('formatDuration(%j) = %s', (ms, expected) => expect(formatDuration(ms)).toBe(expected));

  it('violation rate: quarantined for a rule over stored + quarantined events of that name', () => {
    const rates = violationRates({
      eventsSeen: [{ event: 'signup', type: 'track', events: 90, last_seen: '' }],
      violationsByRule: [
        { event: 'signup', plan_version: '1', rule: 'required', count: 10 },
        { event: 'signup', plan_version: '1', rule: 'type', count: 5 },
        { event: 'ghost', plan_version: '1', rule: 'unplanned_event', count: 3 },
      ],
    });
    expect(rates.map((r) => r.rate)).toEqual([0.1, 0.05, 1]);
  });
});
