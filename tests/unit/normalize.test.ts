import { describe, expect, it } from 'vitest';
import { checkStructure, normalizeEvent, parseTime } from '../../src/ingest/normalize.ts';

const receivedAt = Date.parse('2026-06-01T12:00:00.000Z');
const ctx = { receivedAt, source: 'web', newId: () => 'id-from-the-source' };
const track = (extra: Record<string, unknown> = {}) => ({ type: 'track', event: 'mission_posted', userId: 'u1', messageId: 'm1', ...extra });

describe('normalizeEvent', () => {
  it.each([
    ['not an object', 'hello', 'not_an_object'],
    ['an array', [1], 'not_an_object'],
    ['unknown type', { type: 'purchase', userId: 'u' }, 'invalid_type'],
    ['track without event', { type: 'track', userId: 'u' }, 'missing_event_name'],
    ['event name not a string', track({ event: 42 }), 'invalid_event_name'],
    ['event name too long', track({ event: 'e'.repeat(201) }), 'invalid_event_name'],
    ['numeric userId', track({ userId: 7 }), 'invalid_id'],
    ['object anonymousId', { type: 'page', anonymousId: { a: 1 } }, 'invalid_id'],
    ['id too long', track({ userId: 'u'.repeat(256) }), 'invalid_id'],
    ['no identity', { type: 'track', event: 'e' }, 'missing_identity'],
    ['alias without previousId', { type: 'alias', userId: 'u' }, 'invalid_id'],
    ['alias without userId', { type: 'alias', anonymousId: 'a', previousId: 'p' }, 'invalid_id'],
    ['group without groupId', { type: 'group', userId: 'u' }, 'invalid_id'],
    ['properties an array', track({ properties: [1, 2] }), 'invalid_field'],
    ['context a string', track({ context: 'x' }), 'invalid_field'],
    ['unparseable timestamp', track({ timestamp: 'yesterday' }), 'invalid_timestamp'],
    ['timestamp before 2000', track({ timestamp: '1999-12-31T23:59:59Z' }), 'invalid_timestamp'],
    ['timestamp two days ahead', track({ timestamp: new Date(receivedAt + 2 * 86_400_000).toISOString() }), 'invalid_timestamp'],
    ['unparseable sentAt', track({ sentAt: {} }), 'invalid_timestamp'],
    ['a sentAt that skews a sane timestamp out of range', track({ timestamp: new Date(receivedAt).toISOString(), sentAt: 12 }), 'invalid_timestamp'],
    ['__proto__ key', JSON.parse('{"type":"track","event":"e","userId":"u","properties":{"__proto__":{"x":1}}}'), 'forbidden_key'],
    ['constructor.prototype path deep inside', track({ properties: { a: [{ constructor: { prototype: { polluted: true } } }] } }), 'forbidden_key'],
    ['messageId with a lone high surrogate', track({ messageId: 'coll-\ud800' }), 'invalid_id'],
    ['userId with a lone low surrogate', track({ userId: 'u-\udc00' }), 'invalid_id'],
    ['event name with a lone surrogate', track({ event: 'e\udbff' }), 'invalid_event_name'],
    ['nesting too deep', track({ properties: JSON.parse('{"a":'.repeat(20) + '1' + '}'.repeat(20)) }), 'too_deep'],
  ])('rejects %s with %s', (_name, raw, code) => {
    const result = normalizeEvent(raw, ctx);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.rejection.code).toBe(code);
  });

  it("fills a missing context.ip with the browser request's address, and keeps one the event or its batch sends", () => {
    const ipOf = (raw: unknown, extra: Partial<Parameters<typeof normalizeEvent>[1]> = {}) => {
      const result = normalizeEvent(raw, { ...ctx, requestIp: '203.0.113.9', ...extra });
      return result.ok ? result.event.context.ip : result.rejection.code;
    };
    expect(ipOf(track())).toBe('203.0.113.9');
    expect(ipOf(track({ context: { locale: 'fr' } }))).toBe('203.0.113.9');
    // Segment's way to say "no address": 0.0.0.0 is kept as sent.
    expect(ipOf(track({ context: { ip: '0.0.0.0' } }))).toBe('0.0.0.0');
    expect(ipOf(track(), { batchContext: { ip: '198.51.100.1' } })).toBe('198.51.100.1');
    expect(ipOf(track(), { requestIp: undefined })).toBeUndefined();
  });

  // Found 2026-12-05: every malformed event's violation had the path "", whatever field was at fault.
  it.each([
    [track({ timestamp: 'yesterday' }), '/timestamp'],
    [{ type: 'track', event: 'e', userId: 'u', originalTimestamp: 'yesterday' }, '/originalTimestamp'],
    [track({ sentAt: {} }), '/sentAt'],
    [track({ timestamp: new Date(receivedAt).toISOString(), sentAt: 12 }), '/sentAt'],
    [track({ userId: 42 }), '/userId'],
    [{ type: 'alias', userId: 'u' }, '/previousId'],
    [track({ properties: [1] }), '/properties'],
    [{ type: 'track', userId: 'u' }, '/event'],
    [{ type: 'nope', userId: 'u' }, '/type'],
  ])('names the field at fault of %j as %s', (raw, path) => {
    const result = normalizeEvent(raw, ctx);
    expect(result.ok ? undefined : result.rejection.path).toBe(path);
  });

  it('blames sentAt, not the timestamp, when only the clock-skew correction puts the event out of range', () => {
    const result = normalizeEvent(track({ timestamp: new Date(receivedAt).toISOString(), sentAt: '2001-01-01T00:00:00Z' }), ctx);
    expect(result.ok ? '' : result.rejection.message).toMatch(/^sentAt 2001-01-01T00:00:00\.000Z is 9\d{3} days before the timestamp: corrected for clock skew/);
  });

  it('keeps a property legitimately named constructor, and ids with valid surrogate pairs', () => {
    const result = normalizeEvent(track({ messageId: 'm-\u{1F600}', properties: { constructor: 'Acme Builders', builder: { constructor: 'x' } } }), ctx);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.event.properties).toEqual({ constructor: 'Acme Builders', builder: { constructor: 'x' } });
      expect(result.event.messageId).toBe('m-\u{1F600}');
    }
  });

  it.each([
    ['no sentAt: the client timestamp is kept', { timestamp: '2026-06-01T11:00:00.000Z' }, Date.parse('2026-06-01T11:00:00.000Z')],
    ['device clock 1 h fast: corrected', { timestamp: '2026-06-01T13:00:00.000Z', sentAt: '2026-06-01T13:00:05.000Z' }, receivedAt - 5000],
    ['device clock 1 day slow: corrected', { timestamp: '2026-05-31T11:59:50.000Z', sentAt: '2026-05-31T12:00:00.000Z' }, receivedAt - 10_000],
    ['epoch milliseconds accepted', { timestamp: receivedAt - 1000 }, receivedAt - 1000],
    ['originalTimestamp used when timestamp is absent', { originalTimestamp: '2026-06-01T10:00:00.000Z' }, Date.parse('2026-06-01T10:00:00.000Z')],
    ['no timestamp: receivedAt', {}, receivedAt],
  ])('%s', (_name, extra, expected) => {
    const result = normalizeEvent(track(extra), ctx);
    expect(result.ok && result.event.timestamp).toBe(expected);
  });

  // The hostile-input fuzz sent sentAt = Number.MAX_VALUE on an event without a timestamp: the
  // engine could not parse it as DateTime64 and the job's insert failed on every attempt.
  it.each([1.7976931348623157e308, -8.64e15, Date.UTC(2400, 0, 1)])('keeps no sentAt DateTime64 cannot hold (%s)', (sentAt) => {
    const result = normalizeEvent(track({ sentAt }), ctx);
    expect(result.ok && result.event.sentAt).toBeNull();
    expect(result.ok && result.event.timestamp).toBe(receivedAt);
  });

  it('uses the batch sentAt and merges the batch context under the event context', () => {
    const result = normalizeEvent(track({ timestamp: '2026-06-01T13:00:00.000Z', context: { locale: 'fr' } }), {
      ...ctx,
      batchSentAt: '2026-06-01T13:00:01.000Z',
      batchContext: { locale: 'en', library: { name: 'analytics-node' } },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.event.timestamp).toBe(receivedAt - 1000);
    expect(result.event.context).toEqual({ locale: 'fr', library: { name: 'analytics-node' } });
  });

  it('generates a messageId when the client sent none, and reads the declared plan version', () => {
    const result = normalizeEvent(track({ messageId: undefined, context: { plan: { version: '1.1.0' } } }), ctx);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.event.messageId).toBe('id-from-the-source');
    expect(result.event.declaredPlanVersion).toBe('1.1.0');
    expect(result.event.source).toBe('web');
    // A version sent as a number is declared too (and is no published version): never ignored.
    const numeric = normalizeEvent(track({ context: { plan: { version: 2 } } }), ctx);
    expect(numeric.ok && numeric.event.declaredPlanVersion).toBe('2');
  });

  it('takes the type from the route for /v1/track-style endpoints and the page name for pages', () => {
    const page = normalizeEvent({ anonymousId: 'a', name: 'pricing', properties: { path: '/p' } }, { ...ctx, routeType: 'page' });
    expect(page.ok && [page.event.type, page.event.event, page.event.properties]).toEqual(['page', 'pricing', { path: '/p', name: 'pricing' }]);
  });

  it("keeps a page's Segment category in its properties unless the client put one there", () => {
    const legacy = normalizeEvent({ type: 'page', anonymousId: 'a', name: 'Pricing', category: 'Docs', properties: {} }, ctx);
    expect(legacy.ok && legacy.event.properties).toEqual({ name: 'Pricing', category: 'Docs' });
    const own = normalizeEvent({ type: 'page', anonymousId: 'a', name: 'Pricing', category: 'Docs', properties: { category: 'bi' } }, ctx);
    expect(own.ok && own.event.properties).toEqual({ name: 'Pricing', category: 'bi' });
    const jitsu = normalizeEvent({ type: 'page', anonymousId: 'a', properties: { name: 'Pricing' } }, ctx);
    expect(jitsu.ok && jitsu.event.event).toBe('Pricing');
  });

  it("takes identify traits from context.traits when the event has none (RudderStack's browser SDK)", () => {
    const rudder = normalizeEvent({ type: 'identify', userId: 'u1', context: { traits: { role: 'freelancer' } } }, ctx);
    expect(rudder.ok && rudder.event.traits).toEqual({ role: 'freelancer' });
    const own = normalizeEvent({ type: 'identify', userId: 'u1', traits: { role: 'company_member' }, context: { traits: { role: 'freelancer' } } }, ctx);
    expect(own.ok && own.event.traits).toEqual({ role: 'company_member' });
    const tracked = normalizeEvent(track({ context: { traits: { role: 'freelancer' } } }), ctx);
    expect(tracked.ok && tracked.event.traits).toEqual({});
  });
});

describe('helpers', () => {
  it.each([
    ['2026-01-02T03:04:05.678Z', Date.parse('2026-01-02T03:04:05.678Z')],
    [1_700_000_000_000, 1_700_000_000_000],
    ['garbage', undefined],
    [Number.NaN, undefined],
    [null, undefined],
    ['x'.repeat(100), undefined],
  ])('parseTime(%j)', (input, expected) => {
    expect(parseTime(input)).toBe(expected);
  });

  it.each([
    [{ a: { b: { c: 1 } } }, undefined],
    [[[[[]]]], undefined],
    [{ prototype: 1 }, undefined],
    [{ constructor: 'Acme Builders' }, undefined],
    [{ constructor: { name: 'x', prototype: 1 } }, 'forbidden_key'],
    [JSON.parse('{"a":{"__proto__":1}}'), 'forbidden_key'],
  ])('checkStructure(%j)', (value, code) => {
    expect(checkStructure(value)?.code).toBe(code);
  });
});
