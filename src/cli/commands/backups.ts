import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import type pg from 'pg';
import { bucketNameProblem, type BackupManifest } from '../../domain/backup.js';
import { backupWorkflowId, baseBackupWorkflowId, restoreDrillWorkflowId } from '../../domain/workflow-ids.js';
import { failureMessage, isAlreadyStarted } from '../../domain/failures.js';
import type { databaseBackupWorkflow, databaseRestoreDrillWorkflow, DatabaseBackupResult } from '../../../workflows/database-backup.js';
import type { databaseBaseBackupWorkflow } from '../../../workflows/database-base-backup.js';
import { progressQuery, type BackupProgress } from '../../../workflows/database-backup-signals.js';
import { databaseOption, requesterOption } from '../common-options.js';
import { EXIT, printJson, printTable, UserError } from '../output.js';
import { registerRestoreCommands } from './restores.js';

/**
 * `opsctl backup run | list | verify`: start a backup (and follow its
 * progress), list what the bucket holds from the manifests, and drill a
 * restore of the newest backup.
 */
export interface BackupsContext {
  temporal: () => Promise<Client>;
  s3: () => S3Client;
  bucket: () => string;
  pool: () => pg.Pool;
  taskQueue: () => string;
  json: () => boolean;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function progressLine(progress: BackupProgress): string {
  if (progress.phase !== 'dumping') return `${progress.database}: ${progress.phase}${progress.bytes ? ` (${mib(progress.bytes)})` : ''}`;
  const bytes = progress.bytes ?? 0;
  // The dump's final size is unknown while it streams: the bar shows motion, the figures show progress.
  const filled = Math.floor(bytes / (16 * 1024 * 1024)) % 21;
  const bar = `${'='.repeat(filled)}>${' '.repeat(20 - filled)}`;
  const rate = progress.bytesPerSecond ? `${mib(progress.bytesPerSecond)}/s` : '-';
  return `${progress.database}: dumping [${bar}] ${mib(bytes)} at ${rate}${progress.attempt && progress.attempt > 1 ? ` (attempt ${progress.attempt})` : ''}`;
}

async function failed<T>(run: Promise<T>): Promise<T> {
  try {
    return await run;
  } catch (error) {
    if (error instanceof WorkflowFailedError) throw new UserError(failureMessage(error.cause ?? error), EXIT.failure);
    throw error;
  }
}

/** `opsctl backup run --base`: a base backup, waited for when --follow says so. */
async function runBaseBackup(context: BackupsContext, options: { database: string; follow?: boolean; by: string }): Promise<void> {
  const workflowId = baseBackupWorkflowId(options.database);
  const client = await context.temporal();
  let handle;
  try {
    handle = await client.workflow.start<typeof databaseBaseBackupWorkflow>('databaseBaseBackupWorkflow', { taskQueue: context.taskQueue(), workflowId, args: [{ database: options.database, requestedBy: options.by }] });
  } catch (error) {
    if (isAlreadyStarted(error)) throw new UserError(`a base backup of "${options.database}" is already running (${workflowId})`, EXIT.refused);
    throw error;
  }
  if (!options.follow) {
    if (context.json()) return printJson({ workflowId, runId: handle.firstExecutionRunId });
    process.stdout.write(`started ${workflowId} (run ${handle.firstExecutionRunId}); opsctl backup run --base --follow waits for it\n`);
    return;
  }
  const { manifest, retention } = await failed(handle.result());
  if (context.json()) return printJson({ manifest, retention });
  process.stdout.write(`base backup of ${manifest.database} to s3://${manifest.bucket}/${manifest.key} (${mib(manifest.bytes)}, WAL ${manifest.startLsn} to ${manifest.stopLsn} on timeline ${manifest.timeline})\n`);
  if (retention.deleted.length > 0 || retention.walDeleted > 0) process.stdout.write(`retention: kept ${retention.kept}, deleted ${retention.deleted.length} base backups and ${retention.walDeleted} WAL segments\n`);
}

export function registerBackupCommands(program: Command, context: BackupsContext): void {
  const backup = program.command('backup').description('database backups to S3: run, list, verify, restore');

  backup
    .command('run')
    .description('back up a database now (pg_dump streamed to S3, then verified by a restore)')
    .option(...databaseOption)
    .option('--bucket <name>', 'the bucket to back up to (default: the policy\'s backups.bucket, else S3_BUCKET)')
    .option('--no-verify', 'skip the restore check')
    .option('--base', 'a physical base backup for point-in-time recovery (pg_basebackup) instead of a logical dump')
    .option('--follow', 'show live progress and wait for the result')
    .option(...requesterOption)
    .action(async (options: { database: string; bucket?: string; verify: boolean; base?: boolean; follow?: boolean; by: string }) => {
      if (options.base) return runBaseBackup(context, options);
      const problem = options.bucket === undefined ? undefined : bucketNameProblem(options.bucket);
      if (problem) throw new UserError(problem, EXIT.usage);
      const client = await context.temporal();
      const workflowId = backupWorkflowId(options.database);
      let handle;
      try {
        handle = await client.workflow.start<typeof databaseBackupWorkflow>('databaseBackupWorkflow', {
          taskQueue: context.taskQueue(),
          workflowId,
          args: [{ database: options.database, ...(options.bucket ? { bucket: options.bucket } : {}), verify: options.verify, requestedBy: options.by }],
        });
      } catch (error) {
        if (isAlreadyStarted(error)) {
          throw new UserError(`a backup of "${options.database}" is already running (${workflowId}); follow it in the Web UI or wait`, EXIT.refused);
        }
        throw error;
      }
      if (!options.follow) {
        if (context.json()) return printJson({ workflowId, runId: handle.firstExecutionRunId });
        process.stdout.write(`started ${workflowId} (run ${handle.firstExecutionRunId}); opsctl backup run --follow waits for it\n`);
        return;
      }
      const tty = process.stdout.isTTY && !context.json();
      let done = false;
      const result = failed(handle.result()).finally(() => (done = true));
      let last = '';
      while (!done) {
        const progress = await handle.query(progressQuery).catch(() => undefined);
        const line = progress ? progressLine(progress) : '';
        if (line && line !== last && !context.json()) process.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
        last = line || last;
        await Promise.race([result.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000))]);
      }
      if (tty) process.stdout.write('\n');
      const outcome: DatabaseBackupResult = await result;
      if (context.json()) return printJson(outcome);
      const { manifest } = outcome;
      process.stdout.write(`backed up ${manifest.database} to s3://${manifest.bucket}/${manifest.key} (${mib(manifest.bytes)}, sha256 ${manifest.sha256.slice(0, 12)}…)\n`);
      if (outcome.verification) process.stdout.write(`verified: ${outcome.verification.tables} tables, ${outcome.verification.rows} rows restored\n`);
      if (outcome.retention) process.stdout.write(`retention: kept ${outcome.retention.kept}, deleted ${outcome.retention.deleted.length}\n`);
    });

  backup
    .command('list')
    .description('the backups in the bucket, newest first, from their manifests')
    .option('--database <name>', 'only this database')
    .option('--bucket <name>', 'the bucket to list (default S3_BUCKET)')
    .option('--prefix <prefix>', 'key prefix the backups are under', 'backups')
    .action(async (options: { database?: string; bucket?: string; prefix: string }) => {
      const s3 = context.s3();
      const bucket = options.bucket ?? context.bucket();
      const prefix = `${options.prefix.replace(/\/+$/, '')}/${options.database ? `${options.database}/` : ''}`;
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((object) => object.Key!).filter((key) => key.endsWith('.manifest.json')));
        token = page.NextContinuationToken;
      } while (token);
      const manifests: BackupManifest[] = [];
      for (const key of keys) {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        manifests.push(JSON.parse(await object.Body!.transformToString()) as BackupManifest);
      }
      manifests.sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
      const verified = new Map(
        (await context.pool().query<{ object_key: string; verified_at: Date }>(`SELECT object_key, verified_at FROM backups WHERE verified_at IS NOT NULL`)).rows.map((row) => [
          row.object_key,
          row.verified_at.toISOString(),
        ]),
      );
      const rows = manifests.map((manifest) => ({
        database: manifest.database,
        finishedAt: manifest.finishedAt,
        bytes: manifest.bytes,
        size: mib(manifest.bytes),
        sha256: manifest.sha256,
        verifiedAt: verified.get(manifest.key) ?? null,
        key: manifest.key,
      }));
      if (context.json()) return printJson(rows);
      printTable(rows, ['database', 'finishedAt', 'size', 'verifiedAt', 'key']);
    });

  backup
    .command('verify')
    .description('restore the newest backup into a scratch database and compare every table')
    .option(...databaseOption)
    .option(...requesterOption)
    .action(async (options: { database: string; by: string }) => {
      const client = await context.temporal();
      const outcome = await failed(
        client.workflow.execute<typeof databaseRestoreDrillWorkflow>('databaseRestoreDrillWorkflow', {
          taskQueue: context.taskQueue(),
          workflowId: restoreDrillWorkflowId(options.database, Date.now()),
          args: [{ database: options.database, requestedBy: options.by }],
        }),
      );
      if (context.json()) return printJson(outcome);
      process.stdout.write(`restored ${outcome.key}: ${outcome.tables} tables, ${outcome.rows} rows, all matching\n`);
    });

  registerRestoreCommands(backup, context);
}
