import { defineConfig } from 'vitest/config';

// `npm run test:faults`: the fault suite (tests/faults), real processes and floods, run by CI
// after `npm test`. Its own JSON report, so the main one is not overwritten.
export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { singleFork: false, maxForks: 2, minForks: 1 } },
    include: ['tests/faults/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest-faults.json' },
    globalSetup: ['tests/global-setup.ts'],
  },
});
