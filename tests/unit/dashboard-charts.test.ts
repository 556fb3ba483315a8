import { describe, expect, it } from 'vitest';
import { percentAxisMax } from '../../src/dashboard/web/charts.ts';

describe('percentAxisMax: a percentage axis scaled to the data', () => {
  it('fits a low curve instead of a fixed 0–100 %', () => {
    expect(percentAxisMax([100, 22.5, 8])).toBe(100);
    expect(percentAxisMax([31.2, 12, null, 5])).toBe(40);
    expect(percentAxisMax([4.5, 2])).toBe(5);
    expect(percentAxisMax([95])).toBe(100);
  });

  it('keeps 0–100 % when there is nothing to scale to', () => {
    expect(percentAxisMax([])).toBe(100);
    expect(percentAxisMax([null, 0])).toBe(100);
  });
});
