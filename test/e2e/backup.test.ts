import { createHash } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietSdkLogger } from '../support/quiet-log.js';
import { createBackupActivities } from '../../activities/backup.js';
import type { BackupManifest } from '../../src/domain/backup.js';
import { createActivities } from '../../activities/index.js';
import { dropDatabase } from '../../scripts/stack/postgres.js';
import { databaseBackupWorkflow, databaseRestoreDrillWorkflow, progressQuery } from '../../workflows/database-backup.js';
import { connectStack, seededDatabase, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * databaseBackupWorkflow against the real PostgreSQL and MinIO: pg_dump
 * streamed to S3, a manifest beside it, a restore into a scratch database
 * that must give back every row, and a corrupted dump caught.
 */
describe('database backup', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  /** The backup activities outside a worker, for what a workflow run cannot stage (a corrupt file, heartbeats). */
  let activities: ReturnType<typeof createBackupActivities>;
  let sourceUrl: string;
  const source = `ops_backup_src_${Date.now().toString(36)}`;
  const taskQueue = uniqueTaskQueue('backup');
  const database = `orders-${taskQueue.slice(-8)}`;
  const text = async (key: string) =>
    (await (await clients.s3.send(new GetObjectCommand({ Bucket: testStack().s3.bucket, Key: key }))).Body!.transformToByteArray());

  beforeAll(async () => {
    clients = await connectStack();
    sourceUrl = await seededDatabase(source, `
      CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
      CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers(id), total numeric(10,2), placed_at timestamptz DEFAULT now());
      CREATE SCHEMA billing;
      CREATE TABLE billing.invoices (id serial PRIMARY KEY, body jsonb);
      INSERT INTO customers (name) SELECT 'customer ' || n FROM generate_series(1, 500) n;
      INSERT INTO orders (customer_id, total) SELECT 1 + n % 500, n * 1.5 FROM generate_series(1, 20000) n;
      INSERT INTO billing.invoices (body) SELECT jsonb_build_object('n', n) FROM generate_series(1, 300) n;
    `);
    const deps = clients.activityDeps({ databaseUrl: (name) => (name === database ? sourceUrl : undefined) });
    activities = createBackupActivities(deps);
    worker = await startBackgroundWorker(taskQueue, createActivities(deps));
  });

  afterAll(async () => {
    await worker.stop();
    await clients.close();
    await dropDatabase(testStack().adminDatabaseUrl, source);
  });

  it('streams pg_dump to S3, writes the manifest, and restores every row into a scratch database', async () => {
    const handle = await clients.client.workflow.start(databaseBackupWorkflow, {
      taskQueue,
      workflowId: `backup-${database}`,
      args: [{ database, requestedBy: 'alice' }],
    });
    // A second backup of the same database while one runs is refused by Temporal.
    await expect(
      clients.client.workflow.start(databaseBackupWorkflow, { taskQueue, workflowId: `backup-${database}`, args: [{ database }] }),
    ).rejects.toThrow(/already started/i);
    const result = await handle.result();

    expect(result.manifest).toMatchObject({
      database,
      bytes: expect.any(Number),
      tables: { 'public.customers': 500, 'public.orders': 20000, 'billing.invoices': 300 },
      // A small database: the floor part size.
      partSize: 8 * 1024 * 1024,
    });
    expect(result.manifest.key).toMatch(new RegExp(`^backups/${database}/\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\dZ-[0-9a-f]{8}\\.dump$`));
    expect(result.verification).toEqual({ tables: 3, rows: 20800 });

    const dump = await text(result.manifest.key);
    expect(dump.length).toBe(result.manifest.bytes);
    expect(createHash('sha256').update(dump).digest('hex')).toBe(result.manifest.sha256);
    expect(Buffer.from(dump.subarray(0, 5)).toString()).toBe('PGDMP');
    const manifest = JSON.parse(Buffer.from(await text(`${result.manifest.key}.manifest.json`)).toString()) as BackupManifest;
    expect(manifest).toEqual(result.manifest);

    const progress = await handle.query(progressQuery);
    expect(progress.phase).toBe('succeeded');
    const { rows } = await clients.pool.query(`SELECT bytes, sha256, verified_at IS NOT NULL AS verified FROM backups WHERE object_key = $1`, [result.manifest.key]);
    expect(rows).toEqual([{ bytes: String(result.manifest.bytes), sha256: result.manifest.sha256, verified: true }]);
    const audit = await clients.pool.query(`SELECT actor, action, target FROM audit_events WHERE idempotency_key = $1`, [`backup:${result.manifest.key}`]);
    expect(audit.rows).toEqual([{ actor: 'alice', action: 'database.backup', target: `postgres/${database}` }]);
  });

  it('runs a start under another workflow ID (as a schedule makes) as the database\'s one backup, refused while another runs', async () => {
    const delegated = await clients.client.workflow.execute(databaseBackupWorkflow, { taskQueue, workflowId: `nightly-${database}`, args: [{ database, verify: false }] });
    expect(delegated.manifest).toMatchObject({ database, tables: { 'public.orders': 20000 } });
    const child = await clients.client.workflow.getHandle(`backup-${database}`).describe();
    expect(child.parentExecution?.workflowId).toBe(`nightly-${database}`);

    // A backup of the database that no worker picks up stays running: the next start must be refused.
    const stuck = await clients.client.workflow.start(databaseBackupWorkflow, { taskQueue: `${taskQueue}-nobody`, workflowId: `backup-${database}`, args: [{ database }] });
    try {
      const handle = await clients.client.workflow.start(databaseBackupWorkflow, { taskQueue, workflowId: `nightly-2-${database}`, args: [{ database }] });
      const failure = await handle.result().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect(String((failure as WorkflowFailedError).cause?.message)).toBe(
        `a backup of "${database}" is already running (backup-${database}); this one did not start`,
      );
    } finally {
      await stuck.terminate('test over');
    }
  });

  it('catches a corrupted dump before anyone relies on it', async () => {
    const [latest] = (await clients.pool.query<{ object_key: string }>(`SELECT object_key FROM backups WHERE database = $1`, [database])).rows;
    const manifest = JSON.parse(Buffer.from(await text(`${latest!.object_key}.manifest.json`)).toString()) as BackupManifest;
    const corrupted = Buffer.from(await text(manifest.key));
    const middle = corrupted.length >> 1;
    corrupted[middle] = corrupted[middle]! ^ 0xff;
    const key = `${manifest.key}.corrupted`;
    await clients.s3.send(new PutObjectCommand({ Bucket: manifest.bucket, Key: key, Body: corrupted }));

    const environment = new MockActivityEnvironment(undefined, { logger: quietSdkLogger });
    await expect(environment.run(activities.verifyBackup, { manifest: { ...manifest, key }, requestedBy: 'test' })).rejects.toThrow(
      /has SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}: the backup is corrupt/,
    );
    // A dump that matches its manifest but not the rows it claims is caught by the restore.
    const lying = { ...manifest, tables: { ...manifest.tables, 'public.orders': 19999 } };
    await expect(environment.run(activities.verifyBackup, { manifest: lying, requestedBy: 'test' })).rejects.toThrow(
      'public.orders: dumped 19999, restored 20000',
    );
  });

  it('shows what the verification is doing in its heartbeats, and names pg_restore\'s error, not its progress', async () => {
    // The backup verified already: verifying it again leaves the retention test's set as it was.
    const [verified] = (await clients.pool.query<{ object_key: string }>(`SELECT object_key FROM backups WHERE database = $1 AND verified_at IS NOT NULL`, [database])).rows;
    const manifest = JSON.parse(Buffer.from(await text(`${verified!.object_key}.manifest.json`)).toString()) as BackupManifest;
    const environment = new MockActivityEnvironment(undefined, { logger: quietSdkLogger });
    const beats: { phase: string; bytes?: number; step?: string }[] = [];
    environment.on('heartbeat', (details: (typeof beats)[number]) => beats.push(details));
    await expect(environment.run(activities.verifyBackup, { manifest, requestedBy: 'test' })).resolves.toEqual({ tables: 3, rows: 20800 });
    expect(beats).toContainEqual({ phase: 'downloading', bytes: manifest.bytes });
    const steps = beats.filter((beat) => beat.phase === 'restoring').map((beat) => beat.step);
    expect(steps).toContainEqual(expect.stringMatching(/TABLE DATA .*orders/));
    expect(steps).toContainEqual(expect.stringMatching(/CONSTRAINT .*orders_pkey/));

    // A file that matches its manifest's SHA-256 but is no dump: the error is pg_restore's, without its progress lines.
    const garbage = Buffer.from('not a dump at all\n');
    const key = `${manifest.key}.garbage`;
    await clients.s3.send(new PutObjectCommand({ Bucket: manifest.bucket, Key: key, Body: garbage }));
    const failure = environment.run(activities.verifyBackup, { manifest: { ...manifest, key, bytes: garbage.length, sha256: createHash('sha256').update(garbage).digest('hex') }, requestedBy: 'test' });
    await expect(failure).rejects.toThrow(`pg_restore could not restore ${key}: pg_restore exited with 1: pg_restore: error: input file does not appear to be a valid archive`);
  });

  it('keeps what the retention policy says, and always the newest verified backup', async () => {
    const run = (args: Parameters<typeof databaseBackupWorkflow>[0]) =>
      clients.client.workflow.execute(databaseBackupWorkflow, { taskQueue, workflowId: `backup-${database}`, args: [args] });
    const unverified = [await run({ database, verify: false }), await run({ database, verify: false })];
    const before = (await clients.pool.query<{ object_key: string; verified: boolean }>(
      `SELECT object_key, verified_at IS NOT NULL AS verified FROM backups WHERE database = $1 ORDER BY finished_at DESC`,
      [database],
    )).rows;
    const newest = await run({ database, verify: false, retention: { keepLast: 1 }, requestedBy: 'retention-test' });

    const remaining = (await clients.pool.query<{ object_key: string }>(`SELECT object_key FROM backups WHERE database = $1 ORDER BY finished_at`, [database])).rows.map((row) => row.object_key);
    const verified = (await clients.pool.query<{ object_key: string }>(`SELECT object_key FROM backups WHERE database = $1 AND verified_at IS NOT NULL`, [database])).rows.map((row) => row.object_key);
    expect(verified).toHaveLength(1);
    expect(remaining).toEqual([verified[0], newest.manifest.key]);
    // Everything but the newest and the newest verified goes, newest first.
    const doomed = before.filter((row) => !row.verified).map((row) => row.object_key);
    expect(doomed.slice(0, 2)).toEqual(unverified.map((result) => result.manifest.key).reverse());
    expect(newest.retention).toEqual({ kept: 2, deleted: doomed });
    for (const result of unverified) {
      await expect(text(result.manifest.key)).rejects.toThrow(/does not exist/);
      await expect(text(`${result.manifest.key}.manifest.json`)).rejects.toThrow(/does not exist/);
    }
    const audit = await clients.pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE action = 'database.backup.delete' AND actor = 'retention-test'`);
    expect(audit.rows[0].n).toBe(doomed.length);
  });

  it('drills a restore of the newest backup', async () => {
    const [newest] = (await clients.pool.query<{ object_key: string }>(`SELECT object_key FROM backups WHERE database = $1 ORDER BY finished_at DESC LIMIT 1`, [database])).rows;
    const drill = await clients.client.workflow.execute(databaseRestoreDrillWorkflow, { taskQueue, workflowId: `restore-drill-${database}`, args: [{ database }] });
    expect(drill).toEqual({ key: newest!.object_key, tables: 3, rows: 20800 });
  });

  it('backs up into the bucket it is given and drills the restore from there; a missing or misspelt bucket fails at once', async () => {
    const run = (bucket: string, verify = false) =>
      clients.client.workflow.execute(databaseBackupWorkflow, { taskQueue, workflowId: `backup-${database}`, args: [{ database, bucket, verify }] });
    const other = `ops-offsite-${Date.now().toString(36)}`;
    await clients.s3.send(new CreateBucketCommand({ Bucket: other }));

    const missing = `${other}-gone`;
    const failure = await run(missing).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause?.message).toBe(`backup of "${database}" failed: bucket "${missing}" does not exist: create it, or name another one`);
    // Retrying cannot create a bucket: one attempt, not five.
    const history = await clients.client.workflow.getHandle(`backup-${database}`).fetchHistory();
    const events = history.events!;
    const activityOf = new Map(events.filter((event) => event.activityTaskScheduledEventAttributes).map((event) => [String(event.eventId), event.activityTaskScheduledEventAttributes!.activityType!.name]));
    const started = events
      .filter((event) => event.activityTaskStartedEventAttributes)
      .map((event) => [activityOf.get(String(event.activityTaskStartedEventAttributes!.scheduledEventId)), event.activityTaskStartedEventAttributes!.attempt]);
    expect(started).toEqual([['backupDefaults', 1], ['dumpToS3', 1], ['raiseIncident', 1]]);
    const misspelt = await run('Offsite_Backups').catch((error: unknown) => error);
    expect((misspelt as WorkflowFailedError).cause?.message).toBe('bucket name "Offsite_Backups" may hold only lower-case letters, digits, "." and "-"');

    const result = await run(other, true);
    expect(result.manifest.bucket).toBe(other);
    expect(result.verification).toEqual({ tables: 3, rows: 20800 });
    await clients.s3.send(new HeadObjectCommand({ Bucket: other, Key: result.manifest.key }));
    await clients.s3.send(new HeadObjectCommand({ Bucket: other, Key: `${result.manifest.key}.manifest.json` }));
    await expect(clients.s3.send(new HeadObjectCommand({ Bucket: testStack().s3.bucket, Key: result.manifest.key }))).rejects.toThrow();
    const { rows } = await clients.pool.query(`SELECT bucket FROM backups WHERE object_key = $1`, [result.manifest.key]);
    expect(rows).toEqual([{ bucket: other }]);
    const drill = await clients.client.workflow.execute(databaseRestoreDrillWorkflow, { taskQueue, workflowId: `restore-drill-${database}-offsite`, args: [{ database }] });
    expect(drill).toEqual({ key: result.manifest.key, tables: 3, rows: 20800 });
  });

  it('sizes its parts for the dump it expects, so a database whose last dump was 100 GiB still fits S3\'s 10,000 parts', async () => {
    const previous = `backups/${database}/a-100-gib-dump-of-last-night.dump`;
    await clients.pool.query(
      `INSERT INTO backups (database, bucket, object_key, manifest_key, bytes, sha256, server_version, started_at, finished_at, workflow_id)
       VALUES ($1, $2, $3, $3 || '.manifest.json', $4, repeat('0', 64), '17', now() - interval '2 hours', now() - interval '1 hour', 'test')`,
      [database, testStack().s3.bucket, previous, 100 * 1024 ** 3],
    );
    try {
      const result = await clients.client.workflow.execute(databaseBackupWorkflow, { taskQueue, workflowId: `backup-${database}`, args: [{ database, verify: false }] });
      // 10,000 parts must hold twice the expected 100 GiB: 21 MiB parts (8 MiB parts stop at 78 GiB).
      expect(result.manifest.partSize).toBe(21 * 1024 * 1024);
      const manifest = JSON.parse(Buffer.from(await text(`${result.manifest.key}.manifest.json`)).toString()) as BackupManifest;
      expect(manifest.partSize).toBe(21 * 1024 * 1024);
    } finally {
      await clients.pool.query(`DELETE FROM backups WHERE object_key = $1`, [previous]);
    }
  });
});
