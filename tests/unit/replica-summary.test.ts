/** What `balise plan views --apply` prints (and the server logs) about the other API processes after a reload, and when it fails. */
import { describe, expect, it } from 'vitest';
import { allFollow, replicaSummary } from '../../src/queue/plan-reloads.ts';

describe('replicaSummary', () => {
  it('says how many follow, and names each process that does not and why', () => {
    const line = replicaSummary(
      {
        asked: 4,
        reloaded: [
          { process: 'api-1:10', planVersion: '2.1.0' },
          { process: 'api-2:11', planVersion: '2.0.0' },
        ],
        failed: [{ process: 'api-3:12', code: 'plan_invalid', message: 'events/x.yaml: bad' }],
        unanswered: 1,
      },
      '2.1.0',
    );
    expect(line).toBe(
      '1 of 4 other API processes reloaded plan 2.1.0; api-2:11 reloaded plan 2.0.0 (its plan files differ); api-3:12 kept its plan: events/x.yaml: bad [plan_invalid]; 1 did not answer',
    );
  });

  it('says so when no other process listens, and uses the singular for one', () => {
    expect(replicaSummary({ asked: 0, reloaded: [], failed: [], unanswered: 0 }, '1.0.0')).toBe('no other API process listens on this Redis');
    expect(replicaSummary({ asked: 1, reloaded: [{ process: 'h:1', planVersion: '1.0.0' }], failed: [], unanswered: 0 }, '1.0.0')).toBe('1 of 1 other API process reloaded plan 1.0.0');
  });
});

describe('allFollow', () => {
  const one = (planVersion: string) => ({ process: 'h:1', planVersion });
  it('holds only when every other process answered with the same version', () => {
    expect(allFollow({ asked: 0, reloaded: [], failed: [], unanswered: 0 }, '2.1.0')).toBe(true);
    expect(allFollow({ asked: 1, reloaded: [one('2.1.0')], failed: [], unanswered: 0 }, '2.1.0')).toBe(true);
    expect(allFollow({ asked: 1, reloaded: [one('2.0.0')], failed: [], unanswered: 0 }, '2.1.0')).toBe(false);
    expect(allFollow({ asked: 1, reloaded: [], failed: [], unanswered: 1 }, '2.1.0')).toBe(false);
    expect(allFollow({ asked: 1, reloaded: [], failed: [{ process: 'h:1', code: 'plan_invalid', message: 'x' }], unanswered: 0 }, '2.1.0')).toBe(false);
  });
});
