import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createBackupActivities } from '../../activities/backup.js';
import { parsePolicy } from '../../src/config/policy.js';
import type { BackupManifest } from '../../src/domain/backup.js';
import { dropDatabase } from '../../scripts/stack/postgres.js';
import { databaseBackupWorkflow } from '../../workflows/database-backup.js';
import { quietSdkLogger } from '../support/quiet-log.js';
import { connectStack, seededDatabase, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * Encrypted backups against the real PostgreSQL and MinIO, with keys made by
 * the standard `age-keygen`: the dump leaves the worker as an age file that
 * the standard `age` tool decrypts, verification decrypts on the fly, and a
 * missing or wrong identity is a final error that says which.
 */
describe('encrypted backups', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let sourceUrl: string;
  const keys = mkdtempSync(join(tmpdir(), 'ops-age-'));
  const identityFile = join(keys, 'backup.key');
  const otherIdentityFile = join(keys, 'other.key');
  const source = `ops_backup_age_${Date.now().toString(36)}`;
  const taskQueue = uniqueTaskQueue('backup-age');
  const database = `vault-${taskQueue.slice(-8)}`;
  const object = async (key: string) => Buffer.from(await (await clients.s3.send(new GetObjectCommand({ Bucket: testStack().s3.bucket, Key: key }))).Body!.transformToByteArray());
  let recipient: string;
  let manifest: BackupManifest;

  beforeAll(async () => {
    clients = await connectStack();
    execFileSync('age-keygen', ['-o', identityFile], { stdio: 'ignore' });
    execFileSync('age-keygen', ['-o', otherIdentityFile], { stdio: 'ignore' });
    recipient = execFileSync('age-keygen', ['-y', identityFile]).toString().trim();
    const otherRecipient = execFileSync('age-keygen', ['-y', otherIdentityFile]).toString().trim();
    sourceUrl = await seededDatabase(source, `
      CREATE TABLE secrets (id serial PRIMARY KEY, body text NOT NULL);
      INSERT INTO secrets (body) SELECT 'secret number ' || n FROM generate_series(1, 5000) n;
    `);
    const policy = parsePolicy({ backups: { encryption: { recipients: [recipient, otherRecipient] }, retention: {} } }, 'test');
    const deps = clients.activityDeps({ policy, databaseUrl: (name) => (name === database ? sourceUrl : undefined), ageIdentity: () => readFileSync(identityFile, 'utf8') });
    worker = await startBackgroundWorker(taskQueue, createActivities(deps));
  });

  afterAll(async () => {
    await worker.stop();
    await clients.close();
    await dropDatabase(testStack().adminDatabaseUrl, source);
    rmSync(keys, { recursive: true, force: true });
  });

  it('writes an age file the standard age tool decrypts, and verifies it by decrypting on the fly', async () => {
    const handle = await clients.client.workflow.start(databaseBackupWorkflow, { taskQueue, workflowId: `backup-${database}`, args: [{ database, requestedBy: 'alice' }] });
    const result = await handle.result();
    manifest = result.manifest;
    expect(manifest.key).toMatch(/\.dump\.age$/);
    expect(manifest.encryption).toEqual({ format: 'age', recipients: [recipient, expect.stringMatching(/^age1/)] });
    expect(result.verification).toEqual({ tables: 1, rows: 5000 });

    const stored = await object(manifest.key);
    expect(stored.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    expect(stored.includes('secret number')).toBe(false);
    expect(stored.length).toBe(manifest.bytes);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(manifest.sha256);
    // The manifest stays readable: what is stored, and what to check it by.
    const readable = JSON.parse((await object(`${manifest.key}.manifest.json`)).toString()) as BackupManifest;
    expect(readable).toEqual(manifest);

    const file = join(keys, 'backup.dump.age');
    writeFileSync(file, stored);
    const plain = execFileSync('age', ['--decrypt', '-i', identityFile, file]);
    expect(plain.subarray(0, 5).toString()).toBe('PGDMP');
    expect(plain.length).toBe(manifest.plainBytes);
    writeFileSync(join(keys, 'backup.dump'), plain);
    expect(execFileSync('pg_restore', ['--list', join(keys, 'backup.dump')]).toString()).toMatch(/TABLE DATA public secrets/);
    // Either recipient's identity opens it.
    expect(execFileSync('age', ['--decrypt', '-i', otherIdentityFile, file]).equals(plain)).toBe(true);

    // The identity is in no history and no audit row.
    const secret = readFileSync(identityFile, 'utf8').match(/AGE-SECRET-KEY-1\w+/)![0];
    expect(JSON.stringify(await handle.fetchHistory())).not.toContain(secret);
    expect(JSON.stringify(await handle.fetchHistory())).not.toContain('AGE-SECRET-KEY');
    const audit = await clients.pool.query(`SELECT details FROM audit_events WHERE idempotency_key = $1`, [`backup:${manifest.key}`]);
    expect(audit.rows).toEqual([{ details: expect.objectContaining({ encryptedTo: manifest.encryption!.recipients }) }]);
    expect(JSON.stringify(audit.rows)).not.toContain('AGE-SECRET-KEY');
  });

  it('refuses, finally and by name, to verify without the identity or with one that does not open the object', async () => {
    const environment = new MockActivityEnvironment(undefined, { logger: quietSdkLogger });
    const base = { databaseUrl: (name: string) => (name === database ? sourceUrl : undefined) };
    const withoutIdentity = createBackupActivities(clients.activityDeps({ ...base, ageIdentity: () => undefined }));
    const where = `s3://${manifest.bucket}/${manifest.key}`;
    const missing = await environment.run(withoutIdentity.verifyBackup, { manifest, requestedBy: 'test' }).catch((error: unknown) => error);
    expect(missing).toMatchObject({
      type: 'Unauthorized',
      nonRetryable: true,
      message: `${where} is encrypted with age and OPS_BACKUP_AGE_IDENTITY is not set on this worker: give it the identity of one of ${manifest.encryption!.recipients.join(', ')}`,
    });

    const strangerFile = join(keys, 'stranger.key');
    execFileSync('age-keygen', ['-o', strangerFile], { stdio: 'ignore' });
    const withStranger = createBackupActivities(clients.activityDeps({ ...base, ageIdentity: () => readFileSync(strangerFile, 'utf8') }));
    const wrong = await environment.run(withStranger.verifyBackup, { manifest, requestedBy: 'test' }).catch((error: unknown) => error);
    expect(wrong).toMatchObject({ type: 'Unauthorized', nonRetryable: true, message: `OPS_BACKUP_AGE_IDENTITY does not decrypt ${where}: it is encrypted to ${manifest.encryption!.recipients.join(', ')}` });
    expect(String((wrong as Error).message)).not.toContain('AGE-SECRET-KEY');
  });

  it('catches a changed byte in the encrypted object', async () => {
    const corrupted = await object(manifest.key);
    const middle = corrupted.length >> 1;
    corrupted[middle] = corrupted[middle]! ^ 0x01;
    const key = `${manifest.key}.corrupted`;
    await clients.s3.send(new PutObjectCommand({ Bucket: manifest.bucket, Key: key, Body: corrupted }));
    const environment = new MockActivityEnvironment(undefined, { logger: quietSdkLogger });
    const activities = createBackupActivities(clients.activityDeps({ databaseUrl: (name) => (name === database ? sourceUrl : undefined), ageIdentity: () => readFileSync(identityFile, 'utf8') }));
    const failure = await environment.run(activities.verifyBackup, { manifest: { ...manifest, key }, requestedBy: 'test' }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ type: 'IntegrityCheckFailed', nonRetryable: true, message: expect.stringMatching(new RegExp(`^s3://${manifest.bucket}/${key.replaceAll('.', '\\.')} cannot be decrypted \\(.+\\): the object is corrupt$`)) });
  });
});
