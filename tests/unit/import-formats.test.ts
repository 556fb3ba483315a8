import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { amplitudeTime, fromAmplitudeEvent } from '../../src/import/amplitude.ts';
import { detectFormat, lineMessageId, toMessage } from '../../src/import/formats.ts';
import { normalizeEvent } from '../../src/ingest/normalize.ts';

const stamp = { run: '0123456789abcdef', format: 'segment' as const };

// Shapes from the vendors' documentation; see tests/helpers/import-archives.ts for the sources.
const segmentLine = {
  anonymousId: 'anon-1',
  channel: 'client',
  context: { library: { name: 'analytics.js', version: 'next-1.70.0' } },
  event: 'mission_completed',
  integrations: {},
  messageId: 'ajs-next-1',
  originalTimestamp: '2023-01-02T10:00:00.000Z',
  properties: { mission_id: 'msn_1' },
  receivedAt: '2023-01-02T10:00:01.200Z',
  sentAt: '2023-01-02T10:00:01.000Z',
  timestamp: '2023-01-02T10:00:00.000Z',
  type: 'track',
  userId: 'fr_1',
  version: 2,
  writeKey: 'SECRET',
};

describe('import formats', () => {
  it('detects Amplitude, RudderStack and Segment lines by their own fields', () => {
    expect(detectFormat({ event_type: 'x', user_id: 'u' })).toBe('amplitude');
    expect(detectFormat({ type: 'track', rudderId: 'r' })).toBe('rudderstack');
    expect(detectFormat({ type: 'track', context: { library: { name: 'RudderLabs JavaScript SDK' } } })).toBe('rudderstack');
    expect(detectFormat(segmentLine)).toBe('segment');
    expect(detectFormat(42)).toBeUndefined();
  });

  it('keeps a Segment message, drops the vendor bookkeeping and stamps the import run', () => {
    const message = toMessage('segment', segmentLine, JSON.stringify(segmentLine), stamp) as Record<string, unknown>;
    expect(message).not.toHaveProperty('writeKey');
    expect(message).not.toHaveProperty('receivedAt');
    expect(message).not.toHaveProperty('integrations');
    expect(message.messageId).toBe('ajs-next-1');
    expect(message.timestamp).toBe('2023-01-02T10:00:00.000Z');
    expect(message.context).toEqual({ library: { name: 'analytics.js', version: 'next-1.70.0' }, import: stamp });
  });

  it('takes RudderStack identify traits from context.traits when traits is absent', () => {
    const line = { type: 'identify', userId: 'fr_1', rudderId: 'r', context: { traits: { role: 'freelancer' } } };
    const message = toMessage('rudderstack', line, JSON.stringify(line), { ...stamp, format: 'rudderstack' }) as Record<string, unknown>;
    expect(message.traits).toEqual({ role: 'freelancer' });
    expect(message).not.toHaveProperty('rudderId');
  });

  it('gives a line without messageId a stable id derived from the line', () => {
    const line = JSON.stringify({ type: 'track', event: 'e', userId: 'u' });
    const a = toMessage('segment', JSON.parse(line), line, stamp) as Record<string, unknown>;
    const b = toMessage('segment', JSON.parse(line), line, stamp) as Record<string, unknown>;
    expect(a.messageId).toBe(lineMessageId('segment', line));
    expect(a.messageId).toBe(b.messageId);
    expect(lineMessageId('segment', `${line} `)).not.toBe(a.messageId);
  });

  it('passes values that are not objects on unchanged, for the ingest to quarantine', () => {
    expect(toMessage('segment', [1, 2], '[1,2]', stamp)).toEqual([1, 2]);
  });

  it('reads Amplitude export times as UTC, to strict ISO 8601', () => {
    expect(amplitudeTime('2021-01-09 05:00:05.123456')).toBe('2021-01-09T05:00:05.123Z');
    expect(amplitudeTime('2021-01-09 05:00:05')).toBe('2021-01-09T05:00:05.000Z');
    expect(amplitudeTime('2021-01-09T05:00:05.1+02:00')).toBe('2021-01-09T03:00:05.100Z');
    expect(amplitudeTime('Dec 1 2026')).toBe('Dec 1 2026');
  });

  it('maps an Amplitude event to a Segment track call, $insert_id as messageId', () => {
    const message = fromAmplitudeEvent({
      $insert_id: 'ins-1',
      uuid: 'uuid-1',
      event_type: 'mission_completed',
      event_time: '2021-01-09 05:00:05.000000',
      user_id: 'fr_1',
      device_id: 'dev-1',
      event_properties: { mission_id: 'msn_1' },
      user_properties: { role: 'freelancer' },
      library: 'amplitude-ts/2.11.0',
      os_name: 'Chrome',
      city: 'Paris',
      amplitude_id: 42,
    });
    expect(message).toMatchObject({
      type: 'track',
      event: 'mission_completed',
      userId: 'fr_1',
      anonymousId: 'dev-1',
      messageId: 'ins-1',
      timestamp: '2021-01-09T05:00:05.000Z',
      properties: { mission_id: 'msn_1' },
    });
    expect(message.context).toMatchObject({
      library: { name: 'amplitude-ts/2.11.0' },
      os: { name: 'Chrome' },
      location: { city: 'Paris' },
      traits: { role: 'freelancer' },
      amplitude: { amplitude_id: 42, uuid: 'uuid-1' },
    });
  });

  it('maps $identify to an identify call with the user properties as traits, uuid when there is no insert id', () => {
    const message = fromAmplitudeEvent({
      event_type: '$identify',
      uuid: 'uuid-2',
      user_id: null,
      device_id: 'dev-2',
      event_time: '2021-01-09 05:00:00.000000',
      user_properties: { role: 'freelancer' },
    });
    expect(message).toMatchObject({ type: 'identify', traits: { role: 'freelancer' }, anonymousId: 'dev-2', messageId: 'uuid-2' });
    expect(message.userId).toBeUndefined();
    expect(message).not.toHaveProperty('event');
  });

  it('imported history keeps its timestamp: no clock-skew correction on /v1/import', () => {
    const receivedAt = Date.parse('2026-12-01T12:00:00Z');
    const raw = { type: 'track', event: 'e', userId: 'u', timestamp: '2021-01-09T05:00:05.000Z', sentAt: '2021-01-09T05:00:06.000Z' };
    const imported = normalizeEvent(raw, { receivedAt, source: 's', historical: true, newId: randomUUID });
    const live = normalizeEvent(raw, { receivedAt, source: 's', newId: randomUUID });
    expect(imported.ok && imported.event.timestamp).toBe(Date.parse('2021-01-09T05:00:05.000Z'));
    expect(imported.ok && imported.event.sentAt).toBe(Date.parse('2021-01-09T05:00:06.000Z'));
    // Live traffic with the same fields is corrected to a second before receipt.
    expect(live.ok && live.event.timestamp).toBe(receivedAt - 1000);
  });
});
