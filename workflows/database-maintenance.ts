import { proxyActivities, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { createPostgresActivities } from '../activities/postgres.js';
import { databaseHealthDedupKey, tableLabel, type DatabaseHealth, type MaintenanceAction, type MaintenancePlan } from '../src/domain/maintenance.js';
import { OpsKind, OpsService, OpsStatus } from '../src/domain/search-attributes.js';
import { longJob, quickApiCall } from './activity-profiles.js';
import { ownIncident } from './own-incident.js';

/**
 * databaseMaintenanceWorkflow: retention deletes in batches, VACUUM (ANALYZE),
 * REINDEX (concurrently where the server can), termination of connections
 * idle too long, then a health report (dead tuples, exclusive locks,
 * connections). Health over its thresholds opens the incident
 * `db-health-<database>`; a healthy run resolves it. `dryRun` plans and
 * reports every action with its row counts, and takes none.
 *   temporal workflow start --type databaseMaintenanceWorkflow --task-queue ops \
 *     --workflow-id maintenance-default --input '{"dryRun": true}'
 */
export interface DatabaseMaintenanceInput {
  /** A named connection from the policy; "default" is DATABASE_URL. */
  database?: string;
  dryRun?: boolean;
  requestedBy?: string;
}

export interface DatabaseMaintenanceResult {
  database: string;
  dryRun: boolean;
  plan: MaintenancePlan;
  actions: MaintenanceAction[];
  health: DatabaseHealth;
  /** The incident the health report opened, when it crossed a threshold. */
  incident?: string;
}

const quick = proxyActivities<ReturnType<typeof createPostgresActivities>>(quickApiCall);
const long = proxyActivities<ReturnType<typeof createPostgresActivities>>(longJob);

export async function databaseMaintenanceWorkflow(input: DatabaseMaintenanceInput = {}): Promise<DatabaseMaintenanceResult> {
  const database = input.database ?? 'default';
  const dryRun = input.dryRun === true;
  const requestedBy = input.requestedBy?.trim() || 'system';
  upsertSearchAttributes([
    { key: OpsKind, value: 'maintenance' },
    { key: OpsService, value: database },
    { key: OpsStatus, value: 'running' },
  ]);
  upsertMemo({ summary: `${dryRun ? 'Dry run of maintenance' : 'Maintenance'} of ${database}` });

  const plan = await quick.planMaintenance({ database, now: new Date().toISOString() });
  const actions: MaintenanceAction[] = [];
  if (dryRun) {
    actions.push(...(await quick.recordPlannedActions({ plan, requestedBy })));
  } else {
    for (const step of plan.retention) actions.push(await long.deleteExpiredRows({ database, step, requestedBy }));
    for (const table of plan.vacuum) actions.push(await long.vacuumAnalyze({ database, table, requestedBy }));
    for (const table of plan.reindex) actions.push(await long.reindexTable({ database, table, concurrently: plan.reindexConcurrently, requestedBy }));
    actions.push(await quick.terminateIdleConnections({ database, idleConnectionTimeoutMs: plan.idleConnectionTimeoutMs, requestedBy }));
  }

  const health = await quick.databaseHealth({ database });
  let incident: string | undefined;
  if (!dryRun) {
    const unhealthy = ownIncident({
      dedupKey: databaseHealthDedupKey(database),
      labels: { alertname: 'DatabaseUnhealthy', service: database, database, severity: 'high' },
    });
    if (health.breaches.length > 0) {
      incident = await unhealthy.raise({ summary: `Database ${database} is over its health thresholds`, description: health.breaches.join('; ') });
    } else {
      await unhealthy.clear(`Database ${database} is healthy`);
    }
  }
  const deleted = actions.filter((action) => action.action === 'delete-expired').reduce((sum, action) => sum + (action.rows ?? 0), 0);
  upsertSearchAttributes([{ key: OpsStatus, value: health.breaches.length > 0 ? 'unhealthy' : 'succeeded' }]);
  const reindexed = plan.reindex.map(tableLabel).join(', ') || 'no table';
  upsertMemo({
    summary: dryRun
      ? `Dry run of ${database}: would delete ${deleted} rows, vacuum ${plan.vacuum.length} tables, reindex ${reindexed}`
      : `Maintenance of ${database}: deleted ${deleted} rows, vacuumed ${plan.vacuum.length} tables, reindexed ${reindexed}`,
  });
  return { database, dryRun, plan, actions, health, ...(incident ? { incident } : {}) };
}
