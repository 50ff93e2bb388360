import { hostname } from 'node:os';
import { join } from 'node:path';
import { createBackupActivities, type BackupDeps } from '../activities/backup.js';
import { createBaseBackupActivities } from '../activities/base-backup.js';
import { createDatabaseRestoreActivities } from '../activities/database-restore.js';
import { createPointInTimeRestoreActivities } from '../activities/point-in-time-restore.js';
import { createWalArchiveActivities } from '../activities/wal-archive.js';
import { createClients } from '../src/clients/index.js';
import { ConfigError, loadConfig } from '../src/config/index.js';
import { runEntrypoint } from '../src/config/entrypoint.js';
import { databaseUrlResolver } from '../src/config/policy-databases.js';
import { createLogger } from '../src/logging/logger.js';
import { installRuntime } from '../src/clients/temporal-runtime.js';
import { createOpsWorker } from './worker.js';

/**
 * A dedicated data worker: activities only, on OPS_DATA_TASK_QUEUE, for the
 * work that moves a database's bytes (pg_dump streamed to S3, the restore
 * that verifies it). Set the same OPS_DATA_TASK_QUEUE on the main worker and
 * backups send those two steps here, so they can run on a host near the
 * database with its own memory budget. It loads no workflow code and none of
 * the Kubernetes, Slack or SMTP clients.
 */
/** Dumps, base backups, WAL archiving, verifications and restores: what moves a database's bytes. */
function dataActivities(deps: BackupDeps & { walSpoolDir: string; restoreDir: string }) {
  return {
    ...createBackupActivities(deps),
    ...createDatabaseRestoreActivities(deps),
    ...createBaseBackupActivities(deps),
    ...createWalArchiveActivities(deps),
    ...createPointInTimeRestoreActivities(deps),
  };
}

async function main(): Promise<void> {
  const { env, policy } = loadConfig();
  if (!env.OPS_DATA_TASK_QUEUE) throw new ConfigError('OPS_DATA_TASK_QUEUE: set it (and the same on the main worker) to run a data worker');
  const logger = createLogger({ level: env.OPS_LOG_LEVEL, name: 'ops-data-worker' });
  installRuntime(logger, env.OPS_WORKER_METRICS_PORT);
  const clients = await createClients(env, 'ops-data-worker', { notifiers: false, kubernetes: false });
  // The worker polls on the clients' own connection: one per process.
  const connection = clients.temporalConnection;
  const worker = await createOpsWorker({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.OPS_DATA_TASK_QUEUE,
    activities: dataActivities({
      pool: clients.pool,
      s3: clients.s3,
      bucket: env.S3_BUCKET,
      databaseUrl: databaseUrlResolver(policy.databases, env.DATABASE_URL),
      temporal: clients.temporal,
      policy,
      ageIdentity: () => env.OPS_BACKUP_AGE_IDENTITY,
      walSpoolDir: join(env.OPS_STATE_DIR, 'wal'),
      restoreDir: join(env.OPS_STATE_DIR, 'restores'),
    }),
    workflowBundlePath: false,
    identity: `ops-data-worker@${hostname()}:${process.pid}`,
    // One dump or restore at a time keeps memory to one stream's buffers; each WAL archiver (light, but never done) has a slot of its own.
    maxConcurrentActivityTaskExecutions: 1 + (policy.backups.walArchive?.databases.length ?? 0),
  });
  const stop = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down: letting the running dump or restore finish');
    worker.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  logger.info({ taskQueue: env.OPS_DATA_TASK_QUEUE }, 'data worker polling');
  try {
    await worker.run();
  } finally {
    await clients.close();
  }
  logger.info('data worker stopped');
}

runEntrypoint('ops-data-worker', main);
