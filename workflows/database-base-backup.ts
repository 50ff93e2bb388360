import { ApplicationFailure, proxyActivities, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { createBackupActivities } from '../activities/backup.js';
import type { createBaseBackupActivities } from '../activities/base-backup.js';
import type { RetentionPolicy } from '../src/domain/backup-retention.js';
import { ErrorType } from '../src/domain/errors.js';
import { failureMessage } from '../src/domain/failures.js';
import { baseBackupObjectKey, type BaseBackupManifest } from '../src/domain/pitr.js';
import { OpsKind, OpsService, OpsStatus } from '../src/domain/search-attributes.js';
import { longJob, quickApiCall } from './activity-profiles.js';
import { ownIncident } from './own-incident.js';

type Activities = ReturnType<typeof createBackupActivities> & ReturnType<typeof createBaseBackupActivities>;
const quick = proxyActivities<Activities>(quickApiCall);

export interface DatabaseBaseBackupInput {
  /** A named connection from the policy; "default" is DATABASE_URL. Its role needs REPLICATION. */
  database?: string;
  /** Default from the policy (`backups.retention`); applied to base backups and the WAL they need. */
  retention?: RetentionPolicy;
  requestedBy?: string;
}

export interface DatabaseBaseBackupResult {
  manifest: BaseBackupManifest;
  retention: { kept: number; deleted: string[]; walDeleted: number };
}

/**
 * databaseBaseBackupWorkflow (`base-backup-<database>`): a physical base
 * backup for point-in-time recovery, pg_basebackup streamed to S3 (encrypted
 * when the policy says so), then retention over base backups and the WAL
 * archive. A failure opens the incident `base-backup-failed-<database>`; the
 * next good base backup resolves it.
 *   temporal workflow start --type databaseBaseBackupWorkflow --task-queue ops \
 *     --workflow-id base-backup-default --input '{}'
 */
export async function databaseBaseBackupWorkflow(input: DatabaseBaseBackupInput = {}): Promise<DatabaseBaseBackupResult> {
  const database = input.database ?? 'default';
  const requestedBy = input.requestedBy?.trim() || 'system';
  const { workflowId, runId } = workflowInfo();
  upsertSearchAttributes([
    { key: OpsKind, value: 'base-backup' },
    { key: OpsService, value: database },
    { key: OpsStatus, value: 'running' },
  ]);
  const failed = ownIncident({ dedupKey: `base-backup-failed-${database}`, labels: { alertname: 'DatabaseBaseBackupFailed', service: database, database, severity: 'high' } }, quickApiCall);
  const defaults = await quick.backupDefaults({ database });
  const key = baseBackupObjectKey(defaults.prefix, database, new Date(), runId, defaults.encryption !== undefined);
  upsertMemo({ summary: `Base backup of ${database} to ${key}` });
  let manifest: BaseBackupManifest;
  try {
    const data = proxyActivities<Activities>({ ...longJob, ...(defaults.dataTaskQueue ? { taskQueue: defaults.dataTaskQueue } : {}) });
    manifest = await data.baseBackupToS3({ database, bucket: defaults.bucket, key, requestedBy, ...(defaults.encryption ? { encryption: defaults.encryption } : {}) });
  } catch (error) {
    const cause = failureMessage(error);
    upsertSearchAttributes([{ key: OpsStatus, value: 'failed' }]);
    await failed.raise({ summary: `Base backup of ${database} failed`, description: cause, workflow: `${workflowId}/${runId}` });
    throw ApplicationFailure.create({ message: `base backup of "${database}" failed: ${cause}`, type: ErrorType.BackupFailed, nonRetryable: true, cause: error as Error });
  }
  const retention = await quick.applyBaseBackupRetention({ database, prefix: defaults.prefix, retention: input.retention ?? defaults.retention, requestedBy });
  await failed.clear(`Base backup of ${database} succeeded`);
  upsertSearchAttributes([{ key: OpsStatus, value: 'succeeded' }]);
  return { manifest, retention };
}
