import { ApplicationFailure, condition, proxyActivities, setHandler, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { createAuditActivities } from '../activities/audit.js';
import type { createBackupActivities } from '../activities/backup.js';
import type { createDatabaseRestoreActivities } from '../activities/database-restore.js';
import type { createPointInTimeRestoreActivities } from '../activities/point-in-time-restore.js';
import type { createRolloutSettingsActivities } from '../activities/rollout-settings.js';
import { approvalRefusal, type ApprovalRoster } from '../src/domain/approval.js';
import { parseDuration } from '../src/domain/durations.js';
import { ErrorType } from '../src/domain/errors.js';
import { failureMessage, innermostFailureType } from '../src/domain/failures.js';
import { asideDatabaseName, restoreFailedDedupKey, restoreTargetProblem, stagingDatabaseName } from '../src/domain/restore.js';
import { OpsKind, OpsService, OpsStatus } from '../src/domain/search-attributes.js';
import { restoreWorkflowId } from '../src/domain/workflow-ids.js';
import { longJob, quickApiCall } from './activity-profiles.js';
import {
  approveRestoreUpdate,
  rejectRestoreUpdate,
  restoreProgressQuery,
  type DatabaseRestoreInput,
  type DatabaseRestoreResult,
  type PointInTimeRestoreOutcome,
  type RestoreProgress,
} from './database-restore-contract.js';
import { ownIncident } from './own-incident.js';

type Activities = ReturnType<typeof createDatabaseRestoreActivities> & ReturnType<typeof createPointInTimeRestoreActivities> & ReturnType<typeof createBackupActivities> & ReturnType<typeof createAuditActivities> & ReturnType<typeof createRolloutSettingsActivities>;
const quick = proxyActivities<Activities>(quickApiCall);

/**
 * databaseRestoreWorkflow: restores a logical backup into a target database.
 * A new database is restored at once; an existing one only with `replace`,
 * after a person allowed to approve rollouts (rollouts.approval.approvers,
 * never the requester) approves, and it is renamed aside, never dropped. The
 * backup goes into a staging database first and takes the target's name only
 * once every table's row count matches the backup, so the target is never
 * half restored. Every step is in the `progress` query's timeline and the
 * audit log; a restore that fails opens the incident `restore-failed-<into>`,
 * which the next good restore into it resolves. Runs as `restore-<into>`:
 * one restore into a database at a time.
 *
 * With `targetTime`, `targetLsn` or `latest` it is a point-in-time recovery
 * instead: the newest base backup before the target plus archived WAL,
 * replayed into a new data directory on the worker's host and left running on
 * a free port, promoted or (`promote: false`) paused read-only at the target.
 */
export async function databaseRestoreWorkflow(input: DatabaseRestoreInput): Promise<DatabaseRestoreResult | PointInTimeRestoreOutcome> {
  const database = input.database ?? 'default';
  const pointInTime = input.targetTime !== undefined || input.targetLsn !== undefined || input.latest === true;
  const into = pointInTime ? (input.targetTime ?? (input.targetLsn !== undefined ? `LSN ${input.targetLsn}` : 'latest')) : (input.into ?? '');
  const server = input.server ?? database;
  const requestedBy = input.requestedBy?.trim() || 'system';
  const { workflowId, runId } = workflowInfo();
  const progress: RestoreProgress = { database, into, phase: 'planning', steps: [] };

  let auditing: Promise<unknown> = Promise.resolve();
  const step = (what: string, detail: string, actor = requestedBy) => {
    const index = progress.steps.push({ at: new Date().toISOString(), step: what, detail });
    auditing = auditing.then(() =>
      quick.recordAudit({
        actor,
        action: `database.restore.${what}`,
        target: `postgres/${server}/${into}`,
        outcome: what === 'failed' || what === 'refused' ? 'failed' : what === 'approval-refused' ? 'refused' : 'succeeded',
        details: { detail, database, ...(progress.backup ? { backup: progress.backup } : {}) },
        idempotencyKey: `${workflowId}:${runId}:step-${index}`,
      }),
    );
  };
  const setPhase = (phase: RestoreProgress['phase']) => {
    progress.phase = phase;
    upsertSearchAttributes([{ key: OpsStatus, value: phase }]);
  };

  let roster: ApprovalRoster | undefined;
  const awaiting = (by: string) => {
    if (!by?.trim()) throw new Error('an actor ("by") is required');
    if (progress.phase !== 'awaiting-approval') throw new Error(`the restore is ${progress.phase}, not awaiting approval`);
  };
  setHandler(restoreProgressQuery, () => progress);
  setHandler(
    approveRestoreUpdate,
    ({ by }) => {
      // Decided in the handler: a refused approval is in the history, the timeline and the audit log.
      const refusal = approvalRefusal(roster, by.trim(), requestedBy, Date.now(), 'restore');
      if (refusal) {
        step('approval-refused', refusal, by.trim());
        throw ApplicationFailure.nonRetryable(refusal, ErrorType.ApprovalRefused);
      }
      progress.approval = { decision: 'approved', by: by.trim(), at: new Date().toISOString() };
      step('approved', `approved by ${by.trim()}`, by.trim());
      return progress;
    },
    { validator: ({ by }) => awaiting(by) },
  );
  setHandler(
    rejectRestoreUpdate,
    ({ by, reason }) => {
      progress.approval = { decision: 'rejected', by: by.trim(), at: new Date().toISOString(), ...(reason ? { reason } : {}) };
      step('rejected', `rejected by ${by.trim()}${reason ? `: ${reason}` : ''}`, by.trim());
      return progress;
    },
    { validator: ({ by }) => awaiting(by) },
  );

  upsertSearchAttributes([
    { key: OpsKind, value: 'restore' },
    { key: OpsService, value: database },
    { key: OpsStatus, value: 'planning' },
  ]);
  upsertMemo({ summary: `Restore of ${database} into ${into}${input.replace ? ' (replace)' : ''}` });

  const incidentTarget = pointInTime ? `${database}-pitr` : into;
  const failed = ownIncident(
    { dedupKey: restoreFailedDedupKey(incidentTarget), labels: { alertname: 'DatabaseRestoreFailed', service: database, database, target: incidentTarget, severity: 'high' } },
    quickApiCall,
  );
  /** Ends the restore before it changed anything: refused, rejected, or never approved. */
  const refuse = async (reason: string, type: string): Promise<never> => {
    setPhase('refused');
    progress.error = reason;
    step('refused', reason);
    await auditing;
    throw ApplicationFailure.nonRetryable(reason, type);
  };

  /** Ends the restore as failed, after it began to change things: an incident, and the failure. */
  const fail = async (error: unknown): Promise<never> => {
    const cause = failureMessage(error);
    setPhase('failed');
    progress.error = cause;
    step('failed', cause);
    await auditing;
    await failed.raise({ summary: `Restore of ${database} into ${into} failed`, description: cause, workflow: `${workflowId}/${runId}` });
    throw ApplicationFailure.create({ message: `restore of "${database}" into "${into}" failed: ${cause}`, type: ErrorType.RestoreFailed, nonRetryable: true, cause: error as Error });
  };

  if (pointInTime) {
    if (input.into !== undefined) await refuse('give into (a logical restore) or a point in time (targetTime, targetLsn, latest), not both', ErrorType.InvalidInput);
    if ([input.targetTime, input.targetLsn, input.latest || undefined].filter((value) => value !== undefined).length > 1) await refuse('give one of targetTime, targetLsn and latest', ErrorType.InvalidInput);
    if (input.targetTime !== undefined && (!/[zZ]|[+-]\d\d:?\d\d$/.test(input.targetTime) || Number.isNaN(Date.parse(input.targetTime)))) {
      await refuse(`targetTime "${input.targetTime}" is not an instant: expected ISO 8601 with a zone, e.g. 2026-12-04T10:15:00Z`, ErrorType.InvalidInput);
    }
    if (input.targetLsn !== undefined && !/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(input.targetLsn)) await refuse(`targetLsn "${input.targetLsn}" is not an LSN: expected hex/hex, e.g. 0/3000028`, ErrorType.InvalidInput);
    const promote = input.promote ?? true;
    let outcome: PointInTimeRestoreOutcome;
    try {
      const { dataTaskQueue, prefix } = await quick.backupDefaults({ database });
      const data = proxyActivities<Activities>({ ...longJob, ...(dataTaskQueue ? { taskQueue: dataTaskQueue } : {}) });
      setPhase('restoring');
      step('restoring', `recovering ${database} to ${into} into a new data directory, then ${promote ? 'promoting it' : 'pausing there, read-only'}`);
      outcome = await data.restorePointInTime({
        database,
        prefix,
        promote,
        ...(input.targetTime !== undefined ? { targetTime: input.targetTime } : {}),
        ...(input.targetLsn !== undefined ? { targetLsn: input.targetLsn } : {}),
        ...(input.dataDirectory !== undefined ? { dataDirectory: input.dataDirectory } : {}),
      });
    } catch (error) {
      if (innermostFailureType(error) === ErrorType.NotFound) return refuse(failureMessage(error), ErrorType.NotFound);
      return fail(error);
    }
    progress.backup = outcome.baseBackup;
    step(
      'recovered',
      `${outcome.promoted ? 'promoted' : 'paused read-only'} at ${outcome.replayedTo}${outcome.lastTransactionAt ? ` (last transaction ${outcome.lastTransactionAt})` : ''} from ${outcome.baseBackup}; running on 127.0.0.1:${outcome.port}, data directory ${outcome.dataDirectory}`,
    );
    setPhase('succeeded');
    await auditing;
    await failed.clear(`Restore of ${database} to ${into} succeeded`);
    return outcome;
  }
  if (input.into === undefined) await refuse('give into (the database to restore into) or a point in time (targetTime, targetLsn, latest)', ErrorType.InvalidInput);

  const problem = restoreTargetProblem(into);
  if (problem) await refuse(problem, ErrorType.InvalidInput);
  if (workflowId !== restoreWorkflowId(into)) await refuse(`a restore into "${into}" runs as ${restoreWorkflowId(into)}, so two never run at once; start it under that ID`, ErrorType.InvalidInput);
  const approvalTimeoutMs = input.approvalTimeout === undefined ? undefined : parseDuration(input.approvalTimeout);
  if (input.approvalTimeout !== undefined && approvalTimeoutMs === undefined) await refuse(`approvalTimeout "${input.approvalTimeout}" is not a duration: expected for example 30m or 2h`, ErrorType.InvalidInput);

  let plan: Awaited<ReturnType<Activities['restorePlan']>>;
  try {
    plan = await quick.restorePlan({ database, into, ...(input.backup ? { backup: input.backup } : {}), ...(input.server ? { server: input.server } : {}) });
  } catch (error) {
    // Nothing to restore, or nowhere to restore it: refused before anything changed.
    return refuse(failureMessage(error), innermostFailureType(error) ?? ErrorType.InvalidInput);
  }
  const { manifest, targetExists } = plan;
  progress.backup = manifest.key;
  step('planned', `backup ${manifest.key} of ${database} (taken ${manifest.finishedAt}${manifest.encryption ? ', encrypted' : ''}) into ${targetExists ? 'the existing' : 'a new'} database ${into}`);

  let aside: string | undefined;
  if (targetExists) {
    if (!input.replace) await refuse(`database "${into}" exists: restore into a new name, or replace it (--replace), which needs an approval and keeps it renamed aside`, ErrorType.Conflict);
    roster = await quick.approvalRoster();
    const settings = await quick.rolloutSettings();
    const timeoutMs = approvalTimeoutMs ?? settings.approvalTimeoutMs;
    const who = [...roster.people, ...roster.schedules.map((schedule) => `whoever is on call for ${schedule.name}`)];
    setPhase('awaiting-approval');
    step('awaiting-approval', `replacing ${into} waits up to ${Math.round(timeoutMs / 1000)}s for approve or reject by ${who.length > 0 ? who.join(', ') : `anyone but ${requestedBy}`}`);
    if (!(await condition(() => progress.approval !== undefined, timeoutMs))) await refuse(`no approval within ${Math.round(timeoutMs / 1000)}s; ${into} was not touched`, ErrorType.ApprovalTimedOut);
    if (progress.approval!.decision === 'rejected') {
      await refuse(`rejected by ${progress.approval!.by}${progress.approval!.reason ? `: ${progress.approval!.reason}` : ''}; ${into} was not touched`, ErrorType.Rejected);
    }
    aside = asideDatabaseName(into, new Date());
  }

  const staging = stagingDatabaseName(runId);
  let restored: { tables: number; rows: number };
  try {
    // Restores move the data: a dedicated data worker serves them when one is configured.
    const { dataTaskQueue } = await quick.backupDefaults({ database });
    const data = proxyActivities<Activities>({ ...longJob, ...(dataTaskQueue ? { taskQueue: dataTaskQueue } : {}) });
    setPhase('restoring');
    step('restoring', `restoring ${manifest.key} into ${staging}`);
    restored = await data.restoreIntoStaging({ manifest, server, staging });
    step('restored', `${restored.tables} tables, ${restored.rows} rows, every count as in the backup`);
    setPhase('swapping');
    await quick.putRestoredInPlace({ server, staging, into, ...(aside ? { aside } : {}) });
    if (aside) progress.aside = aside;
    step('in-place', aside ? `${into} is the restored database; the one it replaced is ${aside}` : `${into} is the restored database`);
  } catch (error) {
    return fail(error);
  }
  setPhase('succeeded');
  await auditing;
  await failed.clear(`Restore of ${database} into ${into} succeeded`);
  return { database, into, backup: manifest.key, ...restored, ...(aside ? { aside } : {}) };
}
