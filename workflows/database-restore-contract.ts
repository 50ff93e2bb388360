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
  /** The database to restore into, on the server of `server`: a new one, or with `replace` an existing one. */
  into: string;
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

export const approveRestoreUpdate = defineUpdate<RestoreProgress, [{ by: string }]>('approve');
export const rejectRestoreUpdate = defineUpdate<RestoreProgress, [{ by: string; reason?: string }]>('reject');
export const restoreProgressQuery = defineQuery<RestoreProgress>('progress');
