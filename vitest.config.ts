import { defineConfig } from 'vitest/config';

// chDB binds one data directory per process, so every test file runs in its own fork.
export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { singleFork: false, maxForks: 2, minForks: 1 } },
    fileParallelism: true,
    include: ['tests/**/*.test.ts', 'sdk/tests/**/*.test.ts'],
    // The fault suite runs on its own: `npm run test:faults` (vitest.faults.config.ts).
    exclude: ['tests/faults/**', '**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    globalSetup: ['tests/global-setup.ts'],
  },
});
