import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/generated/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // Issue 14's bound: a function a reader must hold in their head at once stays under 120 lines
    // (nested functions count in their parents). `pnpm functions:longest` lists the longest.
    files: ['packages/*/src/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 120 }] },
  },
  {
    // Plain CommonJS scripts (the differential harness's application processes).
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', exports: 'writable' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Untyped JavaScript run directly by node: Node's timer globals.
    files: ['**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: { setTimeout: 'readonly', clearTimeout: 'readonly' } },
  },
  {
    // Programs (CLIs, examples, benchmarks) talk to a terminal; libraries never do.
    files: ['**/cli.ts', 'examples/**', '**/bench/**', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // Applications the tests run as child processes, written as a service would write them.
    files: ['**/test/**/*.cjs', '**/test/**/*.mjs'],
    languageOptions: { globals: { require: 'readonly', module: 'writable', globalThis: 'readonly' } },
    rules: { 'no-console': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
)
