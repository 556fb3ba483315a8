import { describe, expect, it } from 'vitest';
import { funnelStepRules, type RuleStep } from '../../src/util/funnel-rules.ts';

const DAY = 86_400_000;
const step = (index: number, extra: Partial<RuleStep> = {}): RuleStep => ({ index, previousStep: index - 1, withinMs: null, exclude: [], ...extra });

describe('funnel step rules (CLI and dashboard wording)', () => {
  it('says which step a step after an optional one is measured from, with its window and exclusions', () => {
    const steps = [step(1), step(2), step(3, { previousStep: 1, withinMs: 3 * DAY, exclude: ['declined'] }), step(4, { exclude: ['x', 'y'] })];
    expect(funnelStepRules('strict', steps)).toEqual([
      'step 3 measured from step 1 (optional steps between may be skipped) within 3 d of step 1 without declined between step 1 and it',
      'step 4 without x or y between the previous step and it',
    ]);
  });

  it('counts windows and exclusions from the entry in any order, and says nothing when there is no rule', () => {
    expect(funnelStepRules('any', [step(1), step(2, { withinMs: DAY, exclude: ['d'] })])).toEqual(['step 2 within 1 d of the entry without d between the entry and it']);
    expect(funnelStepRules('strict', [step(1), step(2)])).toEqual([]);
  });
});
