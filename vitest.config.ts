import { defineConfig } from 'vitest/config';

// The AWS SDK warns once per process that its 2027 releases need Node 22: the same lines in every
// test process and child say nothing a test checks. Set here, every process of the run inherits it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * Suites that lean on Temporal's guarantees (intake, incidents, escalation and its durability,
 * schedules, backup), run a second time on a real Temporal cluster, and the scale-out test,
 * which needs one.
 */
export const CLUSTER_SUITES = [
  'test/e2e/intake.test.ts',
  'test/workflows/incident.test.ts',
  'test/workflows/escalation.test.ts',
  'test/workflows/escalation-progress.test.ts',
  'test/workflows/oncall-escalation.test.ts',
  'test/e2e/escalation-durability.test.ts',
  'test/e2e/schedules.test.ts',
  'test/e2e/backup.test.ts',
  'test/e2e/scale-out.test.ts',
];
const CLUSTER_ONLY = ['test/e2e/scale-out.test.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'dev',
          include: ['test/**/*.test.ts'],
          exclude: CLUSTER_ONLY,
          // One real stack (Temporal dev server, PostgreSQL database, MinIO bucket) and the embedded Kubernetes per run.
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: CLUSTER_SUITES,
          // The same, with Temporal as a cluster of the real server on PostgreSQL.
          globalSetup: ['test/support/cluster-global-setup.ts'],
        },
      },
    ],
  },
});
