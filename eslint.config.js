/**
 * Lint for the kit: `npm run lint` (run by .ci/run before the tests).
 *
 * TypeScript in src/ and test/ is linted with type information (typescript-eslint's project service over
 * tsconfig.json): every tensor read is asynchronous, so a promise nobody awaits is the bug worth catching.
 * - @typescript-eslint/no-floating-promises: a promise neither awaited, returned, handled (.catch, .then with a
 *   rejection handler) nor marked `void`. node:test's test()/describe()/it()/suite() are known safe: the runner
 *   awaits what they return. https://typescript-eslint.io/rules/no-floating-promises
 * - @typescript-eslint/no-misused-promises: an async function where a void callback is expected (an event handler,
 *   a forEach body), whose rejection nobody would see. https://typescript-eslint.io/rules/no-misused-promises
 * - max-len 140, for code, strings and comments alike; only a line holding a URL is exempt (a reference is cited
 *   whole). A long regular expression is split with `new RegExp(/a/.source + /b/.source)`.
 *
 * The plain Node scripts in scripts/ have no type information (they are not in tsconfig.json): they get
 * @eslint/js's recommended rules and the same line limit.
 */
'use strict';
const { defineConfig } = require('eslint/config');
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

const maxLen = ['error', { code: 140, tabWidth: 2, ignoreUrls: true }];

module.exports = defineConfig(
  { ignores: ['dist/', 'build/', 'node_modules/', 'runs/', 'scratch/', 'data/', 'native/', 'notebooks/'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: __dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }],
      }],
      '@typescript-eslint/no-misused-promises': 'error',
      'max-len': maxLen,
    },
  },
  {
    files: ['scripts/**/*.js', 'eslint.config.js'],
    extends: [js.configs.recommended],
    languageOptions: {
      sourceType: 'commonjs',
      ecmaVersion: 2022,
      globals: { __dirname: 'readonly', process: 'readonly', console: 'readonly', setTimeout: 'readonly' },
    },
    rules: {
      'max-len': maxLen,
      'no-unused-vars': ['error', { ignoreRestSiblings: true }],  // `const { rows: _, ...head } = x` drops a key
    },
  },
);
