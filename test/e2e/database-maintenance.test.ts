import { WorkflowFailedError } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy, type Policy } from '../../src/config/policy.js';
import { dropDatabase, ensureDatabase } from '../../scripts/stack/postgres.js';
import { databaseMaintenanceWorkflow } from '../../workflows/database-maintenance.js';
import { statusWhen } from '../support/incidents.js';
import { connectStack, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * databaseMaintenanceWorkflow against the real PostgreSQL: a dry run that
 * touches nothing, a real run that deletes exactly the expired rows in
 * batches, vacuums, reindexes and terminates an idle stranger (never us), a
 * hostile table name that stays a name, and thresholds that open an incident.
 */
const HOSTILE = 'audit"; DROP TABLE metrics; --';

describe('database maintenance', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let databaseUrl: string;
  let db: pg.Client;
  const taskQueue = uniqueTaskQueue('maintenance');
  const database = `maint-${taskQueue.slice(-8)}`;
  const dbName = `ops_maint_${taskQueue.slice(-8)}`;
  const policy: Policy = parsePolicy({}, 'test');
  const configure = (maintenance: Record<string, unknown>) => {
    policy.maintenance = parsePolicy({ maintenance }, 'test').maintenance;
  };
  const baseline = {
    retention: [
      { database, table: 'metrics', column: 'recorded_at', kind: 'metrics', batchSize: 1000 },
      { database, table: 'ops.deploy_logs', column: 'at', kind: 'deployment-logs' },
      { database, table: HOSTILE, column: 'when', maxAge: '365d' },
    ],
    databases: { [database]: { vacuum: ['metrics', 'ops.deploy_logs', HOSTILE] } },
    idleConnectionTimeout: '2s',
  };
  const run = (input: Parameters<typeof databaseMaintenanceWorkflow>[0], id: string) =>
    clients.client.workflow.execute(databaseMaintenanceWorkflow, { taskQueue, workflowId: `maintenance-${database}-${id}`, args: [input] });
  const count = async (table: string) => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);

  beforeAll(async () => {
    clients = await connectStack();
    databaseUrl = await ensureDatabase(testStack().adminDatabaseUrl, dbName);
    db = new pg.Client({ connectionString: databaseUrl, application_name: 'ops-tests' });
    await db.connect();
    await db.query(`
      CREATE TABLE metrics (id bigserial PRIMARY KEY, recorded_at timestamptz NOT NULL, value double precision);
      CREATE INDEX metrics_recorded_at ON metrics (recorded_at);
      INSERT INTO metrics (recorded_at, value) SELECT now() - interval '91 days' - n * interval '1 minute', n FROM generate_series(1, 12000) n;
      INSERT INTO metrics (recorded_at, value) SELECT now() - n * interval '1 minute', n FROM generate_series(1, 3000) n;
      CREATE SCHEMA ops;
      CREATE TABLE ops.deploy_logs (id serial PRIMARY KEY, at timestamptz NOT NULL, line text);
      INSERT INTO ops.deploy_logs (at, line) SELECT now() - interval '31 days' - n * interval '1 hour', 'old' FROM generate_series(1, 500) n;
      INSERT INTO ops.deploy_logs (at, line) SELECT now() - n * interval '1 hour', 'new' FROM generate_series(1, 200) n;
      CREATE TABLE ${pg.escapeIdentifier(HOSTILE)} (id serial PRIMARY KEY, "when" date NOT NULL);
      INSERT INTO ${pg.escapeIdentifier(HOSTILE)} ("when") SELECT current_date - 400 - n FROM generate_series(1, 40) n;
      INSERT INTO ${pg.escapeIdentifier(HOSTILE)} ("when") SELECT current_date - n FROM generate_series(1, 10) n;
      CREATE TABLE locked (id int);
    `);
    configure(baseline);
    const deps = clients.activityDeps({ policy, taskQueue, databaseUrl: (name) => (name === database ? databaseUrl : undefined) });
    worker = await startBackgroundWorker(taskQueue, createActivities(deps));
  });

  afterAll(async () => {
    await worker?.stop();
    await db.end();
    await clients.close();
    await dropDatabase(testStack().adminDatabaseUrl, dbName);
  });

  /** A connection of someone else's, left idle. */
  async function idleStranger(): Promise<{ client: pg.Client; pid: number; alive: () => Promise<boolean> }> {
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'reporting-app' });
    client.on('error', () => undefined);
    await client.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const alive = async () => (await db.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1`, [pid])).rowCount === 1;
    return { client, pid, alive };
  }

  it('dry run lists every action with its row counts and takes none', async () => {
    const stranger = await idleStranger();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const result = await run({ database, dryRun: true, requestedBy: 'dba' }, 'dry');

    expect(result.dryRun).toBe(true);
    expect(result.actions.map(({ action, target, outcome, rows }) => ({ action, target, outcome, rows }))).toEqual([
      { action: 'delete-expired', target: 'public.metrics', outcome: 'dry-run', rows: 12000 },
      { action: 'delete-expired', target: 'ops.deploy_logs', outcome: 'dry-run', rows: 500 },
      { action: 'delete-expired', target: `public.${HOSTILE}`, outcome: 'dry-run', rows: 40 },
      { action: 'vacuum-analyze', target: 'public.metrics', outcome: 'dry-run', rows: undefined },
      { action: 'vacuum-analyze', target: 'ops.deploy_logs', outcome: 'dry-run', rows: undefined },
      { action: 'vacuum-analyze', target: `public.${HOSTILE}`, outcome: 'dry-run', rows: undefined },
      // REINDEX defaults to the tables retention deletes from.
      { action: 'reindex', target: 'public.metrics', outcome: 'dry-run', rows: undefined },
      { action: 'reindex', target: 'ops.deploy_logs', outcome: 'dry-run', rows: undefined },
      { action: 'reindex', target: `public.${HOSTILE}`, outcome: 'dry-run', rows: undefined },
      { action: 'terminate-idle', target: 'connections', outcome: 'dry-run', rows: 1 },
    ]);
    expect(result.plan.idleConnections).toEqual([expect.objectContaining({ pid: stranger.pid, application: 'reporting-app' })]);
    expect(result.plan.reindexConcurrently).toBe(true);
    expect([await count('metrics'), await count('ops.deploy_logs'), await count(pg.escapeIdentifier(HOSTILE))]).toEqual([15000, 700, 50]);
    expect(await stranger.alive()).toBe(true);
    const log = await clients.pool.query(`SELECT count(*)::int AS n, bool_and(dry_run) AS dry FROM maintenance_log WHERE database = $1`, [database]);
    expect(log.rows[0]).toEqual({ n: 10, dry: true });
    const audit = await clients.pool.query(`SELECT DISTINCT outcome, actor FROM audit_events WHERE target LIKE $1`, [`postgres/${database}/%`]);
    expect(audit.rows).toEqual([{ outcome: 'dry-run', actor: 'dba' }]);
    await stranger.client.end().catch(() => undefined);
  });

  it('deletes exactly the expired rows in batches, vacuums, reindexes concurrently and ends idle strangers, never us', async () => {
    const stranger = await idleStranger();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const result = await run({ database, requestedBy: 'dba' }, 'real');

    const deletes = result.actions.filter((action) => action.action === 'delete-expired');
    expect(deletes.map(({ target, rows, detail }) => ({ target, rows, detail }))).toEqual([
      { target: 'public.metrics', rows: 12000, detail: '13 batches of up to 1000' },
      { target: 'ops.deploy_logs', rows: 500, detail: '1 batches of up to 5000' },
      { target: `public.${HOSTILE}`, rows: 40, detail: '1 batches of up to 5000' },
    ]);
    expect([await count('metrics'), await count('ops.deploy_logs'), await count(pg.escapeIdentifier(HOSTILE))]).toEqual([3000, 200, 50 - 40]);
    expect(await count(`metrics WHERE recorded_at < now() - interval '90 days'`)).toBe(0);

    const vacuumed = await db.query<{ relname: string }>(`SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL AND last_analyze IS NOT NULL ORDER BY relname`);
    expect(vacuumed.rows.map((row) => row.relname)).toEqual(expect.arrayContaining(['metrics', 'deploy_logs', HOSTILE]));
    expect(result.actions.filter((action) => action.action === 'reindex').map((action) => action.detail)).toEqual(['concurrently', 'concurrently', 'concurrently']);
    const idle = result.actions.find((action) => action.action === 'terminate-idle');
    expect(idle).toMatchObject({ outcome: 'succeeded', rows: 1 });
    expect(await stranger.alive()).toBe(false);
    // Our own test connection (application ops-tests) sat idle just as long and lives on.
    expect((await db.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);

    const log = await clients.pool.query<{ action: string; target: string; rows: string | null }>(
      `SELECT action, target, rows FROM maintenance_log WHERE database = $1 AND NOT dry_run ORDER BY id`,
      [database],
    );
    expect(log.rows.map((row) => `${row.action} ${row.target} ${row.rows ?? ''}`.trim())).toEqual([
      'delete-expired public.metrics 12000',
      'delete-expired ops.deploy_logs 500',
      `delete-expired public.${HOSTILE} 40`,
      'vacuum-analyze public.metrics',
      'vacuum-analyze ops.deploy_logs',
      `vacuum-analyze public.${HOSTILE}`,
      'reindex public.metrics',
      'reindex ops.deploy_logs',
      `reindex public.${HOSTILE}`,
      'terminate-idle connections 1',
    ]);
    expect(result.health.deadTuples.map((row) => row.table)).toEqual(expect.arrayContaining(['public.metrics', 'ops.deploy_logs']));
    expect(result.health.breaches).toEqual([]);
    expect(result.incident).toBeUndefined();
  });

  it('refuses a table name that is not in the catalog, and runs no SQL made of it', async () => {
    configure({ ...baseline, retention: [{ database, table: 'metrics; DROP TABLE ops.deploy_logs', column: 'recorded_at', maxAge: '1d' }] });
    try {
      const failure = await run({ database }, 'hostile').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect(((failure as WorkflowFailedError).cause?.cause as Error | undefined)?.message).toBe(`table "metrics; DROP TABLE ops.deploy_logs" does not exist in database "${database}"`);
      configure({ ...baseline, retention: [{ database, table: 'metrics', column: 'value', maxAge: '1d' }] });
      const wrongType = await run({ database }, 'wrong-column').catch((error: unknown) => error);
      expect(((wrongType as WorkflowFailedError).cause?.cause as Error | undefined)?.message).toBe(`column public.metrics.value of database "${database}" is double precision, not a timestamp or date`);
      expect(await count('ops.deploy_logs')).toBe(200);
    } finally {
      configure(baseline);
    }
  });

  it('opens an incident when the database crosses its thresholds, and a healthy run resolves it', async () => {
    const holder = new pg.Client({ connectionString: databaseUrl, application_name: 'migration-tool' });
    await holder.connect();
    await holder.query('BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE');
    configure({ ...baseline, thresholds: { exclusiveLocks: 0, connectionUsage: 0.8, waitingLocks: 5 } });
    try {
      const result = await run({ database }, 'locked');
      expect(result.health.exclusiveLocks).toEqual([expect.objectContaining({ relation: 'locked', granted: true, application: 'migration-tool' })]);
      expect(result.health.breaches).toEqual(['1 AccessExclusiveLock holders or waiters (limit 0)']);
      expect(result.incident).toBe(`incident-db-health-${database}`);
      const incident = clients.client.workflow.getHandle(result.incident!);
      const open = await statusWhen(incident, (status) => status.alerts.some((alert) => alert.status === 'firing'));
      expect(open).toMatchObject({ severity: 'high', service: database, title: `Database ${database} is over its health thresholds` });
      expect(open.alerts[0]!.annotations.description).toBe('1 AccessExclusiveLock holders or waiters (limit 0)');
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
      configure(baseline);
    }
    const healthy = await run({ database }, 'healthy');
    expect(healthy.health.breaches).toEqual([]);
    const incident = clients.client.workflow.getHandle(`incident-db-health-${database}`);
    await statusWhen(incident, (status) => status.alerts.every((alert) => alert.status === 'resolved'));
  });
});
