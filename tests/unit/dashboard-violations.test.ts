import { describe, expect, it } from 'vitest';
import { parseViolations } from '../../src/dashboard/web/violations.ts';

describe('parseViolations: the quarantine table violations column', () => {
  it('reads the stored JSON list', () => {
    const text = JSON.stringify([{ path: '/properties/rate', rule: 'type', message: 'property "rate" must be a number' }]);
    expect(parseViolations(text)).toEqual([{ path: '/properties/rate', rule: 'type', message: 'property "rate" must be a number' }]);
  });

  it.each([
    ['not JSON', '{oops'],
    ['an empty list', '[]'],
    ['another shape', '[{"code":"x"}]'],
    ['an object', '{"rule":"a","message":"b"}'],
  ])('leaves %s to be shown as text', (_name, text) => {
    expect(parseViolations(text)).toBeUndefined();
  });
});
