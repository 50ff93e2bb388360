import { defineQuery, defineUpdate } from '@temporalio/workflow';

/**
 * databaseRestoreWorkflow's contract: input, progress and messages, apart
 * from the workflow's code, for opsctl and the temporal CLI.
 *   temporal workflow start --type databaseRestoreWorkflow --task-queue ops \
 *     --workflow-id restore-orders_copy --input '{"database":"orders","into":"orders_copy"}'
 */

export const DATABASE_RESTORE_WORKFLOW = 'databaseRestoreWorkflow';

export interface DatabaseRestoreInput {
  /** The database whose backup is restored: a named connection from the policy; "default" is DATABASE_URL. */
  database?: string;
  /** The backup's object key (`opsctl backup list` shows them); default the newest backup of `database`. */
  backup?: string;
  /** The database to restore a logical backup into, on the server of `server`: a new one, or with `replace` an existing one. */
  into?: string;
  /**
   * Point-in-time recovery instead (a base backup plus WAL, into a new data directory on the
   * worker's host, started on a free port): to this instant, to this LSN, or with `latest` to the
   * end of the archive. The source cluster is never touched.
   */
  targetTime?: string;
  targetLsn?: string;
  latest?: boolean;
  /** With a point in time: end recovery and accept writes (default), or with false stop there, read-only, for a person to inspect. */
  promote?: boolean;
  /** With a point in time: where the data directory goes (a new folder); default under OPS_STATE_DIR/restores. */
  dataDirectory?: string;
  /** Restore over an existing `into` once a person allowed to approve has approved; it is renamed aside, never dropped. */
  replace?: boolean;
  /** The named connection whose server receives the database; default `database`'s own. */
  server?: string;
  /** How long a replace waits for approval: "30m", "2h"; default the policy's rollout approval timeout. */
  approvalTimeout?: string;
  requestedBy?: string;
}

export type RestorePhase = 'planning' | 'awaiting-approval' | 'restoring' | 'swapping' | 'succeeded' | 'refused' | 'failed';

export interface RestoreProgress {
  database: string;
  /** The target database, or for a point-in-time restore the point ("2026-12-04T10:00:00Z", "LSN 0/3000028", "latest"). */
  into: string;
  phase: RestorePhase;
  /** The backup being restored, once chosen. */
  backup?: string;
  /** Where the database that was replaced now lives. */
  aside?: string;
  approval?: { decision: 'approved' | 'rejected'; by: string; at: string; reason?: string };
  /** The timeline: every step with its time, also written to the audit log. */
  steps: { at: string; step: string; detail: string }[];
  error?: string;
}

export interface DatabaseRestoreResult {
  database: string;
  into: string;
  backup: string;
  tables: number;
  rows: number;
  /** The database that stood at `into` before, renamed aside. */
  aside?: string;
}

/** What a point-in-time restore restored to, and where the restored server runs. */
export interface PointInTimeRestoreOutcome {
  database: string;
  baseBackup: string;
  dataDirectory: string;
  port: number;
  replayedTo: string;
  lastTransactionAt: string | null;
  promoted: boolean;
}

export const approveRestoreUpdate = defineUpdate<RestoreProgress, [{ by: string }]>('approve');
export const rejectRestoreUpdate = defineUpdate<RestoreProgress, [{ by: string; reason?: string }]>('reject');
export const restoreProgressQuery = defineQuery<RestoreProgress>('progress');
