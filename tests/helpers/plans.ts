import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * The plan tests run against unless their subject is the example plan itself: a frozen copy of
 * the example marketplace at 2.0.0 (with its published 1.0.0, 1.1.0 and 2.0.0), so a team that
 * edits tracking-plan/ keeps the suite green (tests/integration/plan-evolution.test.ts).
 */
export const FIXTURE_PLAN = path.join(ROOT, 'tests/fixtures/plans/marketplace');

/** The example plan shipped in tracking-plan/: only for tests about the example itself (demo, init, committed artifacts). */
export const EXAMPLE_PLAN = path.join(ROOT, 'tracking-plan');
