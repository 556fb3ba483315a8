/**
 * Calendar arithmetic of the project time zone (decision 0038), and where the zone is set:
 * plan.yaml `timezone:` (a plan error when unknown), BALISE_TIMEZONE (a config error), the
 * dashboard's presets and range line. The SQL side is in tests/integration/time-zone.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatRange } from '../../src/analytics/format.ts';
import { parseDateInput, rangeInfo } from '../../src/analytics/sql-common.ts';
import { projectTimeZone, requestTimeZone } from '../../src/api/time-zone.ts';
import { loadConfig } from '../../src/config/index.ts';
import { describeRange, presetRange, rangeFromSearch } from '../../src/dashboard/web/range.ts';
import { ConfigError } from '../../src/errors.ts';
import { loadPlanFiles } from '../../src/plan/load.ts';
import { defaultRangeDates, defaultRangeMs } from '../../src/util/default-range.ts';
import { bucketStart, bucketStarts, isIncomplete } from '../../src/util/periods.ts';
import { isTimeZone, previousPeriodStart, zonedDate, zonedMidnight, zonedWallClock } from '../../src/util/zone.ts';
import { FIXTURE_PLAN } from '../helpers/plans.ts';

const iso = (ms: number) => new Date(ms).toISOString();

describe('zone arithmetic', () => {
  it.each([
    // Paris: UTC+1 in winter, UTC+2 from the last Sunday of March (02:00 → 03:00) to the last of October.
    ['Europe/Paris', '2025-03-04', '2025-03-03T23:00:00.000Z'],
    ['Europe/Paris', '2025-03-30', '2025-03-29T23:00:00.000Z'],
    ['Europe/Paris', '2025-03-31', '2025-03-30T22:00:00.000Z'],
    ['Europe/Paris', '2025-10-26', '2025-10-25T22:00:00.000Z'],
    ['Europe/Paris', '2025-10-27', '2025-10-26T23:00:00.000Z'],
    ['America/New_York', '2025-03-10', '2025-03-10T04:00:00.000Z'],
    ['Asia/Kolkata', '2025-03-10', '2025-03-09T18:30:00.000Z'],
    // Santiago moves its clocks at midnight: 8 Sep 2024 starts at 01:00 local, the first instant that exists.
    ['America/Santiago', '2024-09-08', '2024-09-08T04:00:00.000Z'],
    ['UTC', '2025-03-10', '2025-03-10T00:00:00.000Z'],
  ])('%s: %s starts at %s', (zone, date, start) => {
    expect(iso(zonedMidnight(date, zone))).toBe(start);
    expect(zonedDate(zonedMidnight(date, zone), zone)).toBe(date);
    expect(zonedDate(zonedMidnight(date, zone) - 1, zone)).not.toBe(date);
  });

  it('reads a wall-clock time in the zone, the hour skipped in spring mapping past the gap', () => {
    expect(iso(zonedWallClock(Date.parse('2025-03-30T03:30:00Z'), 'Europe/Paris'))).toBe('2025-03-30T01:30:00.000Z');
    expect(iso(zonedWallClock(Date.parse('2025-03-30T02:30:00Z'), 'Europe/Paris'))).toBe('2025-03-30T01:30:00.000Z');
    expect(iso(zonedWallClock(Date.parse('2025-01-15T12:00:00Z'), 'Europe/Paris'))).toBe('2025-01-15T11:00:00.000Z');
  });

  it('knows IANA names and nothing else', () => {
    for (const good of ['Europe/Paris', 'UTC', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5']) expect(isTimeZone(good)).toBe(true);
    for (const bad of ['Europe/Pariss', '', 'Paris', "UTC'; --", 'Mars/Olympus_Mons']) expect(isTimeZone(bad)).toBe(false);
  });

  it('cuts weeks on Paris Mondays and months on Paris firsts, and marks the week cut by the range', () => {
    // Sunday 30 March 23:30 in Paris (21:30Z) is in the week of the 24th; 22:30Z is already Monday the 31st.
    expect(iso(bucketStart(Date.parse('2025-03-30T21:30:00Z'), 'week', 'Europe/Paris'))).toBe('2025-03-23T23:00:00.000Z');
    expect(iso(bucketStart(Date.parse('2025-03-30T22:30:00Z'), 'week', 'Europe/Paris'))).toBe('2025-03-30T22:00:00.000Z');
    expect(iso(bucketStart(Date.parse('2025-03-31T22:30:00Z'), 'month', 'Europe/Paris'))).toBe('2025-03-31T22:00:00.000Z');
    const range = { fromMs: zonedMidnight('2025-03-05', 'Europe/Paris'), toMs: zonedMidnight('2025-04-01', 'Europe/Paris') };
    const weeks = bucketStarts(range, 'week', 'Europe/Paris');
    expect(weeks).toEqual(['2025-03-03', '2025-03-10', '2025-03-17', '2025-03-24', '2025-03-31']);
    expect(weeks.map((w) => isIncomplete(w, 'week', range, Date.parse('2025-06-01T00:00:00Z'), 'Europe/Paris'))).toEqual([true, false, false, false, true]);
    // The week of 24 March is 167 hours long, and is complete once Paris's Monday 31st begins.
    expect(isIncomplete('2025-03-24', 'week', range, Date.parse('2025-03-30T21:59:00Z'), 'Europe/Paris')).toBe(true);
    expect(isIncomplete('2025-03-24', 'week', range, Date.parse('2025-03-30T22:00:00Z'), 'Europe/Paris')).toBe(false);
  });
});

describe('the default range and typed dates in the zone', () => {
  it('ends with Paris today, which begins before UTC today', () => {
    const now = Date.parse('2026-12-02T23:30:00Z'); // already 3 December in Paris
    expect(defaultRangeDates(now, 90, 'Europe/Paris')).toEqual({ from: '2026-09-05', to: '2026-12-03' });
    expect(defaultRangeDates(now)).toEqual({ from: '2026-09-04', to: '2026-12-02' });
    // 5 September is in summer time (UTC+2), 4 December in winter time (UTC+1).
    expect(defaultRangeMs(now, 90, 'Europe/Paris')).toEqual({ fromMs: Date.parse('2026-09-04T22:00:00Z'), toMs: Date.parse('2026-12-03T23:00:00Z') });
  });

  it('reads a bare date as the zone midnight, a date-time with an offset as written', () => {
    expect(iso(parseDateInput('2025-03-31', 'from', 'Europe/Paris'))).toBe('2025-03-30T22:00:00.000Z');
    expect(iso(parseDateInput('2025-03-31', 'to', 'Europe/Paris'))).toBe('2025-03-31T22:00:00.000Z');
    expect(iso(parseDateInput('2025-03-31T12:00:00Z', 'to', 'Europe/Paris'))).toBe('2025-03-31T12:00:00.000Z');
    expect(() => parseDateInput('2025-13-45', 'from', 'Europe/Paris')).toThrow(expect.objectContaining({ code: 'invalid_date' }));
  });

  it('prints the range in the CLI as the zone days it covers', () => {
    const range = { fromMs: Date.parse('2025-03-02T23:00:00Z'), toMs: Date.parse('2025-04-06T22:00:00Z'), timeZone: 'Europe/Paris' };
    expect(formatRange(rangeInfo(range))).toBe('2025-03-03 → 2025-04-06 (Europe/Paris)');
    expect(formatRange(rangeInfo({ ...range, isDefault: true }))).toBe('2025-03-03 → 2025-04-06 (Europe/Paris; default: last 90 days)');
  });
});

describe('dashboard presets in the zone', () => {
  const NOW = Date.parse('2026-03-31T22:30:00Z'); // Tuesday 1 April 00:30 in Paris, still 31 March in UTC

  it('counts from Paris today', () => {
    expect(presetRange('7d', NOW, 'Europe/Paris')).toEqual({ from: '2026-03-26', to: '2026-04-01', preset: '7d' });
    expect(presetRange('this-month', NOW, 'Europe/Paris')).toEqual({ from: '2026-04-01', to: '2026-04-01', preset: 'this-month' });
    expect(presetRange('last-month', NOW, 'Europe/Paris')).toEqual({ from: '2026-03-01', to: '2026-03-31', preset: 'last-month' });
    expect(presetRange('this-quarter', NOW, 'Europe/Paris')).toEqual({ from: '2026-04-01', to: '2026-04-01', preset: 'this-quarter' });
    expect(presetRange('this-quarter', NOW, 'UTC')).toEqual({ from: '2026-01-01', to: '2026-03-31', preset: 'this-quarter' });
    expect(rangeFromSearch('', NOW, 'Europe/Paris')).toEqual({ from: '2026-01-02', to: '2026-04-01', preset: '90d' });
  });

  it('says the zone, and whether its last day is over there', () => {
    expect(describeRange({ from: '2026-03-25', to: '2026-03-31' }, NOW, 'Europe/Paris')).toBe('25 Mar 2026 – 31 Mar 2026 (7 days, in Europe/Paris)');
    expect(describeRange({ from: '2026-03-25', to: '2026-03-31' }, NOW, 'UTC')).toBe('25 Mar 2026 – 31 Mar 2026 (7 days, in UTC; the last day is not over yet)');
  });
});

describe('where the zone is set', () => {
  it('BALISE_TIMEZONE overrides plan.yaml, a request overrides both; an unknown one stops the start', () => {
    expect(loadConfig({ BALISE_TIMEZONE: 'America/New_York' }).timeZone).toBe('America/New_York');
    expect(loadConfig({}).timeZone).toBeUndefined();
    expect(() => loadConfig({ BALISE_TIMEZONE: 'Europe/Pariss' })).toThrow(ConfigError);
    expect(projectTimeZone({ timeZone: undefined }, { timezone: 'Europe/Paris' })).toBe('Europe/Paris');
    expect(projectTimeZone({ timeZone: 'Asia/Tokyo' }, { timezone: 'Europe/Paris' })).toBe('Asia/Tokyo');
    expect(projectTimeZone({ timeZone: undefined }, {})).toBe('UTC');
    expect(requestTimeZone('UTC', { timeZone: 'Asia/Tokyo' }, { timezone: 'Europe/Paris' })).toBe('UTC');
    expect(requestTimeZone('', { timeZone: undefined }, { timezone: 'Europe/Paris' })).toBe('Europe/Paris');
    expect(isTimeZone(requestTimeZone(['UTC', 'Europe/Paris'], { timeZone: undefined }, {}))).toBe(false);
  });

  it.each([
    ['Europe/Paris', 'Europe/Paris', []],
    ['Europe/Pariss', undefined, ['invalid_time_zone']],
  ])('plan.yaml timezone: %s', async (zone, loaded, rules) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balise-tz-plan-'));
    try {
      fs.cpSync(FIXTURE_PLAN, dir, { recursive: true });
      const file = path.join(dir, 'plan.yaml');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^sources:/m, `timezone: ${zone}\nsources:`));
      const { plan, messages } = await loadPlanFiles(dir);
      expect(plan.timezone).toBe(loaded);
      const errors = messages.filter((m) => m.severity === 'error');
      expect(errors.map((m) => m.rule)).toEqual(rules);
      // The message points at the line of plan.yaml that says it.
      if (errors[0]) expect(fs.readFileSync(file, 'utf8').split('\n')[errors[0].line - 1]).toBe(`timezone: ${zone}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the previous period of a KPI', () => {
  it('is as many local days before a range of whole days, across a DST change (found 2026-12-05: an hour off, into another day)', () => {
    const zone = 'Europe/Paris';
    // 90 days from 2026-09-07 to 2026-12-05 inclusive; 2026-10-25 has 25 hours there.
    const from = zonedMidnight('2026-09-07', zone);
    const to = zonedMidnight('2026-12-06', zone);
    expect(new Date(previousPeriodStart(from, to, zone)).toISOString()).toBe('2026-06-08T22:00:00.000Z');
    expect(zonedDate(previousPeriodStart(from, to, zone), zone)).toBe('2026-06-09');
    // Any other range: the same milliseconds before.
    const noon = Date.parse('2026-12-01T12:00:00Z');
    expect(previousPeriodStart(noon, noon + 3_600_000, zone)).toBe(noon - 3_600_000);
    expect(previousPeriodStart(Date.parse('2026-03-01T00:00:00Z'), Date.parse('2026-04-01T00:00:00Z'))).toBe(Date.parse('2026-01-29T00:00:00Z'));
  });
});
