import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { dropDatabase } from '../../scripts/stack/postgres.js';
import { databaseBackupWorkflow } from '../../workflows/database-backup.js';
import { databaseRestoreWorkflow } from '../../workflows/database-restore.js';
import { approveRestoreUpdate, rejectRestoreUpdate, restoreProgressQuery, type DatabaseRestoreResult, type RestoreProgress } from '../../workflows/database-restore-contract.js';
import { statusWhen } from '../support/incidents.js';
import { opsctlAsync } from '../support/opsctl.js';
import { connectStack, seededDatabase, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * databaseRestoreWorkflow against the real PostgreSQL and MinIO: a backup
 * restored into a new database; an existing one refused without --replace,
 * replaced only after an allowed person approves, and kept renamed aside; a
 * failed restore opening an incident; opsctl driving all of it.
 */
describe('restore into a target database', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let sourceUrl: string;
  let backupKey: string;
  const taskQueue = uniqueTaskQueue('restore');
  const suffix = taskQueue.slice(-8).replaceAll('-', '_');
  const source = `ops_restore_src_${suffix}`;
  const database = `ledger-${suffix.replaceAll('_', '-')}`;
  const made: string[] = [];
  /** A database name this test may create, dropped afterwards. */
  const target = (name: string) => {
    const full = `ops_rt_${name}_${suffix}`;
    made.push(full);
    return full;
  };
  const urlOf = (name: string) => {
    const url = new URL(sourceUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
  async function query<T extends pg.QueryResultRow>(name: string, sql: string): Promise<T[]> {
    const client = new pg.Client({ connectionString: urlOf(name) });
    await client.connect();
    try {
      return (await client.query<T>(sql)).rows;
    } finally {
      await client.end();
    }
  }
  const databasesLike = async (pattern: string) =>
    (await clients.pool.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname`, [pattern])).rows.map((row) => row.datname);
  const restore = (args: Parameters<typeof databaseRestoreWorkflow>[0]) =>
    clients.client.workflow.start(databaseRestoreWorkflow, { taskQueue, workflowId: `restore-${args.into}`, args: [args] });
  const progressWhen = async (handle: WorkflowHandle, predicate: (progress: RestoreProgress) => boolean) => {
    for (let tries = 0; tries < 200; tries += 1) {
      const progress = await handle.query(restoreProgressQuery);
      if (predicate(progress)) return progress;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the restore never reached that point');
  };

  beforeAll(async () => {
    clients = await connectStack();
    sourceUrl = await seededDatabase(source, `
      CREATE TABLE accounts (id serial PRIMARY KEY, owner text NOT NULL, balance numeric(12,2) NOT NULL);
      CREATE INDEX accounts_owner ON accounts (owner);
      CREATE VIEW rich AS SELECT * FROM accounts WHERE balance > 900;
      INSERT INTO accounts (owner, balance) SELECT 'owner ' || n, n % 1000 FROM generate_series(1, 3000) n;
    `);
    const policy = parsePolicy({ oncall: { people: { bob: { name: 'Bob' } } }, rollouts: { approval: { approvers: ['bob'] } }, backups: { retention: {} } }, 'test');
    const deps = clients.activityDeps({ policy, taskQueue, databaseUrl: (name) => (name === database ? sourceUrl : undefined) });
    worker = await startBackgroundWorker(taskQueue, createActivities(deps));
    const backup = await clients.client.workflow.execute(databaseBackupWorkflow, { taskQueue, workflowId: `backup-${database}`, args: [{ database, verify: false }] });
    backupKey = backup.manifest.key;
  });

  afterAll(async () => {
    await worker.stop();
    for (const name of [...made, ...(await databasesLike(`ops_rt_%${suffix}_before_restore_%`))]) await dropDatabase(testStack().adminDatabaseUrl, name);
    await clients.close();
    await dropDatabase(testStack().adminDatabaseUrl, source);
  });

  it('restores the newest backup into a new database, with its indexes and views, and writes the timeline to the audit log', async () => {
    const into = target('fresh');
    const handle = await restore({ database, into, requestedBy: 'alice' });
    await expect(handle.result()).resolves.toEqual({ database, into, backup: backupKey, tables: 1, rows: 3000 });
    expect(await query(into, 'SELECT count(*)::int AS n, sum(balance)::text AS total FROM accounts')).toEqual(await query(source, 'SELECT count(*)::int AS n, sum(balance)::text AS total FROM accounts'));
    expect(await query(into, `SELECT indexname FROM pg_indexes WHERE tablename = 'accounts' ORDER BY indexname`)).toEqual([{ indexname: 'accounts_owner' }, { indexname: 'accounts_pkey' }]);
    expect(await query(into, 'SELECT count(*)::int AS n FROM rich')).toEqual([{ n: 297 }]);
    // No staging database is left behind.
    expect(await databasesLike('ops_restoring_%')).toEqual([]);

    const progress = await handle.query(restoreProgressQuery);
    expect(progress.phase).toBe('succeeded');
    expect(progress.steps.map((step) => step.step)).toEqual(['planned', 'restoring', 'restored', 'in-place']);
    expect(progress.steps[0]!.detail).toBe(`backup ${backupKey} of ${database} (taken ${progress.steps[0]!.detail.match(/taken (\S+)\)/)![1]}) into a new database ${into}`);
    const audit = await clients.pool.query(`SELECT actor, action, target, outcome FROM audit_events WHERE workflow_id = $1 ORDER BY id`, [`restore-${into}`]);
    expect(audit.rows).toEqual(
      ['planned', 'restoring', 'restored', 'in-place'].map((step) => ({ actor: 'alice', action: `database.restore.${step}`, target: `postgres/${database}/${into}`, outcome: 'succeeded' })),
    );
  });

  it('refuses to restore over an existing database unless asked to replace it, and leaves it as it was', async () => {
    const into = target('taken');
    await seededDatabase(into, 'CREATE TABLE precious (id int); INSERT INTO precious VALUES (42);');
    const failure = await (await restore({ database, into, backup: backupKey })).result().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toMatchObject({
      type: 'Conflict',
      message: `database "${into}" exists: restore into a new name, or replace it (--replace), which needs an approval and keeps it renamed aside`,
    });
    expect(await query(into, 'SELECT id FROM precious')).toEqual([{ id: 42 }]);

    const unknown = await (await restore({ database, into: target('nothing'), backup: 'backups/elsewhere/nope.dump' })).result().catch((error: unknown) => error);
    expect((unknown as WorkflowFailedError).cause).toMatchObject({ type: 'NotFound', message: `no backup "backups/elsewhere/nope.dump" of "${database}": opsctl backup list --database ${database} shows them` });
  });

  it('replaces a database only once an allowed person approves, ends its sessions, and keeps it renamed aside', async () => {
    const into = target('live');
    await seededDatabase(into, 'CREATE TABLE precious (id int); INSERT INTO precious VALUES (7);');
    // Someone is still connected to the database being replaced.
    const session = new pg.Client({ connectionString: urlOf(into) });
    await session.connect();
    // Ended by the server: the client reports it (and the dropped connection after it) as errors.
    const ended = new Promise((resolve) => session.on('error', resolve));

    const handle = await restore({ database, into, replace: true, requestedBy: 'alice' });
    await progressWhen(handle, (progress) => progress.phase === 'awaiting-approval');
    const refused = async (by: string) => {
      const error = await handle.executeUpdate(approveRestoreUpdate, { args: [{ by }] }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
      return (error as WorkflowUpdateFailedError).cause?.message;
    };
    expect(await refused('alice')).toBe('alice requested this restore, and the person who requests a restore cannot approve it');
    expect(await refused('carol')).toBe('carol is not an approver (approvers: bob)');
    expect(await query(into, 'SELECT id FROM precious')).toEqual([{ id: 7 }]);

    await handle.executeUpdate(approveRestoreUpdate, { args: [{ by: 'bob' }] });
    const result = (await handle.result()) as DatabaseRestoreResult;
    expect(result).toMatchObject({ into, tables: 1, rows: 3000, aside: expect.stringMatching(new RegExp(`^${into}_before_restore_\\d{8}t\\d{6}$`)) });
    expect(await query(into, 'SELECT count(*)::int AS n FROM accounts')).toEqual([{ n: 3000 }]);
    expect(await query(result.aside!, 'SELECT id FROM precious')).toEqual([{ id: 7 }]);
    await ended;

    const steps = (await handle.query(restoreProgressQuery)).steps;
    expect(steps.map((step) => step.step)).toEqual(['planned', 'awaiting-approval', 'approval-refused', 'approval-refused', 'approved', 'restoring', 'restored', 'in-place']);
    expect(steps[1]!.detail).toMatch(/^replacing \S+ waits up to 14400s for approve or reject by bob$/);
    const audit = await clients.pool.query(`SELECT actor, action, outcome FROM audit_events WHERE workflow_id = $1 AND action LIKE 'database.restore.approv%' ORDER BY id`, [`restore-${into}`]);
    expect(audit.rows).toEqual([
      { actor: 'alice', action: 'database.restore.approval-refused', outcome: 'refused' },
      { actor: 'carol', action: 'database.restore.approval-refused', outcome: 'refused' },
      { actor: 'bob', action: 'database.restore.approved', outcome: 'succeeded' },
    ]);
  });

  it('changes nothing when the replace is rejected', async () => {
    const into = target('kept');
    await seededDatabase(into, 'CREATE TABLE precious (id int); INSERT INTO precious VALUES (9);');
    const handle = await restore({ database, into, replace: true, requestedBy: 'alice' });
    await progressWhen(handle, (progress) => progress.phase === 'awaiting-approval');
    await handle.executeUpdate(rejectRestoreUpdate, { args: [{ by: 'bob', reason: 'wrong backup' }] });
    const failure = await handle.result().catch((error: unknown) => error);
    expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'Rejected', message: `rejected by bob: wrong backup; ${into} was not touched` });
    expect(await query(into, 'SELECT id FROM precious')).toEqual([{ id: 9 }]);
    expect(await databasesLike(`${into}_before_restore_%`)).toEqual([]);
  });

  it('opens an incident when the restore fails, leaves no half-restored database, and the next good restore resolves it', async () => {
    const into = target('rotten');
    // The backup rots in the bucket, then is put back.
    const { rows } = await clients.pool.query<{ bucket: string }>(`SELECT bucket FROM backups WHERE object_key = $1`, [backupKey]);
    const bucket = rows[0]!.bucket;
    const original = await (await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: backupKey }))).Body!.transformToByteArray();
    await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: backupKey, Body: 'bit rot' }));
    try {
      const failure = await (await restore({ database, into, backup: backupKey })).result().catch((error: unknown) => error);
      expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'RestoreFailed' });
      expect((failure as WorkflowFailedError).cause?.message).toMatch(new RegExp(`^restore of "${database}" into "${into}" failed: s3://${bucket}/\\S+ has SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}: the backup is corrupt$`));
      expect(await databasesLike(into)).toEqual([]);
      expect(await databasesLike('ops_restoring_%')).toEqual([]);
    } finally {
      await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: backupKey, Body: original }));
    }
    const incident = clients.client.workflow.getHandle(`incident-restore-failed-${into}`);
    const open = await statusWhen(incident, (status) => status.alerts.some((alert) => alert.status === 'firing'));
    expect(open).toMatchObject({ state: 'triggered', severity: 'high', title: `Restore of ${database} into ${into} failed` });
    expect(open.alerts[0]!.labels).toMatchObject({ alertname: 'DatabaseRestoreFailed', database, target: into });

    await (await restore({ database, into, backup: backupKey })).result();
    const cleared = await statusWhen(incident, (status) => status.alerts.every((alert) => alert.status === 'resolved'));
    expect(cleared.alerts.map((alert) => alert.status)).toEqual(['resolved']);
  });

  it('is driven by opsctl: restore, approve from another shell, and a clear refusal for a bad target', async () => {
    const env = { OPS_TASK_QUEUE: taskQueue };
    const fresh = target('cli');
    const created = await opsctlAsync(['backup', 'restore', '--database', database, '--into', fresh, '--by', 'alice'], env);
    expect(created.stderr).toBe('');
    expect(created.status).toBe(0);
    expect(created.stdout).toContain(`restoring into ${fresh} (restore-${fresh})`);
    expect(created.stdout).toMatch(/ planned +backup \S+ of \S+ \(taken \S+\) into a new database /);
    expect(created.stdout.trim().split('\n').at(-1)).toBe(`restored ${backupKey} into ${fresh}: 1 tables, 3000 rows`);

    const replacing = opsctlAsync(['backup', 'restore', '--database', database, '--into', fresh, '--replace', '--by', 'alice'], env);
    await progressWhen(clients.client.workflow.getHandle(`restore-${fresh}`), (progress) => progress.phase === 'awaiting-approval');
    const self = await opsctlAsync(['backup', 'approve', '--into', fresh, '--by', 'alice'], env);
    expect(self).toMatchObject({ status: 5, stderr: `opsctl: restore-${fresh}: alice requested this restore, and the person who requests a restore cannot approve it\n` });
    const approved = await opsctlAsync(['backup', 'approve', '--into', fresh, '--by', 'bob'], env);
    expect(approved.status).toBe(0);
    expect(approved.stdout).toContain('approved by bob');
    const done = await replacing;
    expect(done.status).toBe(0);
    expect(done.stdout).toContain(`; a replace waits for: opsctl backup approve --into ${fresh} --by <someone else>`);
    expect(done.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^restored \\S+ into ${fresh}: 1 tables, 3000 rows; the database it replaced is ${fresh}_before_restore_\\d{8}t\\d{6}$`));

    const bad = await opsctlAsync(['backup', 'restore', '--database', database, '--into', 'Prod-DB'], env);
    expect(bad).toMatchObject({ status: 2, stderr: 'opsctl: "Prod-DB" is not a database name a restore takes: 1 to 63 lower-case letters, digits and "_", not starting with a digit\n' });
  });
});
