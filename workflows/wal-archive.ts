import { continueAsNew, proxyActivities, setHandler, sleep, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { createWalArchiveActivities } from '../activities/wal-archive.js';
import { failureMessage, thrownFailure } from '../src/domain/failures.js';
import { OpsKind, OpsService, OpsStatus } from '../src/domain/search-attributes.js';
import { quickApiCall } from './activity-profiles.js';
import { ownIncident } from './own-incident.js';
import { walArchiveProgressQuery, type WalArchiveInput, type WalArchiveProgress } from './wal-archive-contract.js';

type Activities = ReturnType<typeof createWalArchiveActivities>;
const quick = proxyActivities<Activities>(quickApiCall);

const HOUR_MS = 3_600_000;

/**
 * walArchiveWorkflow (`wal-archive-<database>`): keeps a database's WAL
 * streaming into the archive, for point-in-time recovery. Each run of the
 * archiving activity lasts `runForMs`, heartbeating; a worker that dies is
 * replaced by the next attempt, which resumes from the replication slot and
 * the spool. An archiver that keeps failing opens the incident
 * `wal-archive-failed-<database>` and goes on trying; the first run that
 * archives again resolves it. It continues as new after `runs` runs, so its
 * history stays short however long it archives.
 */
export async function walArchiveWorkflow(input: WalArchiveInput = {}): Promise<never> {
  const database = input.database ?? 'default';
  const runForMs = input.runForMs ?? HOUR_MS;
  const runs = input.runs ?? 24;
  const progress: WalArchiveProgress = { database, state: 'starting', archived: 0 };
  setHandler(walArchiveProgressQuery, () => progress);
  upsertSearchAttributes([
    { key: OpsKind, value: 'wal-archive' },
    { key: OpsService, value: database },
    { key: OpsStatus, value: 'archiving' },
  ]);
  upsertMemo({ summary: `WAL archive of ${database}` });
  const failing = ownIncident({ dedupKey: `wal-archive-failed-${database}`, labels: { alertname: 'WalArchiveFailing', service: database, database, severity: 'high' } }, quickApiCall);

  const { dataTaskQueue, ...settings } = await quick.walArchiveSettings({ database });
  const archiver = proxyActivities<Activities>({
    ...(dataTaskQueue ? { taskQueue: dataTaskQueue } : {}),
    startToCloseTimeout: runForMs + 10 * 60_000,
    // It heartbeats every second: a worker that died is noticed, and its run retried elsewhere, within 20 s.
    heartbeatTimeout: '20s',
    // A dead worker or a server restart: the next attempt resumes from the slot. Only what retrying cannot fix ends the run.
    retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10, nonRetryableErrorTypes: quickApiCall.retry!.nonRetryableErrorTypes! },
  });
  let raised = false;
  for (let run = 0; run < runs; run += 1) {
    try {
      const result = await archiver.archiveWal({ ...settings, runForMs });
      progress.archived += result.archived;
      if (result.lastSegment) progress.lastSegment = result.lastSegment;
      if (progress.state !== 'archiving') upsertSearchAttributes([{ key: OpsStatus, value: 'archiving' }]);
      progress.state = 'archiving';
      delete progress.error;
      if (raised) {
        await failing.clear(`WAL archive of ${database} is archiving again`);
        raised = false;
      }
    } catch (error) {
      progress.state = 'failing';
      progress.error = failureMessage(error);
      upsertSearchAttributes([{ key: OpsStatus, value: 'failing' }]);
      if (!raised) {
        await failing.raise({ summary: `WAL archive of ${database} is failing`, description: progress.error, type: thrownFailure(error)?.type ?? 'error' });
        raised = true;
      }
      await sleep('1m');
    }
  }
  return continueAsNew<typeof walArchiveWorkflow>(input);
}
