// ESLint's flat config for the board's JavaScript (app/web): browser ES modules, no build step.
// Run by `make lint-js` from this folder, so paths are relative to the repository root two levels up.
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    files: ['app/web/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.browser },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      ...js.configs.recommended.rules,
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-implicit-globals': 'error',
      'no-unused-vars': ['error', { args: 'after-used', argsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['warn', 'error'] }],
      'no-shadow': 'error',
      'no-param-reassign': 'error',
      curly: ['error', 'multi-line'],
    },
  },
];
