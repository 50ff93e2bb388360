import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import { inject } from 'vitest';
import { createActivities, type ActivityDeps, type OpsActivities } from '../../activities/index.js';
import { createPgPool } from '../../src/clients/postgres.js';
import { parsePolicy, type Policy } from '../../src/config/policy.js';
import { createS3Client } from '../../src/clients/s3.js';
import { createOpsWorker } from '../../workers/worker.js';
import { ensureDatabase } from '../../scripts/stack/postgres.js';
import { quietSdkLogger } from './quiet-log.js';
import type { TestKubernetes, TestStack } from './test-stack.js';

export type { TestStack } from './test-stack.js';

let runtimeQuieted = false;

/** The stack of this run, provisioned by the global setup. */
export function testStack(): TestStack {
  return inject('stack');
}

/** The embedded Kubernetes control plane of this test run. */
export function testKubernetes(): TestKubernetes {
  return inject('kubernetes');
}

/** A client configuration for it, as the cluster's admin. */
export function kubeConfig(cluster: TestKubernetes = testKubernetes()): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(cluster.kubeconfig);
  return config;
}

export { ephemeralStackEnv as stackEnv } from '../../scripts/stack/ephemeral-stack.js';

/** Real clients against the test stack, for the test's own checks; close() them in afterAll. */
export async function connectStack(stack: TestStack = testStack()) {
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection, namespace: stack.namespace });
  const pool: pg.Pool = createPgPool(stack.databaseUrl, 'ops-tests');
  const s3 = createS3Client({
    S3_ENDPOINT: stack.s3.endpoint,
    S3_REGION: stack.s3.region,
    S3_ACCESS_KEY_ID: stack.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: stack.s3.secretAccessKey,
  });
  return {
    stack,
    connection,
    client,
    pool,
    s3,
    /** The activity dependencies pointing at the real test stack; a test may change the policy or add Slack. */
    activityDeps: (overrides: Partial<ActivityDeps> & { policy?: Policy } = {}): ActivityDeps => ({
      pool,
      s3,
      bucket: stack.s3.bucket,
      policy: parsePolicy({}, 'test defaults'),
      slack: undefined,
      slackChannel: '#ops-test',
      temporalUiUrl: 'http://localhost:8233',
      smtp: undefined,
      smtpFrom: 'ops-automation <ops@test.local>',
      pagerdutyEventsUrl: 'http://127.0.0.1:1/v2/enqueue',
      secret: () => undefined,
      databaseUrl: (name) => (name === 'default' ? stack.databaseUrl : undefined),
      temporal: client,
      prometheusUrl: 'http://127.0.0.1:1',
      kube: () => {
        throw new Error('this test gave the activities no Kubernetes (pass kube: () => fake.kubeConfig())');
      },
      // Incidents our own workflows raise; a test that checks them passes its task queue.
      taskQueue: 'ops-test-raised-incidents',
      walSpoolDir: join(stack.runDir, 'wal'),
      restoreDir: join(stack.runDir, 'restores'),
      ...overrides,
    }),
    async close() {
      s3.destroy();
      await pool.end();
      await connection.close();
    },
  };
}

export type StackClients = Awaited<ReturnType<typeof connectStack>>;

/** A task queue of the test's own, so parallel test files never take each other's tasks. */
export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

/**
 * The SDK's default logger prints every worker state change, and Core prints a
 * warning for each retry of a call while a test holds Temporal down on purpose;
 * tests want failures only, a line each.
 */
export function quietSdkRuntime(): void {
  if (runtimeQuieted) return;
  Runtime.install({ logger: quietSdkLogger, telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } } });
  runtimeQuieted = true;
}

/** A connection over the SDK's native client, the transport our processes use, with the test runtime's quiet logging. */
export async function connectNative(address: string): Promise<NativeConnection> {
  quietSdkRuntime();
  return NativeConnection.connect({ address });
}

/**
 * Creates a real Worker on the test stack with the prebuilt workflow bundle.
 * Activities default to the real ones on the real stack; a test may override some.
 */
export async function createTestWorker(options: {
  stack?: TestStack;
  taskQueue: string;
  activities: OpsActivities | (() => OpsActivities);
}): Promise<{ worker: Worker; connection: NativeConnection }> {
  const stack = options.stack ?? testStack();
  const connection = await connectNative(stack.temporalAddress);
  const activities = typeof options.activities === 'function' ? options.activities() : options.activities;
  const worker = await createOpsWorker({
    connection,
    namespace: stack.namespace,
    taskQueue: options.taskQueue,
    activities,
    workflowBundlePath: stack.workflowBundlePath,
  });
  return { worker, connection };
}

/** Runs `fn` while a real worker serves `taskQueue`, then shuts the worker down. */
export async function withWorker<T>(
  clients: StackClients,
  taskQueue: string,
  fn: () => Promise<T>,
  activities: OpsActivities = createActivities(clients.activityDeps()),
): Promise<T> {
  const { worker, connection } = await createTestWorker({ stack: clients.stack, taskQueue, activities });
  try {
    return await worker.runUntil(fn);
  } finally {
    await connection.close();
  }
}

/** A real worker serving `taskQueue` in the background until `stop()`, which drains it. */
export async function startBackgroundWorker(taskQueue: string, activities: OpsActivities): Promise<{ stop(): Promise<void> }> {
  const { worker, connection } = await createTestWorker({ taskQueue, activities });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/** A fresh database on the test server, with `sql` run in it; returns its URL. Drop it with dropDatabase. */
export async function seededDatabase(name: string, sql: string): Promise<string> {
  const url = await ensureDatabase(testStack().adminDatabaseUrl, name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
  return url;
}
