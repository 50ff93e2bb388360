import { ApplicationFailure, Context } from '@temporalio/activity';
import pg from 'pg';
import type { Policy } from '../src/config/policy.js';
import { ErrorType } from '../src/domain/errors.js';
import {
  healthBreaches,
  parseTableName,
  tableLabel,
  type DatabaseHealth,
  type IdleConnection,
  type MaintenanceAction,
  type MaintenancePlan,
  type RetentionStep,
  type TableName,
} from '../src/domain/maintenance.js';
import { writeAuditEvent } from '../src/db/audit.js';
import { bindDeps } from './bind-deps.js';
import { configuredDatabaseUrl } from './database-url.js';

/**
 * Database maintenance on the configured databases: retention deletes in
 * small batches, VACUUM (ANALYZE), REINDEX, idle connection termination and a
 * health report. Every table and column name from the policy is looked up in
 * the catalog first and quoted as an identifier, so configuration can never
 * become SQL. Each action leaves a maintenance_log row and an audit row.
 */
export interface PostgresDeps {
  /** Our own database: maintenance_log and audit rows go here. */
  pool: pg.Pool;
  databaseUrl: (name: string) => string | undefined;
  policy: Pick<Policy, 'maintenance'>;
}

/** Our own sessions carry an application_name starting with this; maintenance never terminates them. */
const OWN_APPLICATION_PREFIX = 'ops-';
const TIMESTAMP_TYPES = new Set(['timestamp with time zone', 'timestamp without time zone', 'date']);

const quoted = (table: TableName) => `${pg.escapeIdentifier(table.schema)}.${pg.escapeIdentifier(table.name)}`;

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, ErrorType.InvalidInput);
}

/** Heartbeats while a long statement (VACUUM, REINDEX) runs, so a stuck worker is noticed. */
async function heartbeating<T>(work: Promise<T>, details: () => unknown = () => undefined): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(details()), 5000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

async function withDatabase<T>(deps: PostgresDeps, database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: configuredDatabaseUrl(deps.databaseUrl, database), application_name: `${OWN_APPLICATION_PREFIX}maintenance`, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`cannot connect to database "${database}": ${(error as Error).message}`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The table as the catalog has it; a name that is not an ordinary table is a clear error. */
async function resolveTable(client: pg.Client, database: string, text: string): Promise<TableName> {
  const table = parseTableName(text);
  const { rows } = await client.query<{ relkind: string }>(
    `SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [table.schema, table.name],
  );
  if (!rows[0]) throw invalid(`table ${JSON.stringify(text)} does not exist in database "${database}"`);
  if (rows[0].relkind !== 'r') throw invalid(`${JSON.stringify(text)} in database "${database}" is not an ordinary table`);
  return table;
}

async function checkTimestampColumn(client: pg.Client, database: string, table: TableName, column: string): Promise<void> {
  const { rows } = await client.query<{ type: string }>(
    `SELECT format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped`,
    [table.schema, table.name, column],
  );
  if (!rows[0]) throw invalid(`column ${JSON.stringify(column)} does not exist in ${tableLabel(table)} of database "${database}"`);
  if (!TIMESTAMP_TYPES.has(rows[0].type)) {
    throw invalid(`column ${tableLabel(table)}.${column} of database "${database}" is ${rows[0].type}, not a timestamp or date`);
  }
}

async function idleConnections(client: pg.Client, idleMs: number, terminate: boolean): Promise<IdleConnection[]> {
  const { rows } = await client.query<{ pid: number; usename: string; application_name: string; client_addr: string | null; idle_seconds: number }>(
    `SELECT pid, usename, application_name, client_addr::text AS client_addr,
            extract(epoch FROM now() - state_change)::int AS idle_seconds
            ${terminate ? ', pg_terminate_backend(pid) AS terminated' : ''}
       FROM pg_stat_activity
      WHERE datname = current_database() AND backend_type = 'client backend' AND state = 'idle'
        AND state_change < now() - make_interval(secs => $1::double precision / 1000)
        AND pid <> pg_backend_pid()
        AND coalesce(application_name, '') NOT LIKE $2
      ORDER BY state_change`,
    [idleMs, `${OWN_APPLICATION_PREFIX}%`],
  );
  return rows.map((row) => ({ pid: row.pid, user: row.usename, application: row.application_name, client: row.client_addr, idleSeconds: row.idle_seconds }));
}

/** One maintenance_log row and one audit row per action, once per workflow step. */
async function logAction(deps: PostgresDeps, database: string, dryRun: boolean, action: MaintenanceAction, requestedBy: string, details: Record<string, unknown> = {}) {
  const execution = Context.current().info.workflowExecution;
  const key = `maintenance:${execution?.workflowId ?? 'standalone'}:${execution?.runId ?? ''}:${dryRun ? 'dry-run:' : ''}${action.action}:${action.target}`;
  await deps.pool.query(
    `INSERT INTO maintenance_log (database, action, target, dry_run, outcome, rows, duration_ms, details, workflow_id, run_id, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (idempotency_key) DO NOTHING`,
    [database, action.action, action.target, dryRun, action.outcome, action.rows ?? null, action.durationMs ?? null, JSON.stringify(details), execution?.workflowId ?? null, execution?.runId ?? null, key],
  );
  await writeAuditEvent(
    deps.pool,
    {
      actor: requestedBy,
      action: `database.${action.action}`,
      target: `postgres/${database}/${action.target}`,
      outcome: action.outcome,
      details: { ...details, ...(action.rows !== undefined ? { rows: action.rows } : {}) },
      idempotencyKey: key,
    },
    execution,
  );
  return action;
}

/**
 * What a maintenance run of `database` would do, from the policy: every
 * name checked against the catalog, and the rows each retention rule
 * matches at `now` (workflow time, so a retry plans the same cutoff).
 */
export async function planMaintenance(deps: PostgresDeps, input: { database: string; now: string }): Promise<MaintenancePlan> {
  const { maintenance } = deps.policy;
  const targets = maintenance.databases[input.database] ?? { vacuum: 'all' as const, reindex: undefined };
  return withDatabase(deps, input.database, async (client) => {
    const { rows: versions } = await client.query<{ num: number; version: string }>(
      `SELECT current_setting('server_version_num')::int AS num, current_setting('server_version') AS version`,
    );
    const { num: serverVersionNum, version: serverVersion } = versions[0]!;
    const retention: RetentionStep[] = [];
    for (const rule of maintenance.retention.filter((candidate) => candidate.database === input.database)) {
      const table = await resolveTable(client, input.database, rule.table);
      await checkTimestampColumn(client, input.database, table, rule.column);
      const cutoff = new Date(Date.parse(input.now) - rule.maxAgeMs).toISOString();
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoted(table)} WHERE ${pg.escapeIdentifier(rule.column)} < $1`, [cutoff]);
      retention.push({ table, column: rule.column, cutoff, batchSize: rule.batchSize, rows: Number(rows[0]!.n) });
    }
    const allTables = async () =>
      (
        await client.query<TableName>(
          `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
            ORDER BY 1, 2`,
        )
      ).rows;
    const listed = async (names: string[]) => {
      const tables: TableName[] = [];
      for (const name of names) tables.push(await resolveTable(client, input.database, name));
      return tables;
    };
    const vacuum = targets.vacuum === 'all' ? await allTables() : await listed(targets.vacuum);
    const reindex =
      targets.reindex === undefined ? retention.map((step) => step.table) : targets.reindex === 'all' ? await allTables() : await listed(targets.reindex);
    return {
      database: input.database,
      serverVersion,
      retention,
      vacuum,
      reindex,
      reindexConcurrently: serverVersionNum >= 120000,
      idleConnectionTimeoutMs: maintenance.idleConnectionTimeout,
      idleConnections: await idleConnections(client, maintenance.idleConnectionTimeout, false),
    };
  });
}

/** A dry run: every planned action logged as what it would do, and none taken. */
export async function recordPlannedActions(deps: PostgresDeps, input: { plan: MaintenancePlan; requestedBy: string }): Promise<MaintenanceAction[]> {
  const { plan } = input;
  const planned: MaintenanceAction[] = [
    ...plan.retention.map((step): MaintenanceAction => ({ action: 'delete-expired', target: tableLabel(step.table), outcome: 'dry-run', rows: step.rows, detail: `rows with ${step.column} before ${step.cutoff}` })),
    ...plan.vacuum.map((table): MaintenanceAction => ({ action: 'vacuum-analyze', target: tableLabel(table), outcome: 'dry-run' })),
    ...plan.reindex.map((table): MaintenanceAction => ({ action: 'reindex', target: tableLabel(table), outcome: 'dry-run', detail: plan.reindexConcurrently ? 'concurrently' : 'locking' })),
    { action: 'terminate-idle', target: 'connections', outcome: 'dry-run', rows: plan.idleConnections.length, detail: `idle longer than ${plan.idleConnectionTimeoutMs / 1000}s` },
  ];
  for (const action of planned) await logAction(deps, plan.database, true, action, input.requestedBy, action.detail ? { detail: action.detail } : {});
  return planned;
}

/**
 * Deletes rows older than the step's cutoff, `batchSize` at a time, each
 * batch its own short transaction, so no lock is held for long. A retry
 * simply carries on: rows already deleted are not matched again.
 */
export async function deleteExpiredRows(deps: PostgresDeps, input: { database: string; step: RetentionStep; requestedBy: string }): Promise<MaintenanceAction> {
  const { step } = input;
  const began = Date.now();
  let deleted = 0;
  let batches = 0;
  await withDatabase(deps, input.database, async (client) => {
    const table = await resolveTable(client, input.database, tableLabel(step.table));
    await checkTimestampColumn(client, input.database, table, step.column);
    await client.query(`SET lock_timeout = '5s'`);
    const context = Context.current();
    for (;;) {
      const result = await client.query(
        `DELETE FROM ${quoted(table)} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${quoted(table)} WHERE ${pg.escapeIdentifier(step.column)} < $1 LIMIT $2))`,
        [step.cutoff, step.batchSize],
      );
      deleted += result.rowCount ?? 0;
      batches += 1;
      context.heartbeat({ deleted, batches });
      if ((result.rowCount ?? 0) < step.batchSize) break;
    }
  });
  return logAction(deps, 
    input.database,
    false,
    { action: 'delete-expired', target: tableLabel(step.table), outcome: 'succeeded', rows: deleted, durationMs: Date.now() - began, detail: `${batches} batches of up to ${step.batchSize}` },
    input.requestedBy,
    { column: step.column, cutoff: step.cutoff, batches, batchSize: step.batchSize },
  );
}

export async function vacuumAnalyze(deps: PostgresDeps, input: { database: string; table: TableName; requestedBy: string }): Promise<MaintenanceAction> {
  const began = Date.now();
  await withDatabase(deps, input.database, async (client) => {
    const table = await resolveTable(client, input.database, tableLabel(input.table));
    await heartbeating(client.query(`VACUUM (ANALYZE) ${quoted(table)}`));
  });
  return logAction(deps, input.database, false, { action: 'vacuum-analyze', target: tableLabel(input.table), outcome: 'succeeded', durationMs: Date.now() - began }, input.requestedBy);
}

export async function reindexTable(deps: PostgresDeps, input: { database: string; table: TableName; concurrently: boolean; requestedBy: string }): Promise<MaintenanceAction> {
  const began = Date.now();
  await withDatabase(deps, input.database, async (client) => {
    const table = await resolveTable(client, input.database, tableLabel(input.table));
    await heartbeating(client.query(`REINDEX TABLE ${input.concurrently ? 'CONCURRENTLY ' : ''}${quoted(table)}`));
  });
  return logAction(deps, 
    input.database,
    false,
    { action: 'reindex', target: tableLabel(input.table), outcome: 'succeeded', durationMs: Date.now() - began, detail: input.concurrently ? 'concurrently' : 'locking' },
    input.requestedBy,
  );
}

/** Terminates client connections idle longer than the limit; never ours, never this one. */
export async function terminateIdleConnections(deps: PostgresDeps, input: { database: string; idleConnectionTimeoutMs: number; requestedBy: string }): Promise<MaintenanceAction> {
  const terminated = await withDatabase(deps, input.database, (client) => idleConnections(client, input.idleConnectionTimeoutMs, true));
  const action: MaintenanceAction = {
    action: 'terminate-idle',
    target: 'connections',
    outcome: 'succeeded',
    rows: terminated.length,
    detail: `idle longer than ${input.idleConnectionTimeoutMs / 1000}s`,
    terminated,
  };
  return logAction(deps, input.database, false, action, input.requestedBy, { terminated });
}

/** Connections against max_connections, dead tuples, AccessExclusiveLock holders, waiting locks. */
export async function databaseHealth(deps: PostgresDeps, input: { database: string }): Promise<DatabaseHealth> {
  return withDatabase(deps, input.database, async (client) => {
    const connections = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend'`)).rows[0]!.n);
    const maxConnections = Number((await client.query<{ max_connections: string }>(`SHOW max_connections`)).rows[0]!.max_connections);
    const dead = await client.query<{ name: string; live: string; dead: string; last_autovacuum: Date | null }>(
      `SELECT schemaname || '.' || relname AS name, n_live_tup AS live, n_dead_tup AS dead, last_autovacuum
         FROM pg_stat_user_tables ORDER BY n_dead_tup DESC, 1 LIMIT 10`,
    );
    const locks = await client.query<{ pid: number; relation: string | null; mode: string; granted: boolean; usename: string | null; application_name: string | null; seconds: number | null }>(
      `SELECT l.pid, l.relation::regclass::text AS relation, l.mode, l.granted, a.usename, a.application_name,
              extract(epoch FROM now() - coalesce(a.xact_start, a.query_start))::int AS seconds
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.mode = 'AccessExclusiveLock' AND l.locktype = 'relation'
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.pid <> pg_backend_pid()
        ORDER BY l.granted DESC, seconds DESC NULLS LAST`,
    );
    const waiting = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM pg_locks WHERE NOT granted`)).rows[0]!.n);
    const report = {
      connections,
      maxConnections,
      deadTuples: dead.rows.map((row) => {
        const live = Number(row.live);
        const deadRows = Number(row.dead);
        return { table: row.name, live, dead: deadRows, ratio: live + deadRows === 0 ? 0 : deadRows / (live + deadRows), lastAutovacuum: row.last_autovacuum?.toISOString() ?? null };
      }),
      exclusiveLocks: locks.rows.map((row) => ({
        pid: row.pid,
        relation: row.relation,
        mode: row.mode,
        granted: row.granted,
        user: row.usename,
        application: row.application_name,
        seconds: row.seconds,
      })),
      waitingLocks: waiting,
    };
    return { ...report, breaches: healthBreaches(report, deps.policy.maintenance.thresholds) };
  });
}

export function createPostgresActivities(deps: PostgresDeps) {
  return bindDeps(deps, { planMaintenance, recordPlannedActions, deleteExpiredRows, vacuumAnalyze, reindexTable, terminateIdleConnections, databaseHealth });
}
