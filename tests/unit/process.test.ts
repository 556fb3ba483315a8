/**
 * The per-event path (src/ingest/process.ts, steps.ts) on an in-memory plan: every event of a
 * request is accepted, quarantined or suppressed, in order, none lost; privacy runs inside it.
 */
import { describe, expect, it } from 'vitest';
import { QUARANTINE_CODES } from '../../src/errors.ts';
import { hashValue, piiRules } from '../../src/ingest/pii.ts';
import { processEvents, type ProcessOptions } from '../../src/ingest/process.ts';
import { encodeQuarantine, encodeSteps, normalizeStep, sizeStep, suppressed, validateStep, type Privacy } from '../../src/ingest/steps.ts';
import type { PlanEvent, TrackingPlan } from '../../src/plan/model.ts';
import { compilePlanValidator } from '../../src/plan/compile.ts';
import { EVENT_LINE_LAYOUT, eventLineRecord } from '../../src/warehouse/rows.ts';
import type { NormalizedEvent } from '../../src/types.ts';
import { inMemoryPlan } from '../helpers/plans.ts';

const NOW = Date.UTC(2026, 0, 15, 12);
const TS = new Date(NOW - 1000).toISOString();
const KEY = 'process-test-key-0123456789abcdef0123';

const ordered: PlanEvent = {
  name: 'order_placed',
  kind: 'track',
  description: 'd',
  owner: 'o',
  status: 'active',
  properties: { total: { type: 'number', minimum: 0 }, email: { type: 'string', format: 'email', pii: true, pii_action: 'hash' } },
  required: ['total'],
  kpis: [],
  file: 'events/order_placed.yaml',
};
const viewed: PlanEvent = { ...ordered, name: 'page_viewed', mode: 'warn', properties: { count: { type: 'number', minimum: 0 } }, required: [], file: 'events/page_viewed.yaml' };
const tidy: PlanEvent = { ...ordered, name: 'tidy', properties: { kept: { type: 'string' } }, required: [], undeclared: 'strip', file: 'events/tidy.yaml' };
const searched: PlanEvent = { ...ordered, name: 'search', kind: 'page', properties: { query: { type: 'string', pii: true, pii_action: 'drop' } }, required: [], file: 'events/search.yaml' };
const { plan: PLAN, validator } = inMemoryPlan([ordered, viewed, tidy, searched]);

const options = (extra: Partial<ProcessOptions> = {}): ProcessOptions => {
  let ids = 0;
  return { receivedAt: NOW, source: 'web', maxEventBytes: 32 * 1024, piiKey: KEY, newId: () => `generated-${++ids}`, ...extra };
};
const order = (messageId: string, properties: Record<string, unknown> = { total: 12 }) => ({ type: 'track', event: 'order_placed', userId: 'u1', messageId, timestamp: TS, properties });
const row = (line: string | undefined) => eventLineRecord(line ?? 'null', EVENT_LINE_LAYOUT);

describe('processEvents: every event accepted, quarantined or suppressed, none lost', () => {
  it('accepts a valid event: one events line, its id, a plain outcome, no labels', () => {
    const out = processEvents([order('m-valid')], validator, options());
    expect(out.outcomes).toEqual([{ index: 0, messageId: 'm-valid', status: 'accepted', planStatus: 'valid' }]);
    expect([out.accepted, out.quarantined, out.suppressed, out.job.ids, out.job.quarantine, out.violationLabels]).toEqual([1, 0, 0, ['m-valid'], [], []]);
    expect(row(out.job.events[0])).toMatchObject({ message_id: 'm-valid', event: 'order_placed', plan_status: 'valid', plan_version: '1.0.0', received_at: NOW, source: 'web' });
    expect(out.job.receivedAt).toBe(NOW);
  });

  it('stores an unplanned event as unplanned (the plan allows them), with no violation', () => {
    const out = processEvents([{ type: 'track', event: 'something_new', userId: 'u1', messageId: 'm-new' }], validator, options());
    expect(out.outcomes).toEqual([{ index: 0, messageId: 'm-new', status: 'accepted', planStatus: 'unplanned' }]);
    expect([out.job.ids, out.violationLabels]).toEqual([['m-new'], []]);
  });

  it('stores a warn-mode violation with its violations, and counts it', () => {
    const out = processEvents([{ type: 'track', event: 'page_viewed', userId: 'u1', messageId: 'm-warn', properties: { count: -1 } }], validator, options());
    expect(out.outcomes).toEqual([{ index: 0, messageId: 'm-warn', status: 'accepted', planStatus: 'warned', violations: [expect.objectContaining({ path: '/properties/count' })] }]);
    expect(out.job.events).toHaveLength(1);
    expect(out.violationLabels).toEqual([{ event: 'page_viewed', version: '1.0.0', rule: 'minimum' }]);
  });

  it('quarantines a plan violation with the normalised event kept for replay', () => {
    const out = processEvents([order('m-bad', { total: -3 })], validator, options());
    expect(out.outcomes).toEqual([{ index: 0, messageId: 'm-bad', status: 'quarantined', code: 'plan_violation', violations: [expect.objectContaining({ path: '/properties/total' })] }]);
    expect([out.accepted, out.quarantined, out.job.events, out.job.quarantineIds]).toEqual([0, 1, [], ['m-bad']]);
    const kept = row(out.job.quarantine[0]);
    expect(JSON.parse(String(kept.raw))).toMatchObject({ messageId: 'm-bad', event: 'order_placed', properties: { total: -3 } });
    expect(out.violationLabels).toEqual([{ event: 'order_placed', version: '1.0.0', rule: 'minimum' }]);
  });

  it('quarantines a malformed event as sent, under its own messageId', () => {
    const raw = { type: 'track', userId: 'u1', messageId: 'm-noname' };
    const out = processEvents([raw], validator, options());
    expect(out.outcomes).toEqual([
      { index: 0, messageId: 'm-noname', status: 'quarantined', code: 'missing_event_name', violations: [{ path: '/event', rule: 'missing_event_name', message: expect.any(String) }] },
    ]);
    expect(row(out.job.quarantine[0])).toMatchObject({ message_id: 'm-noname', reasons: ['malformed:missing_event_name'], raw: JSON.stringify(raw) });
    expect(out.violationLabels).toEqual([{ event: '(malformed)', version: '', rule: 'missing_event_name' }]);
  });

  it('keeps no write key of a single-event body in quarantine, malformed or too large', () => {
    const malformed = { type: 'track', userId: 'u1', messageId: 'm-wk1', writeKey: 'wk_secret_123' };
    const big = { ...order('m-wk2'), writeKey: 'wk_secret_123', properties: { total: 1, note: 'x'.repeat(2000) } };
    const out = processEvents([malformed, big], validator, options({ maxEventBytes: 1024 }));
    expect(out.outcomes.map((o) => o.status)).toEqual(['quarantined', 'quarantined']);
    for (const line of out.job.quarantine) {
      expect(JSON.parse(String(row(line).raw))).toMatchObject({ userId: 'u1' });
      expect(line).not.toContain('wk_secret_123');
    }
  });

  it('keeps only the top levels of an event nested too deep', () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const out = processEvents([{ ...order('m-deep'), properties: deep }], validator, options());
    expect(out.outcomes[0]).toMatchObject({ status: 'quarantined', code: 'too_deep' });
    expect(String(row(out.job.quarantine[0]).raw)).toContain('[truncated: nested too deep]');
  });

  it('quarantines an event whose row is larger than the limit, keeping the client payload, and still counts its warnings', () => {
    const big = { type: 'track', event: 'page_viewed', userId: 'u1', messageId: 'm-big', timestamp: TS, properties: { count: -1, note: 'x'.repeat(2000) } };
    const out = processEvents([big], validator, options({ maxEventBytes: 1024 }));
    expect(out.outcomes).toEqual([
      {
        index: 0,
        messageId: 'm-big',
        status: 'quarantined',
        code: 'event_too_large',
        violations: [
          {
            path: '',
            rule: 'event_too_large',
            message: expect.stringMatching(/^event is larger than 1024 bytes once stored \(2\d{3} with the fields Balise adds\): over the per-event limit, BALISE_MAX_EVENT_BYTES$/),
          },
        ],
      },
    ]);
    expect(row(out.job.quarantine[0])).toMatchObject({ message_id: 'm-big', raw: JSON.stringify(big) });
    expect([out.job.events, out.job.quarantineIds, out.violationLabels]).toEqual([[], ['m-big'], [{ event: 'page_viewed', version: '1.0.0', rule: 'minimum' }]]);
  });

  it('gives an event without a messageId one from the injected id source', () => {
    const { messageId: _drop, ...anonymous } = order('unused');
    const out = processEvents([anonymous, anonymous], validator, options());
    expect(out.outcomes.map((o) => o.messageId)).toEqual(['generated-1', 'generated-2']);
    expect(out.job.ids).toEqual(['generated-1', 'generated-2']);
  });

  it('keeps the order and the index of every event of a mixed batch', () => {
    const batch = [order('a'), 'not an event', order('b', { total: -1 }), order('c')];
    const out = processEvents(batch, validator, options());
    expect(out.outcomes.map((o) => [o.index, o.status, o.status === 'quarantined' ? o.code : o.status === 'accepted' ? o.planStatus : ''])).toEqual([
      [0, 'accepted', 'valid'],
      [1, 'quarantined', 'not_an_object'],
      [2, 'quarantined', 'plan_violation'],
      [3, 'accepted', 'valid'],
    ]);
    expect([out.accepted + out.quarantined, out.job.ids, out.job.quarantineIds]).toEqual([batch.length, ['a', 'c'], ['', 'b']]);
    for (const o of out.outcomes) if (o.status === 'quarantined') expect(QUARANTINE_CODES).toContain(o.code);
  });

  it('merges the batch context into each event and corrects clock skew with the batch sentAt', () => {
    const sentAt = new Date(NOW - 60_000 + 5_000).toISOString();
    const event = { ...order('m-ctx'), timestamp: new Date(NOW - 60_000).toISOString(), context: { page: { path: '/x' } } };
    const out = processEvents([event], validator, options({ batchContext: { library: { name: 'lib', version: '1' } }, batchSentAt: sentAt }));
    const stored = row(out.job.events[0]);
    expect([stored.library_name, stored.context, stored.timestamp]).toEqual(['lib', { library: { name: 'lib', version: '1' }, page: { path: '/x' } }, NOW - 5_000]);
  });

  it("stores nothing of a suppressed person's events, and says so per event", () => {
    const out = processEvents([order('m-gone'), { ...order('m-kept'), userId: 'u2' }], validator, options({ isSuppressed: (ids) => ids.includes('u1') }));
    expect(out.outcomes).toEqual([
      { index: 0, messageId: 'm-gone', status: 'suppressed' },
      { index: 1, messageId: 'm-kept', status: 'accepted', planStatus: 'valid' },
    ]);
    expect([out.suppressed, out.accepted, out.job.ids, out.job.quarantine]).toEqual([1, 1, ['m-kept'], []]);
  });

  it("stores nothing of a suppressed person's malformed event either, not even in quarantine", () => {
    const out = processEvents(
      [
        { ...order('m-bad'), timestamp: 'nonsense' },
        { ...order('m-bad-kept'), userId: 'u2', timestamp: 'nonsense' },
      ],
      validator,
      options({ isSuppressed: (ids) => ids.includes('u1') }),
    );
    expect(out.outcomes.map((o) => [o.messageId, o.status])).toEqual([
      ['m-bad', 'suppressed'],
      ['m-bad-kept', 'quarantined'],
    ]);
    expect([out.suppressed, out.job.quarantine.length, out.job.quarantine.join('\n').includes('m-bad"')]).toEqual([1, 1, false]);
  });

  it("applies a page's rules to a malformed page sent to /v1/page without a type in its body", () => {
    const page = { name: 'search', anonymousId: 'a1', messageId: 'm-page', timestamp: 'yesterday', properties: { query: 'carol private search' } };
    const out = processEvents([page], validator, options({ routeType: 'page' }));
    expect(out.outcomes.map((o) => (o.status === 'quarantined' ? o.code : o.status))).toEqual(['invalid_timestamp']);
    const stored = JSON.parse(out.job.quarantine[0]!) as { type: string; raw: string };
    expect(stored.type).toBe('page');
    expect(stored.raw).not.toContain('carol private search');
  });

  it('validates the email as sent, then stores its hash', () => {
    const out = processEvents([order('m-pii', { total: 1, email: 'ada@example.com' })], validator, options());
    expect(out.outcomes).toEqual([{ index: 0, messageId: 'm-pii', status: 'accepted', planStatus: 'valid' }]);
    expect(row(out.job.events[0]).properties).toEqual({ total: 1, email: hashValue(KEY, 'ada@example.com') });
    expect(out.job.events[0]).not.toContain('ada@example.com');
  });

  it('hashes the email of a malformed and of a too-large event too', () => {
    const malformed = { type: 'track', event: 'order_placed', messageId: 'm-noid', properties: { email: 'ada@example.com' } };
    const big = order('m-big', { total: 1, email: 'ada@example.com', note: 'x'.repeat(2000) });
    const out = processEvents([malformed, big], validator, options({ maxEventBytes: 1024 }));
    expect(out.outcomes.map((o) => (o.status === 'quarantined' ? o.code : o.status))).toEqual(['missing_identity', 'event_too_large']);
    expect(out.job.quarantine.join('\n')).not.toContain('ada@example.com');
    expect(out.job.quarantine.join('\n')).toContain(hashValue(KEY, 'ada@example.com') as string);
  });

  it('stores what the strip policy keeps, and says what it removed', () => {
    const out = processEvents([{ type: 'track', event: 'tidy', userId: 'u1', messageId: 'm-tidy', properties: { kept: 'k', extra: 'e' } }], validator, options());
    expect(out.outcomes).toEqual([
      { index: 0, messageId: 'm-tidy', status: 'accepted', planStatus: 'warned', violations: [expect.objectContaining({ path: '/properties/extra', rule: 'undeclared_property' })] },
    ]);
    expect(row(out.job.events[0]).properties).toEqual({ kept: 'k' });
  });

  it('writes the same line for an event whether its request holds one event or many, even when a value holds the row separator', () => {
    // A batch's rows are encoded at once and cut between rows (rows.ts, eventRowLines): a value
    // holding "],[" (a string, nested arrays) must not be taken for a cut.
    const events = [
      order('r1', { total: 1, note: 'a],[b' }),
      order('r2', { total: 2, grid: [[1], [2]] }),
      order('r3', { total: 3, tags: ['x', 'y'] }),
      { ...order('r4'), context: { page: { path: '/p],[q' } } },
    ];
    const alone = events.map((event) => processEvents([event], validator, options()).job.events[0]);
    const together = processEvents(events, validator, options()).job.events;
    expect(together).toEqual(alone);
    expect(together.map((line) => row(line).message_id)).toEqual(['r1', 'r2', 'r3', 'r4']);
    // Without such values, the same holds on the cut path.
    const plain = [order('p1'), order('p2', { total: 5, tags: ['a'] }), order('p3')];
    expect(processEvents(plain, validator, options()).job.events).toEqual(plain.map((event) => processEvents([event], validator, options()).job.events[0]));
  });

  it('stores half an emoji (a lone surrogate) as U+FFFD, alone or in a batch, and leaves whole emoji and escaped text as sent', () => {
    // A title cut by its length in UTF-16 units keeps the first half of 🚀: valid JSON, not Unicode.
    const cut = '🚀 launch'.slice(0, 1);
    const events = [
      order('u1', { total: 1, title: `a${cut}` }),
      order('u2', { total: 2, title: '🚀', note: String.raw`\ud800 as text` }),
      { ...order('u3'), context: { page: { title: `${cut}${cut}` } } },
    ];
    const together = processEvents(events, validator, options()).job.events;
    expect(together).toEqual(events.map((event) => processEvents([event], validator, options()).job.events[0]));
    const [u1, u2, u3] = together.map(row);
    expect(u1!.properties).toMatchObject({ title: 'a\ufffd' });
    expect(u2!.properties).toMatchObject({ title: '🚀', note: String.raw`\ud800 as text` });
    expect(u3!.context).toMatchObject({ page: { title: '\ufffd\ufffd' } });
  });

  it("writes half an emoji in a client's property name as U+FFFD in the violations too: ClickHouse reads them as JSON", () => {
    const key = `extra${'🚀'.slice(0, 1)}`;
    const warned = { type: 'track', event: 'tidy', userId: 'u1', messageId: 'm-cut-key', properties: { kept: 'k', [key]: 'e' } };
    const stored = processEvents([warned, { ...warned, messageId: 'm-cut-key-2' }], validator, options()).job.events.map(row);
    const strictPlan: TrackingPlan = { ...PLAN, events: [{ ...tidy, undeclared: 'quarantine' }] };
    const strict = compilePlanValidator({ latest: strictPlan, versions: [strictPlan] });
    const quarantined = processEvents([{ ...warned, messageId: 'm-cut-q' }], strict, options()).job.quarantine;
    // JSON.stringify escapes a lone surrogate as \udxxx, which ClickHouse's JSON functions refuse (0053).
    const texts = [...stored.map((r) => r.violations as string), ...quarantined.map((line) => (JSON.parse(line) as { violations: string }).violations)];
    expect(texts).toHaveLength(3);
    for (const text of texts) {
      expect(text).not.toMatch(/\\ud[89a-f]/i);
      expect(JSON.parse(text) as unknown[]).toContainEqual(expect.objectContaining({ path: '/properties/extra\ufffd' }));
    }
  });

  it('describes the first liveBudget events for the live view, as judged, and none without a budget', () => {
    const batch = [order('l1'), 42, order('l3', { total: -1 }), order('l4')];
    expect(processEvents(batch, validator, options()).live).toEqual([]);
    const live = processEvents(batch, validator, options({ liveBudget: 3 })).live;
    expect(live.map((e) => [e.messageId, e.verdict, e.code])).toEqual([
      ['l1', 'valid', undefined],
      ['', 'quarantined', 'not_an_object'],
      ['l3', 'quarantined', 'plan_violation'],
    ]);
  });
});

describe('the steps, one by one', () => {
  const ctx = { receivedAt: NOW, source: 'web', newId: () => 'n1' };
  const privacy: Privacy = { rules: piiRules(PLAN), key: KEY };
  const normalized = (raw: unknown): NormalizedEvent => {
    const step = normalizeStep(raw, ctx, privacy);
    if (!step.ok) throw new Error(`fixture event must normalise: ${step.quarantine.code}`);
    return step.value;
  };

  it('normalize goes on with the event, or stops with a malformed row', () => {
    expect(normalizeStep(order('s1'), ctx, privacy)).toMatchObject({ ok: true, value: { messageId: 's1', event: 'order_placed' } });
    expect(normalizeStep(42, ctx, privacy)).toMatchObject({ ok: false, quarantine: { code: 'not_an_object', messageId: '', row: { reasons: ['malformed:not_an_object'] } } });
  });

  it("suppression asks about the event's owner (its userId, else its anonymousId) and an alias's previousId", () => {
    const asked: string[][] = [];
    expect(suppressed(normalized(order('s0')), (ids) => (asked.push([...ids]), false))).toBe(false);
    expect(suppressed({ ...normalized(order('s0')), userId: '', anonymousId: 'a1' }, (ids) => (asked.push([...ids]), false))).toBe(false);
    expect(suppressed({ ...normalized(order('s0')), anonymousId: 'a1', previousId: 'p1' }, (ids) => (asked.push([...ids]), false))).toBe(false);
    expect(asked).toEqual([
      ['u1', ''],
      ['a1', ''],
      ['u1', 'p1'],
    ]);
    expect(suppressed(normalized(order('s0')), undefined)).toBe(false);
  });

  it('validate goes on with a passing verdict and the stored form, or stops with plan_violation', () => {
    expect(validateStep(normalized(order('s2', { total: 1, email: 'a@b.co' })), validator, privacy)).toMatchObject({
      ok: true,
      value: { verdict: { status: 'valid' }, event: { properties: { email: hashValue(KEY, 'a@b.co') } }, labels: [] },
    });
    expect(validateStep(normalized(order('s3', { total: -1 })), validator, privacy)).toMatchObject({ ok: false, quarantine: { code: 'plan_violation', messageId: 's3' } });
  });

  it('encode writes one JSON line per row; the size check measures it in UTF-8 bytes', () => {
    const judged = validateStep(normalized(order('s4')), validator, privacy);
    if (!judged.ok) throw new Error('fixture event must pass');
    expect(row(encodeSteps([judged.value])[0]!)).toMatchObject({ message_id: 's4', plan_status: 'valid' });
    expect(encodeQuarantine({ message_id: 'é' } as never)).toBe('{"message_id":"é"}');
    const wide = '€'.repeat(400); // 1,200 bytes in UTF-8, 400 UTF-16 units
    expect(sizeStep(wide, {}, judged.value, 1_199, privacy)).toMatchObject({ ok: false, quarantine: { code: 'event_too_large' } });
    expect(sizeStep(wide, {}, judged.value, 1_200, privacy)).toEqual({ ok: true, value: wide });
    // Under the smallest limit allowed (256 B), a short line of wide characters is measured too.
    const short = '€'.repeat(150); // 450 bytes, 150 units
    expect(sizeStep(short, {}, judged.value, 300, privacy)).toMatchObject({ ok: false, quarantine: { code: 'event_too_large' } });
    expect(sizeStep(short, {}, judged.value, 450, privacy)).toEqual({ ok: true, value: short });
  });
});
