import { ApplicationFailure, defineQuery, proxyActivities, setHandler, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { BackupManifest, createBackupActivities, RetentionPolicy } from '../activities/backup.js';
import { backupObjectKey, backupWorkflowId } from '../src/domain/backup.js';
import { ErrorType } from '../src/domain/errors.js';
import { OpsKind, OpsService, OpsStatus } from '../src/domain/search-attributes.js';
import { longJob } from './activity-profiles.js';

/**
 * databaseBackupWorkflow: pg_dump streamed to S3 with a manifest, then (by
 * default) verified by a restore into a scratch database. One per database
 * at a time: its ID is `backup-<database>`, and a start under another ID is
 * refused, so no second backup of the same database can run, however started.
 *   temporal workflow start --type databaseBackupWorkflow --task-queue ops \
 *     --workflow-id backup-default --input '{}'
 */
export interface DatabaseBackupInput {
  /** A named connection; "default" is DATABASE_URL. */
  database?: string;
  /** Key prefix in the bucket; default "backups". */
  prefix?: string;
  /** Restore the dump into a scratch database and compare row counts; default true. */
  verify?: boolean;
  /** Applied only after a successful backup; the newest verified backup is always kept. */
  retention?: RetentionPolicy;
  requestedBy?: string;
}

export interface BackupProgress {
  database: string;
  phase: 'dumping' | 'verifying' | 'retention' | 'succeeded';
  key: string;
  startedAt: string;
  bytes?: number;
  sha256?: string;
  verification?: { tables: number; rows: number };
}

export interface DatabaseBackupResult {
  manifest: BackupManifest;
  verification?: { tables: number; rows: number };
  retention?: { kept: number; deleted: string[] };
}

export const progressQuery = defineQuery<BackupProgress>('progress');

const backup = proxyActivities<ReturnType<typeof createBackupActivities>>(longJob);

export async function databaseBackupWorkflow(input: DatabaseBackupInput = {}): Promise<DatabaseBackupResult> {
  const database = input.database ?? 'default';
  const { workflowId, runId } = workflowInfo();
  if (workflowId !== backupWorkflowId(database)) {
    throw ApplicationFailure.nonRetryable(
      `start backups of "${database}" with workflow ID ${backupWorkflowId(database)} (not ${workflowId}), so that two never run at once`,
      ErrorType.InvalidInput,
    );
  }
  const requestedBy = input.requestedBy?.trim() || 'system';
  const now = new Date();
  const progress: BackupProgress = {
    database,
    phase: 'dumping',
    key: backupObjectKey(input.prefix ?? 'backups', database, now, runId),
    startedAt: now.toISOString(),
  };
  setHandler(progressQuery, () => progress);
  upsertSearchAttributes([
    { key: OpsKind, value: 'backup' },
    { key: OpsService, value: database },
    { key: OpsStatus, value: 'running' },
  ]);
  upsertMemo({ summary: `Backup of ${database} to ${progress.key}` });

  const manifest = await backup.dumpToS3({ database, key: progress.key, requestedBy });
  progress.bytes = manifest.bytes;
  progress.sha256 = manifest.sha256;
  let verification: DatabaseBackupResult['verification'];
  if (input.verify !== false) {
    progress.phase = 'verifying';
    verification = await backup.verifyBackup({ manifest, requestedBy });
    progress.verification = verification;
  }
  let retention: DatabaseBackupResult['retention'];
  if (input.retention) {
    progress.phase = 'retention';
    retention = await backup.applyRetention({ database, retention: input.retention, requestedBy });
  }
  progress.phase = 'succeeded';
  upsertSearchAttributes([{ key: OpsStatus, value: 'succeeded' }]);
  return { manifest, ...(verification ? { verification } : {}), ...(retention ? { retention } : {}) };
}

/**
 * databaseRestoreDrillWorkflow: restores the newest backup of a database into
 * a scratch database and checks every row, so an unrestorable backup is found
 * before it is needed. Run it on a schedule.
 */
export async function databaseRestoreDrillWorkflow(input: { database?: string; requestedBy?: string } = {}) {
  const database = input.database ?? 'default';
  upsertSearchAttributes([
    { key: OpsKind, value: 'restore-drill' },
    { key: OpsService, value: database },
  ]);
  const manifest = await backup.latestManifest({ database });
  const verification = await backup.verifyBackup({ manifest, requestedBy: input.requestedBy?.trim() || 'system' });
  return { key: manifest.key, ...verification };
}
