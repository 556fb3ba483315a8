import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'sdk/dist/', 'src/dashboard/public/', '.data/', '.tmp/', 'test-results/', 'tracking-plan/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // Type-aware rules that find real bugs: a promise nobody awaits or catches (an unhandled
  // rejection ends the process), a promise where a boolean or a void callback is expected
  // (express handlers, if (promise)), awaiting what is not a promise, throwing a non-Error.
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['vitest.config.ts', 'vitest.faults.config.ts'] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // Rethrowing what a catch received (unknown) is the idiom, not a bug.
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/no-for-in-array': 'error',
    },
  },
  // The browser SDK is written for a 3 KB budget: comma and short-circuit expressions are its
  // idiom, and its ASCII test is a control-character range on purpose.
  { files: ['sdk/src/**/*.ts'], rules: { '@typescript-eslint/no-unused-expressions': 'off', 'no-control-regex': 'off' } },
);
