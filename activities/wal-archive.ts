import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ApplicationFailure, Context } from '@temporalio/activity';
import pg from 'pg';
import type { BackupEncryption } from '../src/domain/backup-encryption.js';
import { ErrorType } from '../src/domain/errors.js';
import { formatLsn, isTimelineHistory, isWalSegment, parseLsn, segmentEndLsn, walObjectKey } from '../src/domain/pitr.js';
import type { BackupDeps } from './backup.js';
import { bindDeps } from './bind-deps.js';
import { encryptedBytes } from './backup-encryption.js';
import { configuredDatabaseUrl } from './database-url.js';
import { libpqEnv } from './dump-restore.js';

/**
 * Continuous WAL archiving with no code of ours on the database host:
 * pg_receivewal streams WAL from a physical replication slot into a spool
 * folder on the worker's state volume, and every completed segment (and
 * timeline history file) is gzipped, encrypted when the policy says so, and
 * uploaded once, then removed from the spool. The slot keeps the server's WAL
 * until pg_receivewal has it on disk, and pg_receivewal resumes from the
 * spool, so a worker killed mid-segment loses nothing. A WAL switch every
 * `switchIntervalMs` (when WAL was written) closes the segment being filled,
 * which bounds what a crash of the server can take with it. Where the archive
 * stands (bytes and seconds behind the server) goes to wal_archive_status,
 * which /metrics reads.
 */
export type WalArchiveDeps = Pick<BackupDeps, 'pool' | 's3' | 'bucket' | 'databaseUrl'> & {
  /** The spool's parent folder (OPS_STATE_DIR/wal): a volume that outlives the process. */
  walSpoolDir: string;
};

export interface ArchiveWalInput {
  database: string;
  bucket?: string;
  prefix: string;
  slot: string;
  switchIntervalMs: number;
  /** How long this run archives before it returns (the workflow then starts the next). */
  runForMs: number;
  encryption?: BackupEncryption;
}

const gzipAsync = promisify(gzip);

/** A WAL file as stored: gzip (an unfilled segment after a switch is mostly zeros), then age. */
async function storedForm(file: Buffer, encryption: BackupEncryption | undefined): Promise<Uint8Array> {
  const packed = await gzipAsync(file, { level: 1 });
  return encryption ? encryptedBytes(packed, encryption.recipients) : packed;
}

/** Ends a replication connection left on the slot by a worker that died (its pg_receivewal may outlive it). */
async function freeSlot(client: pg.Client, slot: string): Promise<void> {
  const existing = await client.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  if (existing.rowCount === 0) {
    // Reserved at once: the server keeps WAL from this moment for the archive.
    await client.query('SELECT pg_create_physical_replication_slot($1, true)', [slot]);
    return;
  }
  for (let tries = 0; existing.rows[0]!.active_pid !== null && tries < 50; tries += 1) {
    await client.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL', [slot]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    existing.rows[0]!.active_pid = (await client.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows[0]?.active_pid ?? null;
  }
}

export async function archiveWal(deps: WalArchiveDeps, input: ArchiveWalInput): Promise<{ archived: number; lastSegment?: string }> {
  const context = Context.current();
  const url = configuredDatabaseUrl(deps.databaseUrl, input.database);
  const bucket = input.bucket ?? deps.bucket;
  const spool = join(deps.walSpoolDir, input.database);
  await mkdir(spool, { recursive: true });
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // A server that goes away between queries is seen by the next query; unheard, the event would end the process.
  client.on('error', () => undefined);
  await client.connect();
  let receiver: ChildProcess | undefined;
  let archived = 0;
  let lastSegment: string | undefined;
  let lagBytes = 0n;
  /** The LSN the archive holds everything before: from the last run at first, then from each upload. */
  let archivedTo: bigint | undefined;
  try {
    const segmentSize = Number((await client.query<{ setting: string }>(`SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'`)).rows[0]!.setting);
    await freeSlot(client, input.slot);
    const previous = (await deps.pool.query<{ archived_lsn: string | null }>('SELECT archived_lsn::text FROM wal_archive_status WHERE database = $1', [input.database])).rows[0]?.archived_lsn;
    if (previous) archivedTo = parseLsn(previous);

    /** Uploads what pg_receivewal has finished, oldest first, once each; the spool keeps only what is not yet in S3. */
    const uploadReady = async () => {
      const names = (await readdir(spool)).filter((name) => isWalSegment(name) || isTimelineHistory(name)).sort();
      for (const name of names) {
        const key = walObjectKey(input.prefix, input.database, name, input.encryption !== undefined);
        const present = await deps.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
          () => true,
          (error: { $metadata?: { httpStatusCode?: number } }) => {
            if (error.$metadata?.httpStatusCode === 404) return false;
            throw error;
          },
        );
        if (!present) await deps.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await storedForm(await readFile(join(spool, name)), input.encryption) }));
        await unlink(join(spool, name));
        if (isWalSegment(name)) {
          lastSegment = name;
          archived += 1;
          const end = segmentEndLsn(name, segmentSize);
          if (archivedTo === undefined || end > archivedTo) archivedTo = end;
        }
      }
    };

    /** Where the archive stands against the server, for the heartbeat and /metrics. */
    const report = async () => {
      const server = parseLsn((await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn);
      context.heartbeat({ lastSegment, archived });
      // Nothing archived yet, ever: how far behind is not known until the first segment is in.
      if (archivedTo === undefined) return;
      lagBytes = server > archivedTo ? server - archivedTo : 0n;
      await deps.pool.query(
        `INSERT INTO wal_archive_status (database, last_segment, archived_lsn, server_lsn, lag_bytes, caught_up_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, now(), now())
         ON CONFLICT (database) DO UPDATE SET
           last_segment = COALESCE(EXCLUDED.last_segment, wal_archive_status.last_segment),
           archived_lsn = COALESCE(EXCLUDED.archived_lsn, wal_archive_status.archived_lsn),
           server_lsn = EXCLUDED.server_lsn, lag_bytes = EXCLUDED.lag_bytes, updated_at = now(),
           caught_up_at = CASE WHEN EXCLUDED.lag_bytes = 0 THEN now() ELSE wal_archive_status.caught_up_at END`,
        [input.database, lastSegment ?? null, formatLsn(archivedTo), formatLsn(server), lagBytes.toString()],
      );
    };

    // What a worker that died left in the spool goes first.
    await uploadReady();
    let receiverError = '';
    receiver = spawn('pg_receivewal', ['--directory', spool, '--slot', input.slot, '--no-loop', '--synchronous', '--no-password'], {
      env: libpqEnv(url),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    receiver.stderr!.on('data', (chunk: Buffer) => (receiverError = `${receiverError}${chunk.toString()}`.slice(-2000)));
    const receiverExit = new Promise<number | null>((resolve) => receiver!.once('exit', resolve));
    let receiverExited = false;
    void receiverExit.then(() => (receiverExited = true));

    const started = Date.now();
    let lastSwitch = Date.now();
    while (Date.now() - started < input.runForMs && !context.cancellationSignal.aborted && !receiverExited) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (Date.now() - lastSwitch >= input.switchIntervalMs) {
        lastSwitch = Date.now();
        try {
          // Does nothing when no WAL was written since the last switch.
          await client.query('SELECT pg_switch_wal()');
        } catch (error) {
          if ((error as { code?: string }).code === '42501') {
            throw ApplicationFailure.nonRetryable(
              `the archiver of "${input.database}" may not switch WAL segments (${(error as Error).message}): GRANT EXECUTE ON FUNCTION pg_switch_wal() TO the backup role, or the archive stays up to a segment behind`,
              ErrorType.Unauthorized,
            );
          }
          throw error;
        }
      }
      await uploadReady();
      await report();
    }
    if (receiverExited && !context.cancellationSignal.aborted) {
      throw new Error(`pg_receivewal stopped streaming from "${input.database}": ${receiverError.trim() || 'no message'}`);
    }
    receiver.kill('SIGTERM');
    await receiverExit;
    await uploadReady();
    await report();
    return { archived, ...(lastSegment ? { lastSegment } : {}) };
  } finally {
    receiver?.kill('SIGKILL');
    await client.end().catch(() => undefined);
  }
}

/** What the archiver of `database` works with, from the policy; refused when the policy does not archive it. */
export async function walArchiveSettings(
  deps: Pick<BackupDeps, 'databaseUrl' | 'policy' | 'bucket' | 'dataTaskQueue'>,
  input: { database: string },
): Promise<Omit<ArchiveWalInput, 'runForMs'> & { dataTaskQueue?: string }> {
  configuredDatabaseUrl(deps.databaseUrl, input.database);
  const { walArchive, bucket, prefix, encryption } = deps.policy.backups;
  if (!walArchive?.databases.includes(input.database)) {
    throw ApplicationFailure.nonRetryable(`WAL archiving is not enabled for "${input.database}": add it to backups.walArchive.databases in the policy`, ErrorType.InvalidInput);
  }
  return {
    database: input.database,
    bucket: bucket ?? deps.bucket,
    prefix,
    slot: walArchive.slot,
    switchIntervalMs: walArchive.switchInterval,
    ...(encryption ? { encryption: { format: 'age' as const, recipients: encryption.recipients } } : {}),
    ...(deps.dataTaskQueue ? { dataTaskQueue: deps.dataTaskQueue } : {}),
  };
}

export function createWalArchiveActivities(deps: WalArchiveDeps & Pick<BackupDeps, 'policy' | 'dataTaskQueue'>) {
  return bindDeps(deps, { archiveWal, walArchiveSettings });
}
