import type { Client } from '@temporalio/client';
import type proto from '@temporalio/proto';
import { millis } from './proto-time.js';

/**
 * Where a backup's wall time beyond its dump goes, read from the workflow's
 * own history (the server's event times):
 *   before: from the workflow's start to the dump activity starting on a worker
 *     (the defaults activity, the workflow tasks, the data worker's poll);
 *   dump: the dumpToS3 activity, which holds pg_dump (snapshot, size queries,
 *     the stream, the last part, the manifest, the backups row);
 *   after: from the dump's completion to the workflow's (retention, the
 *     failed-backup incident cleared, the workflow tasks).
 */
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

interface BackupPhases {
  before: number;
  dump: number;
  after: number;
}

function backupPhases(events: HistoryEvent[]): BackupPhases {
  const started = events.find((event) => event.workflowExecutionStartedEventAttributes);
  const scheduled = events.find((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'dumpToS3');
  const scheduledId = Number(scheduled?.eventId ?? -1);
  const dumpStarted = events.find((event) => Number(event.activityTaskStartedEventAttributes?.scheduledEventId ?? -2) === scheduledId);
  const dumpDone = events.find((event) => Number(event.activityTaskCompletedEventAttributes?.scheduledEventId ?? -2) === scheduledId);
  const completed = events.find((event) => event.workflowExecutionCompletedEventAttributes);
  if (!started || !dumpStarted || !dumpDone || !completed) throw new Error('the backup history lacks its start, its dump or its completion');
  return {
    before: (millis(dumpStarted.eventTime) - millis(started.eventTime)) / 1000,
    dump: (millis(dumpDone.eventTime) - millis(dumpStarted.eventTime)) / 1000,
    after: (millis(completed.eventTime) - millis(dumpDone.eventTime)) / 1000,
  };
}

/** The phases of the newest run of `workflowId`, as one line. */
export async function describeBackupPhases(client: Client, workflowId: string): Promise<string> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const phases = backupPhases(history.events ?? []);
  return `before the dump ${phases.before.toFixed(2)} s, dump activity ${phases.dump.toFixed(2)} s, after it ${phases.after.toFixed(2)} s`;
}
