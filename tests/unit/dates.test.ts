/** The one date parser (src/util/dates.ts) and the places that read dates through it. */
import { describe, expect, it } from 'vitest';
import { parseDateInput as rangeDate } from '../../src/analytics/sql-common.ts';
import { parseSince } from '../../src/cli/replay-quarantine.ts';
import { amplitudeTime } from '../../src/import/amplitude.ts';
import { parseDateInput, parseIsoDate, parseIsoDateTime } from '../../src/util/dates.ts';

const DAY = Date.parse('2026-03-01T00:00:00.000Z');

describe('util/dates', () => {
  it.each([
    ['2026-03-01', DAY],
    ['2024-02-29', Date.parse('2024-02-29T00:00:00.000Z')],
    ['2026-02-29', undefined],
    ['2026-13-01', undefined],
    ['2026-3-1', undefined],
    ['2026-03-01T00:00:00Z', undefined],
  ])('reads the day %j', (text, ms) => {
    expect(parseIsoDate(text)).toBe(ms);
  });

  it.each([
    ['2026-03-01', { ms: DAY, dateOnly: true, wallClock: false }],
    [' 2026-03-01 ', { ms: DAY, dateOnly: true, wallClock: false }],
    ['2026-03-01T10:00:00+01:00', { ms: DAY + 9 * 3_600_000, dateOnly: false, wallClock: false }],
    ['2026-03-01T10:00:00Z', { ms: DAY + 10 * 3_600_000, dateOnly: false, wallClock: false }],
    // No zone: a time on the project zone's clock, given here as if UTC (the caller applies the zone).
    ['2026-03-01 10:00', { ms: DAY + 10 * 3_600_000, dateOnly: false, wallClock: true }],
    ['1772323200000', undefined],
    ['Mar 1 2026', undefined],
    ['2026-03', undefined],
    ['', undefined],
  ])('reads what a person typed, %j', (text, expected) => {
    expect(parseDateInput(text)).toEqual(expected);
  });

  // toISOString's form is read without the regular expression: it must agree with the general
  // parser on every field, the calendar's edges included.
  it.each([
    ['2026-12-01T10:00:00.000Z', Date.UTC(2026, 11, 1, 10)],
    ['2024-02-29T23:59:59.999Z', Date.UTC(2024, 1, 29, 23, 59, 59, 999)],
    ['2000-02-29T00:00:00.000Z', Date.UTC(2000, 1, 29)],
    ['2023-02-29T00:00:00.000Z', undefined],
    ['2100-02-29T00:00:00.000Z', undefined],
    ['2026-04-31T10:00:00.000Z', undefined],
    ['2026-12-01T24:00:00.000Z', undefined],
    ['2026-12-01T10:60:00.000Z', undefined],
    ['2026-00-01T10:00:00.000Z', undefined],
    ['2026-12-0xT10:00:00.000Z', undefined],
    ['2026-12-01T10:00:00.0-0Z', undefined],
  ])('reads the toISOString form %j as the general form does', (text, ms) => {
    expect(parseIsoDateTime(text)).toBe(ms);
    // The same instant written another way goes through the general parser.
    expect(parseIsoDateTime(text.replace('Z', '+00:00'))).toBe(ms);
  });

  it('answers a date-time read again as it did the first time, and the next one as its own', () => {
    // The parser remembers its last input (a batch's sentAt is read once per event).
    const readings = ['2026-03-01T10:00:00.000Z', '2026-03-01T10:00:00.000Z', 'not a date', 'not a date', '2026-03-01T10:00:00.000Z', '2026-03-01T11:00:00+01:00', ''];
    expect(readings.map((text) => parseIsoDateTime(text))).toEqual([DAY + 36e6, DAY + 36e6, undefined, undefined, DAY + 36e6, DAY + 36e6, undefined]);
  });

  it('reads epoch milliseconds only where the caller allows them', () => {
    expect(parseDateInput('1772323200000', { epochMs: true })).toEqual({ ms: 1772323200000, dateOnly: false, wallClock: false });
    expect(parseDateInput('2026-03-01', { epochMs: true })).toEqual({ ms: DAY, dateOnly: true, wallClock: false });
  });

  it('is the parser behind --from/--to, --since and the Amplitude import', () => {
    expect([rangeDate('2026-03-01', 'from'), rangeDate('2026-03-01', 'to')]).toEqual([DAY, DAY + 86_400_000]);
    expect(() => rangeDate('Mar 1 2026', 'from')).toThrow(expect.objectContaining({ code: 'invalid_date' }));
    expect([parseSince('2026-03-01'), parseSince('1772323200000'), parseSince(5)]).toEqual([DAY, 1772323200000, 5]);
    expect(() => parseSince('Mar 1 2026')).toThrow(expect.objectContaining({ code: 'invalid_since' }));
    expect(amplitudeTime('2026-03-01 10:00:00.123456')).toBe('2026-03-01T10:00:00.123Z');
    expect(amplitudeTime('2026-02-30 10:00:00')).toBe('2026-02-30 10:00:00');
    expect(parseIsoDateTime('2026-03-01T10:00:00.5Z')).toBe(DAY + 10 * 3_600_000 + 500);
  });
});
