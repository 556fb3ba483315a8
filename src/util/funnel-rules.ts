/**
 * The rules a funnel's step table does not show (per-step windows, exclusions, which step a step
 * after an optional one is measured from), in one wording for the CLI and the dashboard. Pure, in
 * util/ because the browser bundle uses it too; the result shapes are restated so util imports
 * nothing.
 */
import { formatDuration } from './duration.ts';

export interface RuleStep {
  index: number;
  previousStep: number;
  withinMs: number | null;
  exclude: string[];
}

/** One sentence per step with a rule, e.g. "step 3 within 3 d of the previous step". */
export function funnelStepRules(order: 'strict' | 'any', steps: readonly RuleStep[]): string[] {
  return steps
    .filter((s) => s.index > 1 && (s.withinMs !== null || s.exclude.length > 0 || s.previousStep !== s.index - 1))
    .map((s) => {
      const skips = s.previousStep !== s.index - 1;
      // In any order there is no previous step: windows and exclusions count from the entry.
      const from = order === 'any' ? 'the entry' : skips ? `step ${s.previousStep}` : 'the previous step';
      const parts = [`step ${s.index}`];
      if (skips) parts.push(`measured from step ${s.previousStep} (optional steps between may be skipped)`);
      if (s.withinMs !== null) parts.push(`within ${formatDuration(s.withinMs)} of ${from}`);
      if (s.exclude.length) parts.push(`without ${s.exclude.join(' or ')} between ${from} and it`);
      return parts.join(' ');
    });
}
