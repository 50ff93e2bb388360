import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Upload } from '@aws-sdk/lib-storage';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { choosePartSize } from '../src/domain/backup-part-size.js';
import { decideRetention, hasRetentionRule, type RetentionPolicy } from '../src/domain/backup-retention.js';
import { ErrorType } from '../src/domain/errors.js';
import type { Policy } from '../src/config/policy.js';
import { dumpProgressSignal } from '../workflows/database-backup-signals.js';
import { writeAuditEvent } from '../src/db/audit.js';
import type { BackupManifest } from '../src/domain/backup.js';
import type { BackupEncryption } from '../src/domain/backup-encryption.js';
import { bindDeps } from './bind-deps.js';
import { streamToS3 } from './stream-upload.js';
import { withBufferedOutput } from './buffered-output.js';
import { libpqEnv, restoreDumpInto, tableCounts, urlForDatabase } from './dump-restore.js';
import { configuredDatabaseUrl } from './database-url.js';

/**
 * Database backups: pg_dump (custom format) streamed straight into an S3
 * multipart upload with a SHA-256 computed on the way, a manifest beside the
 * dump, a row in `backups`; and verification by restoring into a scratch
 * database and comparing tables and row counts with the source.
 */

export interface BackupDeps {
  pool: pg.Pool;
  s3: S3Client;
  bucket: string;
  /** Connection URL of a named database ("default" is DATABASE_URL). */
  databaseUrl: (name: string) => string | undefined;
  /** Reports live dump progress to the workflow (its `progress` query); without it, heartbeats only. */
  temporal?: Client;
  /** How often the dump reports its bytes to the workflow; default 10 s. */
  progressIntervalMs?: number;
  policy: Pick<Policy, 'backups'>;
  /** The task queue of a dedicated data worker for dumps and restores (OPS_DATA_TASK_QUEUE); absent: the workflow's own. */
  dataTaskQueue?: string | undefined;
  /** The age identity text (OPS_BACKUP_AGE_IDENTITY) that opens encrypted backups; read when a restore needs it. */
  ageIdentity?: () => string | undefined;
}

/** Parts in flight: peak memory is about the part size * (QUEUE_SIZE + 1). */
const QUEUE_SIZE = 2;

/**
 * What the dump may grow to: the database's size on disk (a custom-format dump is
 * compressed and has no indexes, so usually far smaller), or its largest recent
 * dump when that was larger (data that compresses worse as text than on disk).
 */
async function expectedDumpBytes(source: pg.Client, pool: pg.Pool, database: string): Promise<number> {
  const [onDisk, recent] = await Promise.all([
    source.query<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes'),
    pool.query<{ bytes: string | null }>(
      'SELECT max(bytes) AS bytes FROM (SELECT bytes FROM backups WHERE database = $1 ORDER BY finished_at DESC LIMIT 5) latest',
      [database],
    ),
  ]);
  return Math.max(Number(onDisk.rows[0]!.bytes), Number(recent.rows[0]?.bytes ?? 0));
}

/** The part size for a dump of about `expected` bytes; a dump no upload can hold is final, not retried. */
function partSizeFor(expected: number, database: string): number {
  try {
    return choosePartSize(expected);
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`cannot back up "${database}": ${(error as Error).message}`, ErrorType.InvalidInput);
  }
}

/** host:port/database of a URL, for error messages: never its credentials. */
function redactedHost(url: string): string {
  const parsed = new URL(url);
  return `${parsed.host}${parsed.pathname}`;
}

/** Fails at once, and for good, when the bucket is not there: every retry would fail the same way. */
async function requireBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) {
      throw ApplicationFailure.nonRetryable(`bucket "${bucket}" does not exist: create it, or name another one`, ErrorType.NotFound);
    }
    throw error;
  }
}

/**
 * Aborts multipart uploads left under `key` by an attempt that died with S3
 * unreachable (its own abort could not get through), so their parts are freed.
 */
async function abortLeftoverUploads(s3: S3Client, bucket: string, key: string): Promise<number> {
  const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  const leftovers = (listed.Uploads ?? []).filter((upload) => upload.Key === key && upload.UploadId);
  for (const upload of leftovers) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId }));
  }
  return leftovers.length;
}

export type { RetentionPolicy } from '../src/domain/backup-retention.js';


/** The policy's backup defaults; refuses a database that is not configured. */
export async function backupDefaults(
  deps: BackupDeps,
  input: { database: string },
): Promise<{ bucket: string; prefix: string; verify: boolean; retention: RetentionPolicy; dataTaskQueue?: string; encryption?: BackupEncryption }> {
  configuredDatabaseUrl(deps.databaseUrl, input.database);
  const { bucket, prefix, verify, retention, encryption } = deps.policy.backups;
  return {
    bucket: bucket ?? deps.bucket,
    prefix,
    verify,
    retention,
    ...(deps.dataTaskQueue ? { dataTaskQueue: deps.dataTaskQueue } : {}),
    ...(encryption ? { encryption: { format: 'age' as const, recipients: encryption.recipients } } : {}),
  };
}

/** The manifest of the newest backup of `database`, for a restore drill. */
export async function latestManifest(deps: Pick<BackupDeps, 'pool' | 's3'>, input: { database: string }): Promise<BackupManifest> {
  const { rows } = await deps.pool.query<{ bucket: string; manifest_key: string }>(
    `SELECT bucket, manifest_key FROM backups WHERE database = $1 ORDER BY finished_at DESC LIMIT 1`,
    [input.database],
  );
  const row = rows[0];
  if (!row) throw ApplicationFailure.nonRetryable(`no backup of "${input.database}" has been made`, ErrorType.NotFound);
  const object = await deps.s3.send(new GetObjectCommand({ Bucket: row.bucket, Key: row.manifest_key }));
  return JSON.parse(await object.Body!.transformToString()) as BackupManifest;
}

/**
 * Deletes the backups the policy no longer keeps (simple or
 * grandfather-father-son rules, which add up). The newest verified backup
 * is never deleted, whatever the policy says; without a rule nothing is.
 */
export async function applyRetention(deps: BackupDeps, input: { database: string; retention: RetentionPolicy; requestedBy: string }): Promise<{ kept: number; deleted: string[] }> {
  const { rows } = await deps.pool.query<{ id: string; bucket: string; object_key: string; manifest_key: string; finished_at: Date; verified: boolean }>(
    `SELECT id, bucket, object_key, manifest_key, finished_at, verified_at IS NOT NULL AS verified
       FROM backups WHERE database = $1 ORDER BY finished_at DESC`,
    [input.database],
  );
  if (!hasRetentionRule(input.retention)) return { kept: rows.length, deleted: [] };
  const decision = decideRetention(
    rows.map((row) => ({ id: row.id, finishedAt: row.finished_at, verified: row.verified })),
    input.retention,
    new Date(),
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const id of decision.remove) {
    const row = byId.get(id)!;
    await deps.s3.send(
      new DeleteObjectsCommand({ Bucket: row.bucket, Delete: { Objects: [{ Key: row.object_key }, { Key: row.manifest_key }], Quiet: true } }),
    );
    await deps.pool.query('DELETE FROM backups WHERE id = $1', [row.id]);
    await writeAuditEvent(deps.pool, {
      actor: input.requestedBy,
      action: 'database.backup.delete',
      target: `s3://${row.bucket}/${row.object_key}`,
      outcome: 'succeeded',
      details: { database: input.database, reason: 'retention', retention: input.retention, finishedAt: row.finished_at.toISOString() },
      idempotencyKey: `retention:${row.object_key}`,
    });
  }
  return { kept: decision.keep.size, deleted: decision.remove.map((id) => byId.get(id)!.object_key) };
}

/**
 * Streams pg_dump into S3 under `key` and writes the manifest beside it.
 * A failed attempt aborts its multipart upload; when S3 itself was down
 * and could not hear the abort, the next attempt aborts the leftover
 * before it starts, so no orphan parts remain either way.
 */
export async function dumpToS3(deps: BackupDeps, input: { database: string; bucket?: string; key: string; requestedBy: string; encryption?: BackupEncryption }): Promise<BackupManifest> {
  const context = Context.current();
  const url = configuredDatabaseUrl(deps.databaseUrl, input.database);
  // Runs recorded before the bucket was chosen per backup name none: S3_BUCKET.
  const bucket = input.bucket ?? deps.bucket;
  await requireBucket(deps.s3, bucket);
  // Keys are unique per run: only a retry can find an upload of its own left behind.
  if (context.info.attempt > 1) await abortLeftoverUploads(deps.s3, bucket, input.key);
  const startedAt = new Date().toISOString();
  // One snapshot for the row counts and for pg_dump, held open until the dump is done.
  const snapshotClient = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // Held for the whole dump: a server that goes away fails the dump, never the process.
  snapshotClient.on('error', () => undefined);
  try {
    await snapshotClient.connect();
  } catch (error) {
    throw new Error(`cannot connect to database "${input.database}" (${redactedHost(url)}): ${(error as Error).message}`);
  }
  // Dump bytes so far: the live figure, once the dump streams.
  let dumped = () => 0;
  const began = Date.now();
  const figures = () => ({ bytes: dumped(), bytesPerSecond: Math.round(dumped() / Math.max((Date.now() - began) / 1000, 0.001)) });
  // The same figures in the heartbeat (the Web UI's pending activity) and, less often, in the workflow's progress query.
  const heartbeat = setInterval(() => context.heartbeat(figures()), 2000);
  const execution = context.info.workflowExecution;
  const reporter = deps.temporal && execution
    ? setInterval(() => {
        void deps.temporal!.workflow
          .getHandle(execution.workflowId, execution.runId)
          .signal(dumpProgressSignal, { ...figures(), attempt: context.info.attempt })
          .catch(() => undefined);
      }, deps.progressIntervalMs ?? 10_000)
    : undefined;
  let upload: Upload | undefined;
  const abort = () => void upload?.abort().catch(() => undefined);
  context.cancellationSignal.addEventListener('abort', abort);
  try {
    await snapshotClient.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snapshot = (await snapshotClient.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
    const serverVersion = (await snapshotClient.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    const partSize = partSizeFor(await expectedDumpBytes(snapshotClient, deps.pool, input.database), input.database);

    const pgDump = withBufferedOutput('pg_dump', ['--format=custom', '--no-password', `--snapshot=${snapshot}`]);
    const dump = spawn(pgDump.command, pgDump.args, {
      env: libpqEnv(url),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let tables: Record<string, number> = {};
    dump.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve, reject) => {
      dump.once('error', reject);
      dump.once('exit', resolve);
    });

    const streamed = await streamToS3(deps.s3, { bucket, key: input.key, partSize, queueSize: QUEUE_SIZE, encryption: input.encryption }, dump.stdout);
    upload = streamed.upload;
    dumped = streamed.plainBytes;
    let stored = { bytes: 0, sha256: '' };
    try {
      // The row counts run in the exporting transaction while pg_dump streams: same snapshot, no added wall time.
      const [code, uploaded, counted] = await Promise.all([exited, streamed.done(), tableCounts(snapshotClient, { besideDump: true })]);
      tables = counted;
      stored = uploaded;
      if (code !== 0) throw new Error(`pg_dump exited with ${code}: ${stderr.trim().slice(0, 2000)}`);
    } catch (error) {
      dump.kill('SIGKILL');
      await upload.abort().catch(() => undefined);
      const message = (error as Error).message;
      throw new Error(message.startsWith('pg_dump') ? message : `upload to s3://${bucket}/${input.key} failed: ${message}`);
    }
    clearInterval(reporter);
    const manifest: BackupManifest = {
      database: input.database,
      bucket,
      key: input.key,
      bytes: stored.bytes,
      sha256: stored.sha256,
      serverVersion,
      startedAt,
      finishedAt: new Date().toISOString(),
      tables,
      partSize,
      ...(input.encryption ? { encryption: input.encryption, plainBytes: streamed.plainBytes() } : {}),
    };
    const manifestKey = `${input.key}.manifest.json`;
    await deps.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: manifestKey, Body: JSON.stringify(manifest, null, 2), ContentType: 'application/json' }),
    );
    const { workflowExecution } = context.info;
    await deps.pool.query(
      `INSERT INTO backups (database, bucket, object_key, manifest_key, bytes, sha256, server_version, started_at, finished_at, workflow_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (object_key) DO NOTHING`,
      [input.database, bucket, input.key, manifestKey, stored.bytes, manifest.sha256, serverVersion, startedAt, manifest.finishedAt, workflowExecution?.workflowId ?? 'standalone'],
    );
    await writeAuditEvent(
      deps.pool,
      {
        actor: input.requestedBy,
        action: 'database.backup',
        target: `postgres/${input.database}`,
        outcome: 'succeeded',
        details: { key: input.key, bytes: stored.bytes, sha256: manifest.sha256, ...(input.encryption ? { encryptedTo: input.encryption.recipients } : {}) },
        idempotencyKey: `backup:${input.key}`,
      },
      workflowExecution,
    );
    return manifest;
  } finally {
    clearInterval(heartbeat);
    clearInterval(reporter);
    context.cancellationSignal.removeEventListener('abort', abort);
    await snapshotClient.end().catch(() => undefined);
  }
}

/**
 * Restores the dump into a scratch database and compares every table's
 * row count with the source (the dump's SHA-256 checked, and decrypted on the
 * way when encrypted). A mismatch is final: the backup is bad.
 */
export async function verifyBackup(deps: BackupDeps, input: { manifest: BackupManifest; requestedBy: string }): Promise<{ tables: number; rows: number }> {
  const { manifest } = input;
  const context = Context.current();
  const scratch = `ops_verify_${createHash('sha256').update(manifest.key).digest('hex').slice(0, 12)}`;
  // The scratch database lives on the source's server.
  const sourceUrl = configuredDatabaseUrl(deps.databaseUrl, manifest.database);
  const adminClient = new pg.Client({ connectionString: urlForDatabase(sourceUrl, 'postgres') });
  adminClient.on('error', () => undefined);
  await adminClient.connect();
  try {
    await adminClient.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(scratch)} WITH (FORCE)`);
    await adminClient.query(`CREATE DATABASE ${pg.escapeIdentifier(scratch)}`);
    // Heartbeats carry the phase and the latest figure (bytes downloaded, then pg_restore's step).
    const result = await restoreDumpInto(deps, { manifest, targetUrl: urlForDatabase(sourceUrl, scratch), ownership: false }, context.cancellationSignal, (step) => context.heartbeat(step));
    await deps.pool.query(`UPDATE backups SET verified_at = now(), verification = $2 WHERE object_key = $1`, [manifest.key, JSON.stringify(result)]);
    return result;
  } finally {
    await adminClient.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(scratch)} WITH (FORCE)`).catch(() => undefined);
    await adminClient.end();
  }
}

export function createBackupActivities(deps: BackupDeps) {
  return bindDeps(deps, { backupDefaults, latestManifest, applyRetention, dumpToS3, verifyBackup });
}

