import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createS3Client, ensureBucket } from '../../src/clients/s3.js';
import { freePort } from '../../scripts/stack/net.js';
import { dropDatabase } from '../../scripts/stack/postgres.js';
import { startMinio, type RunningMinio } from '../../scripts/stack/minio.js';
import { ensureTool } from '../../scripts/stack/tools.js';
import { databaseBackupWorkflow, databaseRestoreDrillWorkflow, progressQuery, type BackupProgress } from '../../workflows/database-backup.js';
import { statusWhen } from '../support/incidents.js';
import { connectStack, seededDatabase, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * Backups when the systems under them fail: S3 (a MinIO of the test's own)
 * stopped in the middle of an upload, and a PostgreSQL that does not answer.
 * Nothing is left half-written, and a backup that cannot be made opens an
 * incident that the next good backup resolves.
 */
describe('database backup under failure', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let minio: RunningMinio;
  let minioOptions: Parameters<typeof startMinio>[0];
  let proxy: TcpProxy;
  let s3: S3Client;
  let sourceUrl: string;
  let stateDir: string;
  const taskQueue = uniqueTaskQueue('backup-chaos');
  const suffix = taskQueue.slice(-8);
  const source = `ops_backup_chaos_${suffix}`;
  const large = `big-${suffix}`;
  const flaky = `flaky-${suffix}`;
  const bucket = 'backup-chaos';
  // The flaky database's URL: first a port nobody listens on, later the real one.
  let flakyUrl = 'postgres://postgres@127.0.0.1:1/nowhere';

  beforeAll(async () => {
    clients = await connectStack();
    // About 40 MB of random bytes: pg_dump cannot compress them, so the upload takes several parts.
    sourceUrl = await seededDatabase(source, `
      CREATE TABLE blobs (id int PRIMARY KEY, body bytea NOT NULL);
      INSERT INTO blobs SELECT n, decode(md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text), 'hex')
        FROM generate_series(1, 600000) n;
    `);

    stateDir = mkdtempSync(join(tmpdir(), 'ops-minio-chaos-'));
    minioOptions = {
      binary: await ensureTool('minio', () => undefined),
      port: await freePort(),
      consolePort: await freePort(),
      dataDir: join(stateDir, 'data'),
      accessKey: 'chaosadmin',
      secretKey: 'chaosadmin-secret',
      logFile: join(stateDir, 'minio.log'),
    };
    minio = await startMinio(minioOptions);
    proxy = new TcpProxy('127.0.0.1', minioOptions.port);
    await proxy.start();
    s3 = createS3Client({
      S3_ENDPOINT: `http://${proxy.address}`,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: minioOptions.accessKey,
      S3_SECRET_ACCESS_KEY: minioOptions.secretKey,
    });
    await ensureBucket(s3, bucket);
    const deps = clients.activityDeps({
      s3,
      bucket,
      taskQueue,
      progressIntervalMs: 100,
      databaseUrl: (name) => ({ [large]: sourceUrl, [flaky]: flakyUrl })[name],
    });
    worker = await startBackgroundWorker(taskQueue, createActivities(deps));
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    s3?.destroy();
    await proxy?.cut();
    await minio?.process.stop();
    await clients.close();
    await dropDatabase(testStack().adminDatabaseUrl, source);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('survives S3 going down mid-upload: the retry aborts the first multipart upload and writes one manifest', async () => {
    const handle = await clients.client.workflow.start(databaseBackupWorkflow, {
      taskQueue,
      workflowId: `backup-${large}`,
      args: [{ database: large, verify: true }],
    });
    // Stop MinIO once 12 MiB of the dump have gone through: an upload is under way.
    await proxy.whenForwarded(12 * 1024 * 1024);
    await minio.process.stop();
    const during = await handle.query(progressQuery);
    expect(during.phase).toBe('dumping');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    minio = await startMinio(minioOptions);
    // The first attempt's multipart upload is still there: MinIO never heard its abort.
    // (MinIO lists multipart uploads by exact object key only.)
    const leftover = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: during.key }));
    expect(leftover.Uploads?.length ?? 0).toBe(1);

    // Live figures from the second attempt reach the progress query before it finishes.
    const seen: BackupProgress[] = [];
    let result: Awaited<ReturnType<typeof handle.result>> | undefined;
    const finished = handle.result().then((value) => (result = value));
    const heartbeats: { bytes: number; bytesPerSecond: number }[] = [];
    while (!result) {
      seen.push(await handle.query(progressQuery));
      const pending = (await handle.describe()).raw.pendingActivities?.find((activity) => activity.activityType?.name === 'dumpToS3');
      const details = pending?.heartbeatDetails?.payloads?.[0]?.data;
      if (details) heartbeats.push(JSON.parse(Buffer.from(details).toString()) as (typeof heartbeats)[number]);
      await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    expect(seen.some((progress) => progress.phase === 'dumping' && progress.attempt === 2 && (progress.bytes ?? 0) > 0 && (progress.bytesPerSecond ?? 0) > 0)).toBe(true);
    // The same figures are in the dump's heartbeat, where the Web UI shows them.
    expect(heartbeats.some((beat) => beat.bytes > 0 && beat.bytesPerSecond > 0)).toBe(true);

    expect(result.manifest.bytes).toBeGreaterThan(30 * 1024 * 1024);
    expect(result.verification).toEqual({ tables: 1, rows: 600000 });
    expect(result.manifest.key).toBe(during.key);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: during.key }));
    expect(uploads.Uploads ?? []).toEqual([]);
    const objects = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `backups/${large}/` }));
    expect((objects.Contents ?? []).map((object) => object.Key).sort()).toEqual([result.manifest.key, `${result.manifest.key}.manifest.json`]);
    const manifest = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${result.manifest.key}.manifest.json` }));
    expect(JSON.parse(await manifest.Body!.transformToString())).toEqual(result.manifest);
    // Its parts went unsigned, each with a CRC32 that MinIO checked and kept: the object's checksum covers every part.
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: result.manifest.key, ChecksumMode: 'ENABLED' }));
    expect(result.manifest.partSize).toBe(8 * 1024 * 1024);
    expect(head.ChecksumCRC32).toMatch(new RegExp(`^[A-Za-z0-9+/]{6}==-${Math.ceil(result.manifest.bytes / result.manifest.partSize!)}$`));
  });

  it('fails after its last retry when PostgreSQL does not answer, opens an incident, and the next good backup resolves it', async () => {
    const failing = await clients.client.workflow.start(databaseBackupWorkflow, {
      taskQueue,
      workflowId: `backup-${flaky}`,
      args: [{ database: flaky, attempts: 2, requestedBy: 'nightly' }],
    });
    const failure = await failing.result().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause?.message).toMatch(
      new RegExp(`^backup of "${flaky}" failed: cannot connect to database "${flaky}" \\(127\\.0\\.0\\.1:1/nowhere\\): .*ECONNREFUSED`),
    );
    const history = await failing.fetchHistory();
    const attempts = history.events!.filter((event) => event.activityTaskStartedEventAttributes).map((event) => event.activityTaskStartedEventAttributes!.attempt);
    expect(attempts).toContain(2);
    expect((await failing.query(progressQuery)).phase).toBe('failed');

    const incident = clients.client.workflow.getHandle(`incident-backup-failed-${flaky}`);
    const open = await statusWhen(incident, (status) => status.alerts.some((alert) => alert.status === 'firing'));
    expect(open).toMatchObject({ state: 'triggered', severity: 'high', service: flaky, title: `Backup of ${flaky} failed` });
    expect(open.alerts[0]!.labels).toMatchObject({ alertname: 'DatabaseBackupFailed', database: flaky });
    expect(open.alerts[0]!.annotations.description).toMatch(/ECONNREFUSED/);

    flakyUrl = sourceUrl;
    await clients.client.workflow.execute(databaseBackupWorkflow, {
      taskQueue,
      workflowId: `backup-${flaky}`,
      args: [{ database: flaky, verify: false }],
    });
    const cleared = await statusWhen(incident, (status) => status.alerts.every((alert) => alert.status === 'resolved'));
    expect(cleared.alerts.map((alert) => alert.status)).toEqual(['resolved']);
    expect(cleared.timeline.map((event) => event.kind)).toContain('alert-resolved');
  });

  it('opens an incident when the restore drill cannot restore the newest backup, and the next good drill resolves it', async () => {
    // The newest backup of the flaky database (made above) rots in the bucket.
    const [newest] = (await clients.pool.query<{ object_key: string }>(`SELECT object_key FROM backups WHERE database = $1 ORDER BY finished_at DESC LIMIT 1`, [flaky])).rows;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: newest!.object_key, Body: 'bit rot' }));
    const drill = () => clients.client.workflow.execute(databaseRestoreDrillWorkflow, { taskQueue, workflowId: `restore-drill-${flaky}-${Date.now()}`, args: [{ database: flaky }] });
    const failure = await drill().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause?.message).toMatch(new RegExp(`^restore drill of "${flaky}" failed: s3://${bucket}/\\S+ has SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}: the backup is corrupt$`));

    const incident = clients.client.workflow.getHandle(`incident-restore-drill-failed-${flaky}`);
    const open = await statusWhen(incident, (status) => status.alerts.some((alert) => alert.status === 'firing'));
    expect(open).toMatchObject({ state: 'triggered', severity: 'high', service: flaky, title: `Restore drill of ${flaky} failed` });
    expect(open.alerts[0]!.labels).toMatchObject({ alertname: 'DatabaseRestoreDrillFailed', database: flaky });
    expect(open.alerts[0]!.annotations.description).toMatch(/the backup is corrupt/);

    await clients.client.workflow.execute(databaseBackupWorkflow, { taskQueue, workflowId: `backup-${flaky}`, args: [{ database: flaky, verify: false }] });
    await expect(drill()).resolves.toMatchObject({ tables: 1, rows: 600000 });
    const cleared = await statusWhen(incident, (status) => status.alerts.every((alert) => alert.status === 'resolved'));
    expect(cleared.alerts.map((alert) => alert.status)).toEqual(['resolved']);
  });
});
