import { describe, expect, it } from 'vitest';
import { formatFunnel } from '../../src/analytics/format.ts';
import type { FunnelResult, FunnelStepResult } from '../../src/analytics/results.ts';
import { formatDuration as dashboardDuration } from '../../src/dashboard/web/format.ts';
import { formatDuration } from '../../src/util/duration.ts';

describe('formatDuration: one rendering for the CLI and the dashboard', () => {
  it.each([
    [0, '0 s'],
    [12_000, '12 s'],
    [59_400, '59 s'],
    [90_000, '2 min'],
    [45 * 60_000, '45 min'],
    [3 * 3_600_000, '3 h'],
    [5.25 * 3_600_000, '5.3 h'],
    [2.5 * 86_400_000, '2.5 d'],
    [30 * 86_400_000, '30 d'],
    [null, '–'],
    [Number.NaN, '–'],
  ])('formatDuration(%j) = %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
    expect(dashboardDuration(ms)).toBe(expected);
  });

  it('the CLI funnel table prints the same durations (12 seconds is "12 s", not "0 min")', () => {
    const step = (index: number, medianMsFromPrevious: number | null): FunnelStepResult => ({
      index,
      label: `step ${index}`,
      event: `e${index}`,
      count: 10,
      optional: false,
      previousStep: index - 1,
      conversionFromPrevious: 1,
      conversionFromStart: 1,
      dropOff: 0,
      medianMsFromPrevious,
      withinMs: null,
      exclude: [],
    });
    const result: FunnelResult = {
      id: 'f',
      title: 'F',
      description: '',
      entity: { kind: 'person' },
      order: 'strict',
      windowMs: 7 * 86_400_000,
      from: '2026-01-01T00:00:00Z',
      to: '2026-02-01T00:00:00Z',
      range: { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z', isDefault: false, defaultDays: 90, timeZone: 'UTC' },
      entered: 10,
      converted: 10,
      conversion: 1,
      steps: [step(1, null), step(2, 12_000)],
      timeToConvert: null,
      breakdown: null,
      cohorts: { grain: 'week', rows: [] },
    };
    const text = formatFunnel(result);
    expect(text).toContain('window 7 d');
    expect(text).toContain('12 s');
    expect(text).not.toContain('0 min');
  });
});
