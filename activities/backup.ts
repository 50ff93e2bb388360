import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
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
import { bindDeps } from './bind-deps.js';
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
}

/** Parts in flight: peak memory is about the part size * (QUEUE_SIZE + 1). */
const QUEUE_SIZE = 2;
/** pg_restore jobs of a verification, at most one per core: the restore shares the server with production. */
const RESTORE_JOBS = 4;

/** libpq settings from a URL, so no password ever appears in a process's arguments. */
export function libpqEnv(url: string): NodeJS.ProcessEnv {
  const parsed = new URL(url);
  return {
    ...process.env,
    PGHOST: parsed.hostname,
    PGPORT: parsed.port || '5432',
    PGUSER: decodeURIComponent(parsed.username || 'postgres'),
    PGDATABASE: decodeURIComponent(parsed.pathname.slice(1)),
    ...(parsed.password ? { PGPASSWORD: decodeURIComponent(parsed.password) } : {}),
  };
}

/** Table name -> exact row count, for every user table, as `client` sees them. */
async function tableCounts(client: pg.Client): Promise<Record<string, number>> {
  const { rows } = await client.query<{ schemaname: string; relname: string }>(
    `SELECT schemaname, relname FROM pg_stat_user_tables ORDER BY schemaname, relname`,
  );
  const counts: Record<string, number> = {};
  for (const row of rows) {
    const name = `${pg.escapeIdentifier(row.schemaname)}.${pg.escapeIdentifier(row.relname)}`;
    const { rows: count } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${name}`);
    counts[`${row.schemaname}.${row.relname}`] = Number(count[0]!.n);
  }
  return counts;
}

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

/** A `pg_restore --verbose` progress line ("pg_restore: creating TABLE ..."), as opposed to an error, a warning or their detail. */
const progressLine = /^pg_restore: (?!error:|warning:|detail:|hint:)/;

/**
 * Runs pg_restore --verbose: each progress line goes to `onStep`, the rest of
 * stderr (errors, warnings, the failed command) into the error. Killed when
 * `signal` aborts.
 */
function restore(args: string[], env: NodeJS.ProcessEnv, onStep: (step: string) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('pg_restore', ['--verbose', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'], signal, killSignal: 'SIGKILL' });
    const problems: string[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => {
      if (progressLine.test(line)) onStep(line.slice('pg_restore: '.length));
      else if (problems.length < 50) problems.push(line);
    });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`pg_restore exited with ${code}: ${problems.join('\n').trim().slice(0, 2000)}`))));
  });
}

export type { RetentionPolicy } from '../src/domain/backup-retention.js';


/** The policy's backup defaults; refuses a database that is not configured. */
export async function backupDefaults(deps: BackupDeps, input: { database: string }): Promise<{ bucket: string; prefix: string; verify: boolean; retention: RetentionPolicy; dataTaskQueue?: string }> {
  configuredDatabaseUrl(deps.databaseUrl, input.database);
  const { bucket, prefix, verify, retention } = deps.policy.backups;
  return { bucket: bucket ?? deps.bucket, prefix, verify, retention, ...(deps.dataTaskQueue ? { dataTaskQueue: deps.dataTaskQueue } : {}) };
}

/** The manifest of the newest backup of `database`, for a restore drill. */
export async function latestManifest(deps: BackupDeps, input: { database: string }): Promise<BackupManifest> {
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
export async function dumpToS3(deps: BackupDeps, input: { database: string; bucket?: string; key: string; requestedBy: string }): Promise<BackupManifest> {
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
  try {
    await snapshotClient.connect();
  } catch (error) {
    throw new Error(`cannot connect to database "${input.database}" (${redactedHost(url)}): ${(error as Error).message}`);
  }
  let bytes = 0;
  const began = Date.now();
  const figures = () => ({ bytes, bytesPerSecond: Math.round(bytes / Math.max((Date.now() - began) / 1000, 0.001)) });
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

    const dump = spawn('pg_dump', ['--format=custom', '--no-password', `--snapshot=${snapshot}`], {
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

    const hash = createHash('sha256');
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        bytes += chunk.length;
        callback(null, chunk);
      },
    });
    // The counting stream is the upload's body: every stream stage costs CPU that pg_dump, the limit, would otherwise have.
    dump.stdout.pipe(counter);

    upload = new Upload({
      client: deps.s3,
      params: { Bucket: bucket, Key: input.key, Body: counter, ContentType: 'application/octet-stream' },
      partSize,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    try {
      // The row counts run in the exporting transaction while pg_dump streams: same snapshot, no added wall time.
      const [code, , counted] = await Promise.all([exited, upload.done(), tableCounts(snapshotClient)]);
      tables = counted;
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
      bytes,
      sha256: hash.digest('hex'),
      serverVersion,
      startedAt,
      finishedAt: new Date().toISOString(),
      tables,
      partSize,
    };
    const manifestKey = `${input.key}.manifest.json`;
    await deps.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: manifestKey, Body: JSON.stringify(manifest, null, 2), ContentType: 'application/json' }),
    );
    const { workflowExecution } = context.info;
    await deps.pool.query(
      `INSERT INTO backups (database, bucket, object_key, manifest_key, bytes, sha256, server_version, started_at, finished_at, workflow_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (object_key) DO NOTHING`,
      [input.database, bucket, input.key, manifestKey, bytes, manifest.sha256, serverVersion, startedAt, manifest.finishedAt, workflowExecution?.workflowId ?? 'standalone'],
    );
    await writeAuditEvent(
      deps.pool,
      {
        actor: input.requestedBy,
        action: 'database.backup',
        target: `postgres/${input.database}`,
        outcome: 'succeeded',
        details: { key: input.key, bytes, sha256: manifest.sha256 },
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
 * row count with the source. The dump is downloaded to a scratch file
 * first (pg_restore wants a seekable file) and its SHA-256 checked
 * against the manifest. A mismatch is final: the backup is bad.
 */
export async function verifyBackup(deps: BackupDeps, input: { manifest: BackupManifest; requestedBy: string }): Promise<{ tables: number; rows: number }> {
  const { manifest } = input;
  const context = Context.current();
  const dir = await mkdtemp(join(tmpdir(), 'ops-verify-'));
  const file = join(dir, 'backup.dump');
  const scratch = `ops_verify_${createHash('sha256').update(manifest.key).digest('hex').slice(0, 12)}`;
  const sourceUrl = configuredDatabaseUrl(deps.databaseUrl, manifest.database);
  // The scratch database lives on the source's server.
  const admin = new URL(sourceUrl);
  admin.pathname = '/postgres';
  const scratchUrl = new URL(sourceUrl);
  scratchUrl.pathname = `/${scratch}`;
  const adminClient = new pg.Client({ connectionString: admin.toString() });
  await adminClient.connect();
  // Heartbeats carry the phase and the latest figure, and keep coming through a long silent step (an index build).
  let downloaded = 0;
  let step: string | undefined;
  const beat = () => context.heartbeat(step === undefined ? { phase: 'downloading', bytes: downloaded } : { phase: 'restoring', step });
  const heartbeat = setInterval(beat, 2000);
  try {
    const object = await deps.s3.send(new GetObjectCommand({ Bucket: manifest.bucket, Key: manifest.key }), { abortSignal: context.cancellationSignal });
    const hash = createHash('sha256');
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        downloaded += chunk.length;
        callback(null, chunk);
      },
    });
    await pipeline(object.Body as NodeJS.ReadableStream, hashing, createWriteStream(file), { signal: context.cancellationSignal });
    beat();
    const sha256 = hash.digest('hex');
    if (sha256 !== manifest.sha256) {
      throw ApplicationFailure.nonRetryable(
        `s3://${manifest.bucket}/${manifest.key} has SHA-256 ${sha256}, the manifest says ${manifest.sha256}: the backup is corrupt`,
        ErrorType.IntegrityCheckFailed,
      );
    }
    step = 'creating the scratch database';
    beat();
    await adminClient.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(scratch)} WITH (FORCE)`);
    await adminClient.query(`CREATE DATABASE ${pg.escapeIdentifier(scratch)}`);
    try {
      // A parallel restore (the reason for the scratch file): tables load and indexes build side by side.
      const jobs = Math.min(RESTORE_JOBS, availableParallelism());
      await restore(
        ['--no-owner', '--no-privileges', '--exit-on-error', `--jobs=${jobs}`, `--dbname=${scratch}`, file],
        libpqEnv(scratchUrl.toString()),
        (current) => {
          step = current;
          beat();
        },
        context.cancellationSignal,
      );
    } catch (error) {
      if (context.cancellationSignal.aborted) throw error;
      throw ApplicationFailure.nonRetryable(`pg_restore could not restore ${manifest.key}: ${(error as Error).message}`, ErrorType.IntegrityCheckFailed);
    }
    const scratchClient = new pg.Client({ connectionString: scratchUrl.toString() });
    await scratchClient.connect();
    const restored = await tableCounts(scratchClient).finally(() => scratchClient.end());
    const source = manifest.tables;
    const differences = Object.keys({ ...source, ...restored })
      .filter((table) => source[table] !== restored[table])
      .map((table) => `${table}: dumped ${source[table] ?? 'missing'}, restored ${restored[table] ?? 'missing'}`);
    if (differences.length > 0) {
      throw ApplicationFailure.nonRetryable(`restored ${manifest.key} differs from ${manifest.database}: ${differences.join('; ')}`, ErrorType.IntegrityCheckFailed);
    }
    const result = { tables: Object.keys(restored).length, rows: Object.values(restored).reduce((sum, count) => sum + count, 0) };
    await deps.pool.query(`UPDATE backups SET verified_at = now(), verification = $2 WHERE object_key = $1`, [manifest.key, JSON.stringify(result)]);
    return result;
  } finally {
    clearInterval(heartbeat);
    await adminClient.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(scratch)} WITH (FORCE)`).catch(() => undefined);
    await adminClient.end();
    await rm(dir, { recursive: true, force: true });
  }
}

export function createBackupActivities(deps: BackupDeps) {
  return bindDeps(deps, { backupDefaults, latestManifest, applyRetention, dumpToS3, verifyBackup });
}

