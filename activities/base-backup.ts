import { spawn } from 'node:child_process';
import { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { ApplicationFailure, Context } from '@temporalio/activity';
import pg from 'pg';
import { choosePartSize } from '../src/domain/backup-part-size.js';
import type { BackupEncryption } from '../src/domain/backup-encryption.js';
import { ErrorType } from '../src/domain/errors.js';
import { isWalSegment, segmentName, walFileOfKey, walPrefix, type BaseBackupManifest } from '../src/domain/pitr.js';
import { decideRetention, hasRetentionRule, type RetentionPolicy } from '../src/domain/backup-retention.js';
import { writeAuditEvent } from '../src/db/audit.js';
import type { BackupDeps } from './backup.js';
import { bindDeps } from './bind-deps.js';
import { configuredDatabaseUrl } from './database-url.js';
import { libpqEnv } from './dump-restore.js';
import { streamToS3 } from './stream-upload.js';

/**
 * A physical base backup: pg_basebackup's tar streamed straight into S3 (no
 * copy of the data directory anywhere), with the WAL that makes it consistent
 * fetched into the tar (-X fetch), so the backup restores on its own and WAL
 * from the archive takes it on from there. It needs a role with REPLICATION
 * and a pg_hba.conf line for replication connections, as any physical backup does.
 */

/** `pg_basebackup --verbose` says where the backup's WAL starts and ends. */
const START = /write-ahead log start point: ([0-9A-F]+\/[0-9A-F]+) on timeline (\d+)/;
const END = /write-ahead log end point: ([0-9A-F]+\/[0-9A-F]+)/;

export async function baseBackupToS3(
  deps: Pick<BackupDeps, 'pool' | 's3' | 'bucket' | 'databaseUrl'>,
  input: { database: string; bucket?: string; key: string; requestedBy: string; encryption?: BackupEncryption },
): Promise<BaseBackupManifest> {
  const context = Context.current();
  const url = configuredDatabaseUrl(deps.databaseUrl, input.database);
  const bucket = input.bucket ?? deps.bucket;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  let cluster: { bytes: string; system_identifier: string; server_version: string; segment_size: string };
  try {
    cluster = (
      await client.query<{ bytes: string; system_identifier: string; server_version: string; segment_size: string }>(
        `SELECT (SELECT sum(pg_database_size(oid)) FROM pg_database)::text AS bytes, (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
                current_setting('server_version') AS server_version, (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') AS segment_size`,
      )
    ).rows[0]!;
  } finally {
    await client.end();
  }
  let partSize: number;
  try {
    partSize = choosePartSize(Number(cluster.bytes));
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`cannot take a base backup of "${input.database}": ${(error as Error).message}`, ErrorType.InvalidInput);
  }

  const startedAt = new Date().toISOString();
  const backup = spawn('pg_basebackup', ['--pgdata=-', '--format=tar', '--wal-method=fetch', '--checkpoint=fast', '--verbose', '--no-password', `--label=ops-automation ${input.key}`], {
    env: libpqEnv(url),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  backup.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    backup.once('error', reject);
    backup.once('exit', resolve);
  });
  const streamed = await streamToS3(deps.s3, { bucket, key: input.key, partSize, queueSize: 2, encryption: input.encryption }, backup.stdout);
  const heartbeat = setInterval(() => context.heartbeat({ bytes: streamed.plainBytes() }), 2000);
  const abort = () => backup.kill('SIGKILL');
  context.cancellationSignal.addEventListener('abort', abort);
  let stored: { bytes: number; sha256: string };
  try {
    const [code, uploaded] = await Promise.all([exited, streamed.done()]);
    if (code !== 0) throw new Error(`pg_basebackup exited with ${code}: ${stderr.replace(/^pg_basebackup: (?!error)[^\n]*\n/gm, '').trim().slice(0, 2000)}`);
    stored = uploaded;
  } catch (error) {
    backup.kill('SIGKILL');
    await streamed.upload.abort().catch(() => undefined);
    // The upload may have completed with a tar cut short when pg_basebackup failed: no half backup stays.
    await deps.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: input.key })).catch(() => undefined);
    const message = (error as Error).message;
    throw new Error(message.startsWith('pg_basebackup') ? message : `upload to s3://${bucket}/${input.key} failed: ${message}`);
  } finally {
    clearInterval(heartbeat);
    context.cancellationSignal.removeEventListener('abort', abort);
  }
  const start = START.exec(stderr);
  const end = END.exec(stderr);
  if (!start || !end) throw new Error(`pg_basebackup did not say where its WAL starts and ends: ${stderr.trim().slice(0, 1000)}`);

  const manifest: BaseBackupManifest = {
    kind: 'base',
    database: input.database,
    bucket,
    key: input.key,
    bytes: stored.bytes,
    sha256: stored.sha256,
    startLsn: start[1]!,
    stopLsn: end[1]!,
    timeline: Number(start[2]),
    walSegmentSize: Number(cluster.segment_size),
    systemIdentifier: cluster.system_identifier,
    serverVersion: cluster.server_version,
    startedAt,
    finishedAt: new Date().toISOString(),
    ...(input.encryption ? { encryption: input.encryption, plainBytes: streamed.plainBytes() } : {}),
  };
  const manifestKey = `${input.key}.manifest.json`;
  await deps.s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey, Body: JSON.stringify(manifest, null, 2), ContentType: 'application/json' }));
  const { workflowExecution } = context.info;
  await deps.pool.query(
    `INSERT INTO base_backups (database, bucket, object_key, manifest_key, bytes, sha256, start_lsn, stop_lsn, timeline, system_identifier, server_version, started_at, finished_at, workflow_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (object_key) DO NOTHING`,
    [input.database, bucket, input.key, manifestKey, stored.bytes, stored.sha256, manifest.startLsn, manifest.stopLsn, manifest.timeline, manifest.systemIdentifier, manifest.serverVersion, startedAt, manifest.finishedAt, workflowExecution?.workflowId ?? 'standalone'],
  );
  await writeAuditEvent(
    deps.pool,
    {
      actor: input.requestedBy,
      action: 'database.base-backup',
      target: `postgres/${input.database}`,
      outcome: 'succeeded',
      details: { key: input.key, bytes: stored.bytes, sha256: stored.sha256, startLsn: manifest.startLsn, stopLsn: manifest.stopLsn, ...(input.encryption ? { encryptedTo: input.encryption.recipients } : {}) },
      idempotencyKey: `base-backup:${input.key}`,
    },
    workflowExecution,
  );
  return manifest;
}

/**
 * Deletes the base backups the retention policy no longer keeps (the same
 * rules as logical backups; the newest verified one always stays), and the
 * WAL no kept base backup needs: every segment older than the first segment
 * of the oldest kept backup. Timeline history files always stay.
 */
export async function applyBaseBackupRetention(
  deps: Pick<BackupDeps, 'pool' | 's3'>,
  input: { database: string; prefix: string; retention: RetentionPolicy; requestedBy: string },
): Promise<{ kept: number; deleted: string[]; walDeleted: number }> {
  const { rows } = await deps.pool.query<{ id: string; bucket: string; object_key: string; manifest_key: string; finished_at: Date; verified: boolean; start_lsn: string; timeline: number }>(
    `SELECT id, bucket, object_key, manifest_key, finished_at, verified_at IS NOT NULL AS verified, start_lsn::text, timeline FROM base_backups WHERE database = $1 ORDER BY finished_at DESC`,
    [input.database],
  );
  if (rows.length === 0 || !hasRetentionRule(input.retention)) return { kept: rows.length, deleted: [], walDeleted: 0 };
  const decision = decideRetention(rows.map((row) => ({ id: row.id, finishedAt: row.finished_at, verified: row.verified })), input.retention, new Date());
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const id of decision.remove) {
    const row = byId.get(id)!;
    await deps.s3.send(new DeleteObjectsCommand({ Bucket: row.bucket, Delete: { Objects: [{ Key: row.object_key }, { Key: row.manifest_key }], Quiet: true } }));
    await deps.pool.query('DELETE FROM base_backups WHERE id = $1', [id]);
    await writeAuditEvent(deps.pool, {
      actor: input.requestedBy,
      action: 'database.base-backup.delete',
      target: `s3://${row.bucket}/${row.object_key}`,
      outcome: 'succeeded',
      details: { database: input.database, reason: 'retention', retention: input.retention },
      idempotencyKey: `retention:${row.object_key}`,
    });
  }
  // The WAL the oldest kept backup starts from, and everything after it, stays.
  const oldestKept = rows.filter((row) => decision.keep.has(row.id)).at(-1)!;
  const manifest = JSON.parse(await (await deps.s3.send(new GetObjectCommand({ Bucket: oldestKept.bucket, Key: `${oldestKept.object_key}.manifest.json` }))).Body!.transformToString()) as BaseBackupManifest;
  const firstNeeded = segmentName(oldestKept.timeline, oldestKept.start_lsn, manifest.walSegmentSize ?? 16 * 1024 * 1024);
  const obsolete: string[] = [];
  let token: string | undefined;
  do {
    const page = await deps.s3.send(new ListObjectsV2Command({ Bucket: oldestKept.bucket, Prefix: walPrefix(input.prefix, input.database), ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const file = walFileOfKey(object.Key!);
      if (file && isWalSegment(file) && file < firstNeeded) obsolete.push(object.Key!);
    }
    token = page.NextContinuationToken;
  } while (token);
  for (let index = 0; index < obsolete.length; index += 1000) {
    await deps.s3.send(new DeleteObjectsCommand({ Bucket: oldestKept.bucket, Delete: { Objects: obsolete.slice(index, index + 1000).map((Key) => ({ Key })), Quiet: true } }));
  }
  return { kept: decision.keep.size, deleted: decision.remove.map((id) => byId.get(id)!.object_key), walDeleted: obsolete.length };
}

export function createBaseBackupActivities(deps: Pick<BackupDeps, 'pool' | 's3' | 'bucket' | 'databaseUrl'>) {
  return bindDeps(deps, { baseBackupToS3, applyBaseBackupRetention });
}
