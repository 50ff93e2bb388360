import { defineConfig } from 'vitest/config';

// The AWS SDK warns once per process that its 2027 releases need Node 22: the same lines in every
// test process and child say nothing a test checks. Set here, every process of the run inherits it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One real stack (Temporal dev server, PostgreSQL database, MinIO bucket) per run.
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
