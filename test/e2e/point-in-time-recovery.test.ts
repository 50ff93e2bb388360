import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { ensureDatabase, startPrivateCluster, type ResolvedPostgres } from '../../scripts/stack/postgres.js';
import { databaseBaseBackupWorkflow } from '../../workflows/database-base-backup.js';
import { databaseRestoreWorkflow } from '../../workflows/database-restore.js';
import type { PointInTimeRestoreOutcome } from '../../workflows/database-restore-contract.js';
import { walArchiveWorkflow } from '../../workflows/wal-archive.js';
import { segmentName, walFileOfKey } from '../../src/domain/pitr.js';
import { connectStack, stackEnv, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PG_CTL = join(execFileSync('pg_config', ['--bindir']).toString().trim(), 'pg_ctl');

/** pg_ctl as the user PostgreSQL runs as (postgres, when the tests run as root). */
function pgCtl(args: string[]): void {
  if (process.getuid?.() === 0) spawnSync('runuser', ['-u', 'postgres', '--', PG_CTL, ...args]);
  else spawnSync(PG_CTL, args);
}

/**
 * Point-in-time recovery on a real PostgreSQL (a private cluster with
 * wal_level=replica): rows written all the time, a base backup, WAL streamed
 * by the archiver on a data worker that is SIGKILLed in the middle, then
 * restores to an instant and to the latest, each holding exactly the rows
 * committed before its target; and the RPO when the source is stopped hard.
 * Everything is encrypted with age, as a cautious team would run it.
 */
describe('point-in-time recovery', () => {
  let clients: StackClients;
  let cluster: ResolvedPostgres;
  let sourceUrl: string;
  let worker: { stop(): Promise<void> };
  const dataWorkers: ChildProcess[] = [];
  const taskQueue = uniqueTaskQueue('pitr');
  const dataQueue = `${taskQueue}-data`;
  const database = `ledger-${taskQueue.slice(-8)}`;
  const restored: string[] = [];
  let dir: string;
  /** The data workers' OPS_STATE_DIR (WAL spool, restored data directories): where the postgres user can reach it, whatever folder the checkout is in. */
  const stateDir = join('/var/tmp', `ops-pitr-${taskQueue.slice(-8)}`);
  let identity: string;

  /** Rows the writer saw committed: id and the instant the insert began (server clock, microseconds). */
  const committed: { id: number; at: string; seenAt: number }[] = [];
  let writing = false;
  let writer: Promise<void> = Promise.resolve();
  /** A WAL position the writer reads between two inserts, and how many rows it had committed then. */
  let markAsked: ((mark: { lsn: string; committed: number }) => void) | undefined;
  const markPosition = () => new Promise<{ lsn: string; committed: number }>((resolve) => (markAsked = resolve));
  const startWriting = () => {
    writing = true;
    writer = (async () => {
      const client = new pg.Client({ connectionString: sourceUrl });
      await client.connect();
      client.on('error', () => undefined);
      try {
        while (writing) {
          const { rows } = await client.query<{ id: number; at: string }>(
            `INSERT INTO entries (note) VALUES ('entry') RETURNING id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`,
          );
          committed.push({ ...rows[0]!, seenAt: Date.now() });
          if (markAsked) {
            const { lsn } = (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!;
            markAsked({ lsn, committed: committed.length });
            markAsked = undefined;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } catch {
        // The source was stopped hard: what was committed is in `committed`.
      } finally {
        await client.end().catch(() => undefined);
      }
    })();
  };
  const stopWriting = async () => {
    writing = false;
    await writer;
  };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  function startDataWorker(): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/data-worker.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...stackEnv(testStack()),
        OPS_DATA_TASK_QUEUE: dataQueue,
        OPS_CONFIG: join(dir, 'policy.yaml'),
        OPS_STATE_DIR: stateDir,
        OPS_BACKUP_AGE_IDENTITY: identity,
        OPS_WORKER_METRICS_PORT: '0',
        OPS_LOG_LEVEL: 'error',
      },
      stdio: 'ignore',
    });
    dataWorkers.push(child);
    return child;
  }

  async function archiveStatus(): Promise<{ lag_bytes: string; updated_at: Date; last_segment: string } | undefined> {
    return (await clients.pool.query('SELECT lag_bytes, updated_at, last_segment FROM wal_archive_status WHERE database = $1', [database])).rows[0];
  }

  /** Waits until the archive holds everything the server had written at `since` (a switch, then an upload, came after it). */
  async function archiveCaughtUp(since: number): Promise<void> {
    await expect
      .poll(async () => {
        const status = await archiveStatus();
        return status !== undefined && status.lag_bytes === '0' && status.updated_at.getTime() > since + 2500;
      }, { timeout: 90_000, interval: 500 })
      .toBe(true);
  }

  async function rowsIn(outcome: PointInTimeRestoreOutcome): Promise<number[]> {
    restored.push(outcome.dataDirectory);
    const client = new pg.Client({ host: '127.0.0.1', port: outcome.port, user: 'postgres', database: database.replaceAll('-', '_') });
    await client.connect();
    try {
      return (await client.query<{ id: number }>('SELECT id FROM entries ORDER BY id')).rows.map((row) => row.id);
    } finally {
      await client.end();
    }
  }

  const restore = (args: Parameters<typeof databaseRestoreWorkflow>[0]) =>
    clients.client.workflow.execute(databaseRestoreWorkflow, { taskQueue, workflowId: `restore-pitr-${database}-${Date.now()}`, args: [args] }) as Promise<PointInTimeRestoreOutcome>;

  beforeAll(async () => {
    clients = await connectStack();
    dir = join(testStack().runDir, `pitr-${taskQueue.slice(-8)}`);
    mkdirSync(dir, { recursive: true });
    cluster = await startPrivateCluster(join(dir, 'pg'), join(dir, 'pg.log'));
    sourceUrl = await ensureDatabase(cluster.adminUrl, database.replaceAll('-', '_'));
    const source = new pg.Client({ connectionString: sourceUrl });
    await source.connect();
    await source.query(`CREATE TABLE entries (id serial PRIMARY KEY, note text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await source.end();

    const keyFile = join(dir, 'backup.key');
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
    identity = readFileSync(keyFile, 'utf8');
    const recipient = execFileSync('age-keygen', ['-y', keyFile]).toString().trim();
    const policy = {
      databases: { [database]: { url: sourceUrl } },
      backups: { retention: {}, walArchive: { databases: [database], switchInterval: '2s' }, encryption: { recipients: [recipient] } },
    };
    writeFileSync(join(dir, 'policy.yaml'), JSON.stringify(policy));
    const deps = clients.activityDeps({ policy: parsePolicy(policy, 'test'), taskQueue, dataTaskQueue: dataQueue, databaseUrl: (name) => (name === database ? sourceUrl : undefined) });
    worker = await startBackgroundWorker(taskQueue, createActivities(deps));
  }, 180_000);

  afterAll(async () => {
    await stopWriting();
    await clients.client.workflow.getHandle(`wal-archive-${database}`).terminate('test over').catch(() => undefined);
    for (const child of dataWorkers) child.kill('SIGKILL');
    spawnSync('pkill', ['-f', `pg_receivewal --directory ${stateDir}`]);
    for (const dataDirectory of restored) pgCtl(['-D', dataDirectory, 'stop', '-m', 'immediate']);
    await worker.stop();
    await cluster.process?.stop().catch(() => undefined);
    await clients.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('restores to an instant, to an LSN and to the latest, each with exactly the rows committed before it, through a killed archiver', async () => {
    startDataWorker();
    startWriting();
    await clients.client.workflow.start(walArchiveWorkflow, { taskQueue, workflowId: `wal-archive-${database}`, args: [{ database }] });
    await expect.poll(async () => (await archiveStatus())?.last_segment, { timeout: 60_000, interval: 500 }).toMatch(/^[0-9A-F]{24}$/);

    const base = await clients.client.workflow.execute(databaseBaseBackupWorkflow, { taskQueue, workflowId: `base-backup-${database}`, args: [{ database, requestedBy: 'test' }] });
    expect(base.manifest).toMatchObject({ kind: 'base', database, timeline: 1, walSegmentSize: 16 * 1024 * 1024, encryption: { format: 'age' } });
    expect(base.manifest.key).toMatch(/\/base\/\S+\.tar\.age$/);

    await sleep(3000);
    // The instant: when row k+1's insert began, after row k committed and before row k+1 did.
    const boundary = committed.length;
    await sleep(300);
    const target = committed[boundary]!.at;
    const before = committed.slice(0, boundary).map((row) => row.id);

    await sleep(1000);
    const position = await markPosition();
    await sleep(1000);
    dataWorkers[0]!.kill('SIGKILL');
    await sleep(3000);
    startDataWorker();
    await sleep(3000);
    await stopWriting();
    const stoppedAt = Date.now();
    await archiveCaughtUp(stoppedAt);

    // What the bucket holds: encrypted, gzipped 16 MiB segments the standard tools open.
    const objects = (await clients.s3.send(new ListObjectsV2Command({ Bucket: testStack().s3.bucket, Prefix: `backups/${database}/wal/` }))).Contents!.map((object) => object.Key!);
    expect(objects.length).toBeGreaterThan(3);
    expect(objects.every((key) => /\/wal\/([0-9A-F]{24}|[0-9A-F]{8}\.history)\.gz\.age$/.test(key))).toBe(true);
    const segment = Buffer.from(await (await clients.s3.send(new GetObjectCommand({ Bucket: testStack().s3.bucket, Key: objects.find((key) => /[0-9A-F]{24}\.gz\.age$/.test(key))! }))).Body!.transformToByteArray());
    writeFileSync(join(dir, 'segment.gz.age'), segment);
    expect(gunzipSync(execFileSync('age', ['--decrypt', '-i', join(dir, 'backup.key'), join(dir, 'segment.gz.age')], { maxBuffer: 64 * 1024 * 1024 })).length).toBe(16 * 1024 * 1024);

    const atInstant = await restore({ database, targetTime: target, promote: false });
    expect(atInstant).toMatchObject({ database, baseBackup: base.manifest.key, promoted: false });
    // The restored server sees no secret of the worker's: no S3 key, no age identity, no database URL.
    const postmaster = readFileSync(join(atInstant.dataDirectory, 'postmaster.pid'), 'utf8').split('\n')[0]!;
    const environment = readFileSync(`/proc/${postmaster}/environ`, 'utf8');
    for (const secret of ['S3_SECRET_ACCESS_KEY', 'OPS_BACKUP_AGE_IDENTITY', 'DATABASE_URL', 'AGE-SECRET-KEY']) expect(environment).not.toContain(secret);
    expect(await rowsIn(atInstant)).toEqual(before);
    // A base backup recovered from counts as verified.
    expect((await clients.pool.query('SELECT verified_at IS NOT NULL AS verified FROM base_backups WHERE object_key = $1', [base.manifest.key])).rows).toEqual([{ verified: true }]);

    const atLsn = await restore({ database, targetLsn: position.lsn });
    expect(atLsn.promoted).toBe(true);
    expect(await rowsIn(atLsn)).toEqual(committed.slice(0, position.committed).map((row) => row.id));

    const latest = await restore({ database, latest: true });
    expect(latest.promoted).toBe(true);
    expect(await rowsIn(latest)).toEqual(committed.map((row) => row.id));
    // The source was never touched: it still has every row, and the archiver still runs on it.
    expect((await clients.client.workflow.getHandle(`wal-archive-${database}`).describe()).status.name).toBe('RUNNING');
  }, 300_000);

  it('keeps the base backups retention keeps, the newest verified one and the WAL they need, deletes the rest, and still restores to the latest', async () => {
    const [first] = (await clients.pool.query<{ object_key: string }>('SELECT object_key FROM base_backups WHERE database = $1', [database])).rows;
    /** A base backup with keepLast 1, taken once every segment older than it is in the archive (one finishing meanwhile waits for the next retention). */
    const baseBackup = async () => {
      startWriting();
      await sleep(2000);
      await stopWriting();
      await archiveCaughtUp(Date.now());
      return clients.client.workflow.execute(databaseBaseBackupWorkflow, { taskQueue, workflowId: `base-backup-${database}`, args: [{ database, retention: { keepLast: 1 }, requestedBy: 'test' }] });
    };
    // The first was recovered from (verified): keepLast 1 keeps the new one, and the first as the newest verified.
    const second = await baseBackup();
    expect(second.retention).toMatchObject({ kept: 2, deleted: [] });
    const fromSecond = await restore({ database, latest: true });
    expect(fromSecond.baseBackup).toBe(second.manifest.key);
    // Now the second is the newest verified one: the first goes, and every WAL segment before the second's first.
    const third = await baseBackup();
    expect(third.retention).toMatchObject({ kept: 2, deleted: [first!.object_key] });
    expect(third.retention.walDeleted).toBeGreaterThan(0);

    const keys = async (under: string) =>
      ((await clients.s3.send(new ListObjectsV2Command({ Bucket: testStack().s3.bucket, Prefix: `backups/${database}/${under}/` }))).Contents ?? []).map((object) => object.Key!);
    expect((await keys('base')).sort()).toEqual([second.manifest.key, `${second.manifest.key}.manifest.json`, third.manifest.key, `${third.manifest.key}.manifest.json`].sort());
    const segments = (await keys('wal')).map((key) => walFileOfKey(key)!).filter((file) => /^[0-9A-F]{24}$/.test(file));
    expect(segments[0]).toBe(segmentName(second.manifest.timeline, second.manifest.startLsn, second.manifest.walSegmentSize));
    expect((await clients.pool.query('SELECT count(*)::int AS n FROM base_backups WHERE database = $1', [database])).rows).toEqual([{ n: 2 }]);

    startWriting();
    await sleep(2000);
    await stopWriting();
    await archiveCaughtUp(Date.now());
    const latest = await restore({ database, latest: true });
    expect(latest.baseBackup).toBe(third.manifest.key);
    expect(await rowsIn(latest)).toEqual(committed.map((row) => row.id));
  }, 240_000);

  it('loses nothing older than the switch interval when the source is stopped hard (RPO)', async () => {
    const from = committed.length;
    startWriting();
    await sleep(8000);
    // An immediate shutdown, as a crash: nothing is flushed to the archive on the way down.
    const crashedAt = Date.now();
    const location = join(dir, 'pg', 'location');
    pgCtl(['-D', join(existsSync(location) ? readFileSync(location, 'utf8').trim() : join(dir, 'pg'), 'data'), 'stop', '-m', 'immediate']);
    await stopWriting();
    // The archiver had up to one switch interval (2 s) of WAL not yet in a closed segment.
    await sleep(5000);
    const latest = await restore({ database, latest: true });
    const present = new Set(await rowsIn(latest));
    const written = committed.slice(from);
    const missing = written.filter((row) => !present.has(row.id));
    const oldestMissingAgeS = missing.length === 0 ? 0 : (crashedAt - Math.min(...missing.map((row) => row.seenAt))) / 1000;
    process.stdout.write(`rpo: ${missing.length} of ${written.length} rows committed before the crash are not in the archive; the oldest was committed ${oldestMissingAgeS.toFixed(1)} s before it (target: none older than 60 s)\n`);
    expect(oldestMissingAgeS).toBeLessThan(60);
    // Every row the archive has is one that was committed, in order, with none skipped.
    expect([...present].slice(from)).toEqual(written.map((row) => row.id).filter((id) => present.has(id)));
  }, 240_000);
});
