/**
 * Database maintenance as data: the plan a run makes (what it would do and to
 * how many rows), the actions it takes, and the health report that follows.
 * A dry run returns the plan and takes none of it.
 */

/** A table named in the policy: "name" (schema public) or "schema.name". */
export interface TableName {
  schema: string;
  name: string;
}

export function parseTableName(text: string): TableName {
  const dot = text.indexOf('.');
  return dot > 0 ? { schema: text.slice(0, dot), name: text.slice(dot + 1) } : { schema: 'public', name: text };
}

export function tableLabel(table: TableName): string {
  return `${table.schema}.${table.name}`;
}

export interface RetentionStep {
  table: TableName;
  column: string;
  /** Rows older than this (RFC 3339) are deleted. */
  cutoff: string;
  batchSize: number;
  /** Rows the cutoff matched when planned. */
  rows: number;
}

export interface IdleConnection {
  pid: number;
  user: string;
  application: string;
  client: string | null;
  idleSeconds: number;
}

export interface MaintenancePlan {
  database: string;
  serverVersion: string;
  retention: RetentionStep[];
  vacuum: TableName[];
  reindex: TableName[];
  /** REINDEX CONCURRENTLY needs PostgreSQL 12 or newer. */
  reindexConcurrently: boolean;
  idleConnectionTimeoutMs: number;
  idleConnections: IdleConnection[];
}

export type MaintenanceActionKind = 'delete-expired' | 'vacuum-analyze' | 'reindex' | 'terminate-idle';

export interface MaintenanceAction {
  action: MaintenanceActionKind;
  target: string;
  outcome: 'succeeded' | 'dry-run';
  /** Rows deleted (or that would be), connections terminated (or that would be). */
  rows?: number;
  durationMs?: number;
  detail?: string;
  /** The connections terminate-idle ended. */
  terminated?: IdleConnection[];
}

export interface DeadTuples {
  table: string;
  live: number;
  dead: number;
  /** dead / (live + dead), 0..1. */
  ratio: number;
  lastAutovacuum: string | null;
}

export interface LockHolder {
  pid: number;
  relation: string | null;
  mode: string;
  granted: boolean;
  user: string | null;
  application: string | null;
  /** How long its transaction has been open; its query text is left out, as it may hold secrets. */
  seconds: number | null;
}

export interface DatabaseHealth {
  connections: number;
  maxConnections: number;
  deadTuples: DeadTuples[];
  exclusiveLocks: LockHolder[];
  waitingLocks: number;
  /** Thresholds crossed, in words; empty when healthy. */
  breaches: string[];
}

export interface HealthThresholds {
  connectionUsage: number;
  exclusiveLocks: number;
  waitingLocks: number;
}

/** The thresholds a health report crosses, each named with its figures. */
export function healthBreaches(health: Omit<DatabaseHealth, 'breaches'>, thresholds: HealthThresholds): string[] {
  const breaches: string[] = [];
  const usage = health.connections / Math.max(health.maxConnections, 1);
  if (usage > thresholds.connectionUsage) {
    breaches.push(
      `${health.connections} of ${health.maxConnections} connections in use (${Math.round(usage * 100)}%, limit ${Math.round(thresholds.connectionUsage * 100)}%)`,
    );
  }
  if (health.exclusiveLocks.length > thresholds.exclusiveLocks) {
    breaches.push(`${health.exclusiveLocks.length} AccessExclusiveLock holders or waiters (limit ${thresholds.exclusiveLocks})`);
  }
  if (health.waitingLocks > thresholds.waitingLocks) {
    breaches.push(`${health.waitingLocks} lock requests waiting (limit ${thresholds.waitingLocks})`);
  }
  return breaches;
}

/** The incident a database over its thresholds raises. */
export function databaseHealthDedupKey(database: string): string {
  return `db-health-${database}`;
}
