import {
  ApplicationFailure,
  executeChild,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createBackupActivities } from '../activities/backup.js';
import { backupFailedDedupKey, backupObjectKey, bucketNameProblem, restoreDrillFailedDedupKey, type BackupManifest } from '../src/domain/backup.js';
import { AGE_SUFFIX } from '../src/domain/backup-encryption.js';
import { backupWorkflowId } from '../src/domain/workflow-ids.js';
import type { RetentionPolicy } from '../src/domain/backup-retention.js';
import { ErrorType } from '../src/domain/errors.js';
import { failureMessage, isAlreadyStarted } from '../src/domain/failures.js';
import { OpsKind, OpsService, OpsStatus } from '../src/domain/search-attributes.js';
import { longJob, quickApiCall } from './activity-profiles.js';
import { ownIncident } from './own-incident.js';
import { dumpProgressSignal, progressQuery, type BackupProgress } from './database-backup-signals.js';

export { progressQuery, type BackupProgress } from './database-backup-signals.js';

/**
 * databaseBackupWorkflow: pg_dump streamed to S3 with a manifest, then (by
 * default) verified by a restore into a scratch database, then retention.
 * One per database at a time: the backup itself always runs under the ID
 * `backup-<database>`. A start under another ID (a schedule appends its
 * times to IDs) runs it as a child under that ID, so a second backup of the
 * same database is refused by Temporal however it was started. A backup that fails after its last retry opens the
 * incident `backup-failed-<database>`; the next good backup resolves it.
 *   temporal workflow start --type databaseBackupWorkflow --task-queue ops \
 *     --workflow-id backup-default --input '{}'
 */
export interface DatabaseBackupInput {
  /** A named connection from the policy; "default" is DATABASE_URL. */
  database?: string;
  /** The bucket the dump goes to; default from the policy (`backups.bucket`), else S3_BUCKET. */
  bucket?: string;
  /** Key prefix in the bucket; default from the policy ("backups"). */
  prefix?: string;
  /** Restore the dump into a scratch database and compare row counts; default from the policy (on). */
  verify?: boolean;
  /** Applied only after a successful backup; the newest verified backup is always kept. Default from the policy. */
  retention?: RetentionPolicy;
  /** Attempts of the dump before the backup fails and raises an incident; default 5. */
  attempts?: number;
  requestedBy?: string;
}

export interface DatabaseBackupResult {
  manifest: BackupManifest;
  verification?: { tables: number; rows: number };
  retention?: { kept: number; deleted: string[] };
}

const backup = proxyActivities<ReturnType<typeof createBackupActivities>>(longJob);
const quick = proxyActivities<ReturnType<typeof createBackupActivities>>(quickApiCall);

export async function databaseBackupWorkflow(input: DatabaseBackupInput = {}): Promise<DatabaseBackupResult> {
  const database = input.database ?? 'default';
  const { workflowId, runId } = workflowInfo();
  if (workflowId !== backupWorkflowId(database)) return runAsTheDatabasesBackup(database, input);
  const requestedBy = input.requestedBy?.trim() || 'system';
  const bucketProblem = input.bucket === undefined ? undefined : bucketNameProblem(input.bucket);
  if (bucketProblem) throw ApplicationFailure.nonRetryable(bucketProblem, ErrorType.InvalidInput);
  // Runs started before policy defaults and incidents existed keep their old steps.
  const withPolicy = patched('backup-policy-defaults');
  const defaults = withPolicy ? await quick.backupDefaults({ database }) : { bucket: undefined, prefix: 'backups', verify: true, retention: undefined };
  // Defaults recorded before buckets were chosen per backup name none: the activity then uses S3_BUCKET.
  const bucket = input.bucket ?? defaults.bucket;
  // Encrypted to the policy's recipients when it names any (results recorded before encryption have none).
  const encryption = 'encryption' in defaults ? defaults.encryption : undefined;
  const now = new Date();
  const progress: BackupProgress = {
    database,
    phase: 'dumping',
    bucket,
    key: backupObjectKey(input.prefix ?? defaults.prefix, database, now, runId) + (encryption ? AGE_SUFFIX : ''),
    startedAt: now.toISOString(),
  };
  setHandler(progressQuery, () => progress);
  setHandler(dumpProgressSignal, (report) => {
    if (progress.phase === 'dumping') Object.assign(progress, report);
  });
  upsertSearchAttributes([
    { key: OpsKind, value: 'backup' },
    { key: OpsService, value: database },
    { key: OpsStatus, value: 'running' },
  ]);
  upsertMemo({ summary: `Backup of ${database} to ${progress.key}` });

  const failed = ownIncident(databaseAlert(backupFailedDedupKey(database), 'DatabaseBackupFailed', database), quickApiCall);
  let manifest: BackupManifest;
  let verification: DatabaseBackupResult['verification'];
  try {
    // Dumps and restores move the data: a dedicated data worker may serve them on a queue of its own.
    const onDataWorker = 'dataTaskQueue' in defaults && defaults.dataTaskQueue ? { taskQueue: defaults.dataTaskQueue } : {};
    const dumping = proxyActivities<ReturnType<typeof createBackupActivities>>({
      ...longJob,
      ...onDataWorker,
      retry: { ...longJob.retry, maximumAttempts: Math.max(1, Math.floor(input.attempts ?? 5)) },
    });
    manifest = await dumping.dumpToS3({ database, bucket, key: progress.key, requestedBy, ...(encryption ? { encryption } : {}) });
    progress.bytes = manifest.bytes;
    progress.sha256 = manifest.sha256;
    if (input.verify ?? defaults.verify) {
      progress.phase = 'verifying';
      verification = await proxyActivities<ReturnType<typeof createBackupActivities>>({ ...longJob, ...onDataWorker }).verifyBackup({ manifest, requestedBy });
      progress.verification = verification;
    }
  } catch (error) {
    const cause = failureMessage(error);
    progress.phase = 'failed';
    progress.error = cause;
    upsertSearchAttributes([{ key: OpsStatus, value: 'failed' }]);
    if (!withPolicy) throw error;
    await failed.raise({ summary: `Backup of ${database} failed`, description: cause, workflow: `${workflowId}/${runId}` });
    throw ApplicationFailure.create({ message: `backup of "${database}" failed: ${cause}`, type: ErrorType.BackupFailed, nonRetryable: true, cause: error as Error });
  }

  let retention: DatabaseBackupResult['retention'];
  const policy = input.retention ?? defaults.retention;
  if (policy) {
    progress.phase = 'retention';
    retention = await backup.applyRetention({ database, retention: policy, requestedBy });
  }
  if (withPolicy) await failed.clear(`Backup of ${database} succeeded`);
  progress.phase = 'succeeded';
  upsertSearchAttributes([{ key: OpsStatus, value: 'succeeded' }]);
  return { manifest, ...(verification ? { verification } : {}), ...(retention ? { retention } : {}) };
}

/** Runs this backup under the database's one backup ID; refused while another backup of it runs. */
async function runAsTheDatabasesBackup(database: string, input: DatabaseBackupInput): Promise<DatabaseBackupResult> {
  const canonical = backupWorkflowId(database);
  upsertSearchAttributes([
    { key: OpsKind, value: 'backup' },
    { key: OpsService, value: database },
  ]);
  upsertMemo({ summary: `Backup of ${database}, run as ${canonical}` });
  try {
    return await executeChild(databaseBackupWorkflow, {
      workflowId: canonical,
      args: [input],
      parentClosePolicy: ParentClosePolicy.TERMINATE,
    });
  } catch (error) {
    if (isAlreadyStarted(error)) {
      throw ApplicationFailure.nonRetryable(`a backup of "${database}" is already running (${canonical}); this one did not start`, ErrorType.Conflict);
    }
    throw error;
  }
}

/**
 * databaseRestoreDrillWorkflow: restores the newest backup of a database into
 * a scratch database and checks every row, so an unrestorable backup is found
 * before it is needed. Run it on a schedule. A drill that fails opens the
 * incident `restore-drill-failed-<database>`; the next good drill resolves it.
 */
export async function databaseRestoreDrillWorkflow(input: { database?: string; requestedBy?: string } = {}) {
  const database = input.database ?? 'default';
  const { workflowId, runId } = workflowInfo();
  upsertSearchAttributes([
    { key: OpsKind, value: 'restore-drill' },
    { key: OpsService, value: database },
  ]);
  // Drills recorded before drills raised incidents keep their old steps.
  const withIncidents = patched('restore-drill-incidents');
  const failed = ownIncident(databaseAlert(restoreDrillFailedDedupKey(database), 'DatabaseRestoreDrillFailed', database), quickApiCall);
  let drill: { key: string; tables: number; rows: number };
  try {
    const manifest = await backup.latestManifest({ database });
    const verification = await backup.verifyBackup({ manifest, requestedBy: input.requestedBy?.trim() || 'system' });
    drill = { key: manifest.key, ...verification };
  } catch (error) {
    if (!withIncidents) throw error;
    const cause = failureMessage(error);
    await failed.raise({ summary: `Restore drill of ${database} failed`, description: cause, workflow: `${workflowId}/${runId}` });
    throw ApplicationFailure.create({ message: `restore drill of "${database}" failed: ${cause}`, type: ErrorType.RestoreDrillFailed, nonRetryable: true, cause: error as Error });
  }
  // Outside the try: a drill that passed is not reported failed because resolving its incident did not get through.
  if (withIncidents) await failed.clear(`Restore drill of ${database} succeeded`);
  return drill;
}

/** The alert our own workflows raise about a database, in the incident its dedup key names. */
function databaseAlert(dedupKey: string, alertname: string, database: string) {
  return { dedupKey, labels: { alertname, service: database, database, severity: 'high' } };
}
