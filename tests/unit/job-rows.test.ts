import { describe, expect, it } from 'vitest';
import { newJobId, parseRowsKey, rowsKey } from '../../src/queue/job-rows.ts';
import { INLINE_ROWS_MAX_CHARS, rowsRideInline } from '../../src/queue/producer.ts';
import { joinLines, payloadLines } from '../../src/warehouse/insert.ts';

describe('rows keys', () => {
  it('name their job and when they were written, in the queue key space', () => {
    const jobId = newJobId();
    const key = rowsKey('{balise}:ingest', jobId, 1_796_000_000_000);
    expect(key.startsWith('{balise}:ingest:rows:')).toBe(true);
    expect(parseRowsKey('{balise}:ingest', key)).toEqual({ jobId, writtenAt: 1_796_000_000_000 });
  });

  it('are told apart from other keys and from another queue', () => {
    expect(parseRowsKey('{balise}:ingest', '{balise}:ingest:rows:abc')).toBeUndefined();
    expect(parseRowsKey('{balise}:ingest', '{balise}:ingest:abc:mx6l8egm')).toBeUndefined();
    expect(parseRowsKey('{balise}:other', rowsKey('{balise}:ingest', 'abc'))).toBeUndefined();
  });
});

describe('where a job keeps its lines (0054)', () => {
  it('inside it up to INLINE_ROWS_MAX_CHARS characters in all, beside it past that', () => {
    const half = 'x'.repeat(INLINE_ROWS_MAX_CHARS / 2);
    expect(rowsRideInline([])).toBe(true);
    expect(rowsRideInline([half, half])).toBe(true);
    expect(rowsRideInline([half, half, 'x'])).toBe(false);
    expect(rowsRideInline(['x'.repeat(INLINE_ROWS_MAX_CHARS + 1)])).toBe(false);
  });
});

describe('payloads of JSON lines', () => {
  it('split into their lines as views of the same bytes, and join back', () => {
    const lines = ['["a",1]', '["b","é"]', '{"c":3}'];
    const payload = Buffer.from(lines.join('\n'));
    const split = payloadLines(payload);
    expect(split.map(String)).toEqual(lines);
    expect(split[1]!.buffer).toBe(payload.buffer);
    expect(joinLines(split).equals(payload)).toBe(true);
    expect(joinLines([split[0]!, split[2]!]).toString()).toBe('["a",1]\n{"c":3}');
  });

  it('hold no line when empty, and one line without a newline', () => {
    expect(payloadLines(Buffer.alloc(0))).toEqual([]);
    expect(payloadLines(Buffer.from('["x"]')).map(String)).toEqual(['["x"]']);
  });
});
