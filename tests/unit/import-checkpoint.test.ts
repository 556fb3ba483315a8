import { describe, expect, it } from 'vitest';
import { batchBody, createBatchBuilder, fitsAlone } from '../../src/import/batches.ts';
import { Ledger, newCheckpoint, type LedgerEntry } from '../../src/import/checkpoint.ts';

const entry = (source: string, endLine: number, last = false, sent = 10): LedgerEntry => ({ source, endLine, last, lines: sent, unparseable: 0, tooLarge: 0, sent, problems: [] });

describe('import checkpoint', () => {
  it('moves only over the acknowledged prefix, whatever order the acknowledgements come in', () => {
    const checkpoint = newCheckpoint('/in', 'segment', '0123456789abcdef', new Date(0));
    const ledger = new Ledger(checkpoint);
    const a = ledger.register(entry('f1', 10));
    const b = ledger.register(entry('f1', 20, true));
    const c = ledger.register(entry('f2', 10));
    expect(ledger.acknowledge(b, { accepted: 8, quarantined: 1, suppressed: 1 })).toBe(false);
    expect(ledger.acknowledge(c, { accepted: 10, quarantined: 0 })).toBe(false);
    expect(checkpoint.sources).toEqual({});
    expect(checkpoint.totals.accepted).toBe(0);
    expect(ledger.acknowledge(a, { accepted: 10, quarantined: 0 })).toBe(true);
    expect(checkpoint.sources).toEqual({ f1: { line: 20, done: true }, f2: { line: 10, done: false } });
    // An event of an erased person (suppressed) is counted, not lost from the report.
    expect(checkpoint.totals).toMatchObject({ lines: 30, sent: 30, accepted: 28, quarantined: 1, suppressed: 1 });
    expect(ledger.pending).toBe(0);
  });

  it('an unacknowledged batch holds back everything after it', () => {
    const checkpoint = newCheckpoint('/in', 'segment', '0123456789abcdef', new Date(0));
    const ledger = new Ledger(checkpoint);
    ledger.register(entry('f1', 10));
    const b = ledger.register(entry('f1', 20));
    ledger.acknowledge(b, { accepted: 10, quarantined: 0 });
    expect(checkpoint.sources.f1).toBeUndefined();
    expect(ledger.pending).toBe(2);
  });
});

describe('import batches', () => {
  it('closes a batch before it passes the byte or event limit', () => {
    const builder = createBatchBuilder({ maxBytes: 100, maxEvents: 3 });
    const message = JSON.stringify({ a: 'x'.repeat(20) }); // 28 bytes
    expect(builder.fits(message)).toBe(true);
    builder.add(message);
    builder.add(message);
    expect(builder.fits(message)).toBe(true); // 12 + 3 × 29 = 99
    builder.add(message);
    expect(builder.fits('{}')).toBe(false); // 3 events
    const body = batchBody(builder.take());
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(100);
    expect((JSON.parse(body) as { batch: unknown[] }).batch).toHaveLength(3);
    expect(builder.count).toBe(0);
  });

  it('counts bytes, not characters', () => {
    const builder = createBatchBuilder({ maxBytes: 40, maxEvents: 100 });
    const accented = JSON.stringify('é'.repeat(10)); // 12 characters, 22 bytes
    builder.add(accented);
    expect(builder.fits(accented)).toBe(false);
    expect(fitsAlone(JSON.stringify('é'.repeat(20)), { maxBytes: 40, maxEvents: 1 })).toBe(false);
  });
});
