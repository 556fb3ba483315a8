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
  // The browser SDK is written for a 3 KB budget: comma and short-circuit expressions are its
  // idiom, and its ASCII test is a control-character range on purpose.
  { files: ['sdk/src/**/*.ts'], rules: { '@typescript-eslint/no-unused-expressions': 'off', 'no-control-regex': 'off' } },
);
