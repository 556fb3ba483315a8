/**
 * Strict timestamps: only ISO 8601 date-times (and epoch milliseconds) become event times; what
 * `Date.parse` would guess at is quarantined with `invalid_timestamp`, and the client's own
 * timestamp is kept beside the skew-corrected one.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { normalizeEvent, parseTime } from '../../src/ingest/normalize.ts';
import { parseIsoDateTime } from '../../src/util/dates.ts';
import { messageDate, toEventRow } from '../../src/warehouse/rows.ts';

const receivedAt = Date.parse('2026-12-01T12:00:00.000Z');
const ctx = { receivedAt, source: 'web', newId: randomUUID };
const track = (extra: Record<string, unknown>) => ({ type: 'track', event: 'e', userId: 'u1', messageId: 'm1', ...extra });

describe('what real SDKs send is read exactly', () => {
  it.each([
    // analytics-node / analytics-next / rudder-sdk-node / analytics-java: Date#toISOString-style UTC.
    ['2026-12-01T10:00:00.000Z', Date.UTC(2026, 11, 1, 10)],
    // analytics-python: datetime.isoformat() of an aware datetime (microseconds, "+00:00").
    ['2026-12-01T10:00:00.123456+00:00', Date.UTC(2026, 11, 1, 10, 0, 0, 123)],
    // analytics-go: encoding/json of time.Time is RFC 3339 with nanoseconds and the local offset.
    ['2026-12-01T11:00:00.123456789+01:00', Date.UTC(2026, 11, 1, 10, 0, 0, 123)],
    // analytics-ios (before 4.x): "yyyy-MM-dd'T'HH:mm:ss.SSSZ", offset without a colon.
    ['2026-12-01T05:30:00.000-0430', Date.UTC(2026, 11, 1, 10)],
    // Whole seconds, minutes only, an hour-only offset, RFC 3339's space separator.
    ['2026-12-01T10:00:00Z', Date.UTC(2026, 11, 1, 10)],
    ['2026-12-01T10:00Z', Date.UTC(2026, 11, 1, 10)],
    ['2026-12-01T12:00:00+02', Date.UTC(2026, 11, 1, 10)],
    ['2026-12-01 10:00:00.5Z', Date.UTC(2026, 11, 1, 10, 0, 0, 500)],
    // No zone: read as UTC (never the server's local time, which Date.parse would use).
    ['2026-12-01T10:00:00', Date.UTC(2026, 11, 1, 10)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
  ])('%s', (text, expected) => {
    expect(parseIsoDateTime(text)).toBe(expected);
    expect(parseTime(text)).toBe(expected);
  });
});

describe('what is not an ISO 8601 date-time is refused', () => {
  it.each([
    '12', // Date.parse('12') is 2001-12-01 in V8
    'Dec 1 2026',
    'Tue, 01 Dec 2026 10:00:00 GMT',
    '2026-12-01', // a date, not a date-time
    '2026-12-1T10:00:00Z',
    '2026-13-01T10:00:00Z',
    '2026-02-30T10:00:00Z',
    '2025-02-29T10:00:00Z',
    '2026-12-01T24:00:00Z',
    '2026-12-01T10:60:00Z',
    '2026-12-01T10:00:61Z',
    '2026-12-01T10:00:00+2400',
    '2026-12-01T10:00:00.Z',
    '2026-W48-2T10:00:00Z',
    '20261201T100000Z',
    '1764583200000', // epoch ms as a string: numbers must be JSON numbers
    '',
  ])('%j', (text) => {
    expect(parseTime(text)).toBeUndefined();
    const result = normalizeEvent(track({ timestamp: text }), ctx);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.rejection.code).toBe('invalid_timestamp');
      expect(result.rejection.message).toContain('not an ISO 8601 date-time');
    }
  });

  it('a sentAt that is not ISO 8601 is refused the same way (it would skew the correction)', () => {
    const result = normalizeEvent(track({ timestamp: '2026-12-01T10:00:00Z', sentAt: 'Dec 1 2026' }), ctx);
    expect(!result.ok && result.rejection.code).toBe('invalid_timestamp');
  });
});

describe('the original timestamp is kept beside the corrected one', () => {
  it('device clock 1 h fast: timestamp corrected, original_timestamp as sent', () => {
    const result = normalizeEvent(track({ timestamp: '2026-12-01T13:00:00.000Z', sentAt: '2026-12-01T13:00:05.000Z' }), ctx);
    if (!result.ok) throw new Error(result.rejection.message);
    expect(result.event.timestamp).toBe(receivedAt - 5000);
    expect(result.event.originalTimestamp).toBe(Date.UTC(2026, 11, 1, 13));
    const row = toEventRow(result.event, { status: 'valid', planVersion: '1', violations: [] });
    expect([row.timestamp, row.original_timestamp]).toEqual([receivedAt - 5000, Date.UTC(2026, 11, 1, 13)]);
  });

  it('no client timestamp: stamped with the receipt time, original_timestamp null', () => {
    const result = normalizeEvent(track({}), ctx);
    if (!result.ok) throw new Error(result.rejection.message);
    expect(toEventRow(result.event, { status: 'valid', planVersion: '1', violations: [] })).toMatchObject({ timestamp: receivedAt, original_timestamp: null });
  });

  it('no time in the body at all: the dedupe day is the same for every arrival, so a resend on another day folds (decision 0011)', () => {
    const rowOn = (at: number) => {
      const result = normalizeEvent(track({}), { ...ctx, receivedAt: at });
      if (!result.ok) throw new Error(result.rejection.message);
      return toEventRow(result.event, { status: 'valid', planVersion: '1', violations: [] });
    };
    const first = rowOn(Date.UTC(2026, 11, 1, 23, 59, 59));
    const resend = rowOn(Date.UTC(2026, 11, 2, 0, 0, 5));
    // Stamped with each arrival (the analysts' time) but keyed on one day: no Redis window needed.
    expect(first.timestamp).not.toBe(resend.timestamp);
    expect([first.message_date, resend.message_date]).toEqual(['1970-01-01', '1970-01-01']);
  });

  it("RudderStack's originalTimestamp is the original when timestamp is absent", () => {
    const result = normalizeEvent(track({ originalTimestamp: '2026-12-01T11:59:00.000Z', sentAt: '2026-12-01T11:59:30.000Z' }), ctx);
    if (!result.ok) throw new Error(result.rejection.message);
    expect([result.event.timestamp, result.event.originalTimestamp]).toEqual([receivedAt - 30_000, Date.UTC(2026, 11, 1, 11, 59)]);
  });
});

describe('messageDate', () => {
  it('gives the UTC day of each instant, whatever day came before it', () => {
    const day = (iso: string) => messageDate(Date.parse(iso));
    expect([day('2026-12-01T23:59:59.999Z'), day('2026-12-01T00:00:00.000Z'), day('2026-12-02T00:00:00.000Z'), day('2026-12-01T12:00:00.000Z')]).toEqual([
      '2026-12-01',
      '2026-12-01',
      '2026-12-02',
      '2026-12-01',
    ]);
    expect([day('1999-12-31T23:00:00.000Z'), day('2099-01-01T00:00:00.000Z'), messageDate(undefined), messageDate(Number.NaN)]).toEqual(['1970-01-01', '1970-01-01', undefined, undefined]);
  });
});
