import { describe, expect, it } from 'vitest';
import { lastHourByMinute } from '../../src/dashboard/web/health.ts';

const NOW = Date.parse('2026-12-05T07:31:40Z');

describe('lastHourByMinute: the insert chart on a true time axis', () => {
  it('gives each of the hour’s 60 minutes a bar, a quiet minute as 0', () => {
    const minutes = lastHourByMinute(
      [
        { minute: '2026-12-05 06:40:00', rows: 5 },
        { minute: '2026-12-05 07:30:00', rows: 7 },
      ],
      NOW,
    );
    expect(minutes).toHaveLength(60);
    expect(minutes[0]).toEqual({ minute: '2026-12-05 06:32:00', rows: 0 });
    expect(minutes.at(-1)).toEqual({ minute: '2026-12-05 07:31:00', rows: 0 });
    expect(minutes.find((m) => m.minute === '2026-12-05 06:40:00')?.rows).toBe(5);
    expect(minutes.at(-2)).toEqual({ minute: '2026-12-05 07:30:00', rows: 7 });
    expect(minutes.reduce((n, m) => n + m.rows, 0)).toBe(12);
  });

  it('keeps a minute the server already has when the browser clock is behind', () => {
    const minutes = lastHourByMinute([{ minute: '2026-12-05 07:33:00', rows: 3 }], NOW);
    expect(minutes.at(-1)).toEqual({ minute: '2026-12-05 07:33:00', rows: 3 });
  });

  it('an idle hour is 60 zeros, not an empty chart', () => {
    expect(lastHourByMinute([], NOW).map((m) => m.rows)).toEqual(Array.from({ length: 60 }, () => 0));
  });
});
