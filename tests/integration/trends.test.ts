/**
 * Event trends (GET /api/trends, the dashboard's "Event trends") on the real engine: a day per
 * point up to 366 days, a week beyond, a month past 366 weeks, so any range the dashboard allows
 * is drawn. Found 2026-12-05: a custom range over 366 days failed that section with a 400.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventTrends, trendsGrain, trendsWindow } from '../../src/api/trends.ts';
import type { Warehouse } from '../../src/warehouse/client.ts';
import { openTestWarehouse, type TestWarehouse } from '../helpers/engine.ts';
import { insertWorld } from '../helpers/known-world.ts';

let warehouse: Warehouse;
let engine: TestWarehouse | undefined;

beforeAll(async () => {
  engine = await openTestWarehouse('trends');
  warehouse = engine.warehouse;
  const at = (iso: string) => Date.parse(iso);
  await insertWorld(warehouse, [
    { event: 'mission_posted', at: at('2025-01-06T10:00:00Z'), user: 'u1' }, // a Monday
    { event: 'mission_posted', at: at('2025-01-12T23:00:00Z'), user: 'u1' }, // the Sunday of that week
    { event: 'mission_posted', at: at('2025-01-13T08:00:00Z'), user: 'u2' }, // the next Monday
    { event: 'mission_completed', at: at('2026-11-30T12:00:00Z'), user: 'u2' },
    // One message sent twice with another timestamp, past the worker's window: two rows FINAL keeps.
    { event: 'mission_rated', at: at('2026-10-01T12:00:00Z'), user: 'u3', id: 'resent-rating' },
    { event: 'mission_rated', at: at('2026-10-03T12:00:00Z'), user: 'u3', id: 'resent-rating' },
  ]);
});

afterAll(async () => {
  await engine?.close();
});

describe('event trends', () => {
  it('count by week over a range of 704 days, every event once', async () => {
    const trends = await eventTrends(warehouse, '2025-01-01', '2026-12-05', 8);
    expect(trends.grain).toBe('week');
    // Weeks from Monday, the first one cut by the range (it starts on 2024-12-30).
    expect(trends.buckets.slice(0, 3)).toEqual(['2024-12-30', '2025-01-06', '2025-01-13']);
    expect(trends.buckets.at(-1)).toBe('2026-11-30');
    const posted = trends.series.find((s) => s.event === 'mission_posted')!;
    expect(posted.counts.slice(0, 3)).toEqual([0, 2, 1]);
    expect(trends.series.map((s) => [s.event, s.total])).toEqual([
      ['mission_posted', 3],
      ['mission_completed', 1],
      ['mission_rated', 1],
    ]);
    expect(trends.series.every((s) => s.counts.length === trends.buckets.length)).toBe(true);
  });

  it('count by day up to 366 days and by month past 366 weeks', async () => {
    const days = await eventTrends(warehouse, '2025-01-01', '2025-12-31', 8);
    expect([days.grain, days.buckets.length]).toEqual(['day', 365]);
    expect(days.series.find((s) => s.event === 'mission_posted')!.total).toBe(3);
    const months = await eventTrends(warehouse, '2018-01-15', '2026-12-05', 8);
    expect([months.grain, months.buckets[0], months.buckets.at(-1)]).toEqual(['month', '2018-01-01', '2026-12-01']);
    expect(months.series.map((s) => [s.event, s.total])).toEqual([
      ['mission_posted', 3],
      ['mission_completed', 1],
      ['mission_rated', 1],
    ]);
  });
});

describe('the trends window', () => {
  const now = Date.parse('2026-12-05T12:00:00Z');

  it("is Balise's default range when none is given, and says so", () => {
    expect(trendsWindow({}, now)).toEqual({ from: '2026-09-07', to: '2026-12-05', limit: 8, isDefault: true });
    expect(trendsWindow({ from: '2025-01-01', to: '2026-12-05', limit: '3' }, now)).toEqual({ from: '2025-01-01', to: '2026-12-05', limit: 3, isDefault: false });
    expect([trendsGrain('2026-01-01', '2027-01-01'), trendsGrain('2026-01-01', '2027-01-02')]).toEqual(['day', 'week']);
  });

  it('refuses a date or a limit it cannot read, rather than answering for another range', () => {
    expect(() => trendsWindow({ from: '2026-02-30' }, now)).toThrow(/from: "2026-02-30" is not a date/);
    expect(() => trendsWindow({ to: 'xx' }, now)).toThrow(/to: "xx" is not a date/);
    expect(() => trendsWindow({ from: '2026-12-01', to: '2026-11-01' }, now)).toThrow(/from \(2026-12-01\) is after to \(2026-11-01\)/);
    for (const limit of ['0', '-3', 'abc', '100000']) expect(() => trendsWindow({ limit }, now), limit).toThrow(/limit: .* is not a whole number from 1 to 50/);
  });
});
