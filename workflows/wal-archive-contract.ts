import { defineQuery } from '@temporalio/workflow';

/**
 * walArchiveWorkflow's contract, for opsctl and the temporal CLI:
 *   temporal workflow start --type walArchiveWorkflow --task-queue ops \
 *     --workflow-id wal-archive-orders --input '{"database":"orders"}'
 */
export const WAL_ARCHIVE_WORKFLOW = 'walArchiveWorkflow';

export interface WalArchiveInput {
  database?: string;
  /** How long one archiving activity runs before the next starts (default 1h); the workflow continues as new after `runs` of them. */
  runForMs?: number;
  runs?: number;
}

export interface WalArchiveProgress {
  database: string;
  state: 'starting' | 'archiving' | 'failing';
  /** Segments archived by this run of the workflow, and the newest. */
  archived: number;
  lastSegment?: string;
  error?: string;
}

export const walArchiveProgressQuery = defineQuery<WalArchiveProgress>('progress');
