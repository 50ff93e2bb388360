import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ackSecretOf } from '../src/incidents/ack-token.js';
import { createActivities } from '../activities/index.js';
import { createClients, ensureBucket, ensureSearchAttributes } from '../src/clients/index.js';
import { loadConfig } from '../src/config/index.js';
import { runEntrypoint } from '../src/config/entrypoint.js';
import { databaseUrlResolver } from '../src/config/policy-databases.js';
import { migrate } from '../src/db/migrate.js';
import { createLogger } from '../src/logging/logger.js';
import { prepareWhenAvailable } from './dependencies.js';
import { installRuntime } from '../src/clients/temporal-runtime.js';
import { heapLimitMb, workerSizing } from './memory-budget.js';
import { createOpsWorker } from './worker.js';

/**
 * The worker process, the composition root: config -> clients -> activity
 * factories -> Worker. On start it brings the schema, the search attributes and
 * the bucket up to date (each idempotent, and retried in the background when
 * the database or S3 is down); SIGINT/SIGTERM drain it gracefully.
 */

// Present only in a build (npm run build): the worker then starts without bundling.
const PREBUILT_BUNDLE = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

async function main(): Promise<void> {
  const { env, policy } = loadConfig();
  const logger = createLogger({ level: env.OPS_LOG_LEVEL, name: 'ops-worker' });
  installRuntime(logger, env.OPS_WORKER_METRICS_PORT);

  const clients = await createClients(env, 'ops-worker');
  // Neither our database nor S3 being down keeps the worker from starting: pages go out without them.
  const schema = await prepareWhenAvailable(
    'database migration',
    async () => {
      const migration = await migrate(clients.pool);
      if (migration.applied.length > 0) logger.info({ applied: migration.applied }, 'database migrated');
    },
    logger,
  );
  const bucket = await prepareWhenAvailable(
    'bucket check',
    async () => {
      if ((await ensureBucket(clients.s3, env.S3_BUCKET)) === 'created') logger.info({ bucket: env.S3_BUCKET }, 'bucket created');
    },
    logger,
  );
  try {
    const { added } = await ensureSearchAttributes(clients.temporalConnection, env.TEMPORAL_NAMESPACE);
    if (added.length > 0) logger.info({ added }, 'search attributes registered');
  } catch (error) {
    logger.warn({ err: error }, 'could not register search attributes; register OpsKind, OpsSeverity, OpsService, OpsStatus (Keyword) on the namespace');
  }

  const sizing = workerSizing(env.OPS_WORKER_MEMORY_MB);
  if (sizing) {
    const { budgetMb, source, heapMb, ...slots } = sizing;
    logger.info({ budgetMb, source, ...slots, heapLimitMb: heapLimitMb() }, 'worker sized from its memory budget');
    // V8 takes its heap limit from the command line only; a larger one lets garbage pile up past the budget.
    if (heapLimitMb() > heapMb * 1.25) logger.warn({ heapLimitMb: heapLimitMb(), budgetMb }, `the V8 heap limit is above the memory budget's share: start node with --max-old-space-size=${heapMb}`);
  }
  // The worker polls on the clients' own connection: one per process.
  const connection = clients.temporalConnection;
  const ackSecret = ackSecretOf(env);
  const worker = await createOpsWorker({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.OPS_TASK_QUEUE,
    activities: createActivities({
      pool: clients.pool,
      s3: clients.s3,
      bucket: env.S3_BUCKET,
      policy,
      slack: clients.slack,
      slackChannel: env.SLACK_CHANNEL,
      temporalUiUrl: env.TEMPORAL_UI_URL,
      smtp: clients.smtp,
      smtpFrom: env.SMTP_FROM,
      pagerdutyEventsUrl: env.PAGERDUTY_EVENTS_URL,
      sentJournal: join(env.OPS_STATE_DIR, `pages-sent-${env.OPS_TASK_QUEUE}.jsonl`),
      // Routing keys and signing secrets are read when a page needs them, never stored or logged.
      secret: (name) => process.env[name],
      ackLinks: ackSecret ? { secret: ackSecret, baseUrl: env.OPS_PUBLIC_URL } : undefined,
      heartbeatUrl: env.OPS_HEARTBEAT_URL,
      databaseUrl: databaseUrlResolver(policy.databases, env.DATABASE_URL),
      temporal: clients.temporal,
      kube: () => clients.kube(),
      prometheusUrl: env.PROMETHEUS_URL,
      taskQueue: env.OPS_TASK_QUEUE,
      dataTaskQueue: env.OPS_DATA_TASK_QUEUE,
      ageIdentity: () => env.OPS_BACKUP_AGE_IDENTITY,
      walSpoolDir: join(env.OPS_STATE_DIR, 'wal'),
      restoreDir: join(env.OPS_STATE_DIR, 'restores'),
    }),
    workflowBundlePath: env.OPS_WORKFLOW_BUNDLE ?? (existsSync(PREBUILT_BUNDLE) ? PREBUILT_BUNDLE : undefined),
    identity: `ops-worker@${hostname()}:${process.pid}`,
    sizing,
  });

  const stop = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down: draining in-flight tasks');
    worker.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  logger.info(
    {
      temporal: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.OPS_TASK_QUEUE,
      metricsPort: env.OPS_WORKER_METRICS_PORT || undefined,
    },
    'worker running',
  );
  try {
    await worker.run();
  } finally {
    schema.stop();
    bucket.stop();
    await clients.close();
    logger.info('worker stopped');
  }
}

runEntrypoint('ops-worker', main);
