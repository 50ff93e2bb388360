// ESLint: type-aware TypeScript rules everywhere, plus the rules that keep
// workflow code deterministic (workflows/ and src/domain/ import no I/O).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((name) => `node:${name}`)];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.ops/', 'coverage/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node APIs, no
    // clients, no I/O libraries, and activities only as types.
    // test/fixtures/workflows holds code the lint test proves is refused.
    files: ['workflows/**/*.ts', 'src/domain/**/*.ts', 'test/fixtures/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code may not use Node APIs.' })),
          patterns: [
            {
              group: ['**/activities/*', '**/activities'],
              allowTypeImports: true,
              message: 'Import activities into workflows as types only (proxyActivities<typeof ...>).',
            },
            {
              group: ['**/src/clients/*', '**/clients/*', '**/src/config/*', '**/src/webhooks/*', '**/src/cli/*', '**/workers/*', '**/scripts/*'],
              message: 'Workflow code may import only @temporalio/workflow, workflows/ and src/domain/.',
            },
            {
              group: [
                'pg',
                '@aws-sdk/*',
                '@slack/*',
                '@kubernetes/*',
                'nodemailer',
                'fastify',
                'pino',
                'prom-client',
                'yaml',
                'zod',
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
                '@temporalio/testing',
              ],
              message: 'Workflow code may not use I/O libraries or non-workflow Temporal packages.',
            },
          ],
        },
      ],
    },
  },
  {
    // Outside workflows/, a workflow is known by its contract (messages, input and
    // status types) and started by its type name: the webhook server, opsctl and the
    // activities never load workflow code. Type imports are erased, so they are fine.
    // test/fixtures/clients holds code the lint test proves is refused.
    files: ['src/**/*.ts', 'activities/**/*.ts', 'workers/**/*.ts', 'schedules/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'test/fixtures/clients/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows/*', '!**/workflows/*-contract.js', '!**/workflows/*-signals.js'],
              allowTypeImports: true,
              message: 'Outside workflows/, import only contract files (*-contract.ts, *-signals.ts); start a workflow by its type name.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
