import { createHash } from 'node:crypto';
import type { Policy } from '../src/config/policy.js';
import { formatDuration, parseDuration } from '../src/domain/durations.js';
import {
  backupWorkflowId,
  baseBackupWorkflowId,
  CERTIFICATE_CHECK_WORKFLOW_ID,
  COMPLIANCE_REPORT_WORKFLOW_ID,
  deploymentMonitorWorkflowId,
  HEARTBEAT_WORKFLOW_ID,
  healthCheckWorkflowId,
  IMAGE_SCAN_WORKFLOW_ID,
  maintenanceWorkflowId,
  reportWorkflowId,
  restoreDrillWorkflowId,
} from '../src/domain/workflow-ids.js';

/**
 * The recurring work, declared: one schedule per kind of job and database.
 * `opsctl schedules apply` (and `npm start`) make Temporal match this list.
 * Every schedule ID starts with the prefix (OPS_SCHEDULE_PREFIX, default
 * SCHEDULE_PREFIX); schedules under the prefix
 * that are no longer declared are deleted, others are never touched.
 *
 * The health check and the image scan are declared only when the policy
 * lists workloads for them: an empty run every few minutes is only noise.
 */
export const SCHEDULE_PREFIX = 'ops-';

export type OverlapPolicy = 'SKIP' | 'BUFFER_ONE' | 'BUFFER_ALL' | 'ALLOW_ALL';

export interface ScheduleDefinition {
  scheduleId: string;
  /** Cron expression or "every <duration>", as written in the policy. */
  when: string;
  timeZone: string;
  workflowType: string;
  /** Temporal appends each run's scheduled time to this ID. */
  workflowId: string;
  args: [Record<string, unknown>];
  overlap: OverlapPolicy;
  /** How far back missed times are still run after the server was down. */
  catchupWindow: string;
  /** Each run starts up to this much later, so many schedules at 02:00 do not start together. */
  jitter?: string;
  note: string;
}

export function scheduleDefinitions(
  policy: Pick<Policy, 'schedules' | 'databases'> & Partial<Pick<Policy, 'healthCheck' | 'rollouts' | 'backups' | 'certificates' | 'environments'>>,
  options: { prefix?: string; databases?: string[]; heartbeat?: boolean } = {},
): ScheduleDefinition[] {
  const { schedules } = policy;
  const prefix = options.prefix ?? SCHEDULE_PREFIX;
  const databases = options.databases ?? databaseNames(policy);
  const definitions: ScheduleDefinition[] = [];
  for (const database of databases) {
    definitions.push(
      {
        scheduleId: `${prefix}backup-${database}`,
        when: schedules.backup,
        timeZone: schedules.timeZone,
        workflowType: 'databaseBackupWorkflow',
        workflowId: backupWorkflowId(database),
        args: [{ database, requestedBy: 'schedule' }],
        // Never two at once; a time missed while a backup ran (or no worker was up) runs after it.
        overlap: 'BUFFER_ALL',
        catchupWindow: '6h',
        jitter: '10m',
        note: `Nightly backup of ${database}: pg_dump streamed to S3, verified by a restore, then retention`,
      },
      {
        scheduleId: `${prefix}restore-drill-${database}`,
        when: schedules.restoreDrill,
        timeZone: schedules.timeZone,
        workflowType: 'databaseRestoreDrillWorkflow',
        workflowId: restoreDrillWorkflowId(database),
        args: [{ database, requestedBy: 'schedule' }],
        overlap: 'SKIP',
        catchupWindow: '12h',
        jitter: '30m',
        note: `Weekly restore drill of ${database}'s newest backup into a scratch database`,
      },
      {
        scheduleId: `${prefix}maintenance-${database}`,
        when: schedules.maintenance,
        timeZone: schedules.timeZone,
        workflowType: 'databaseMaintenanceWorkflow',
        workflowId: maintenanceWorkflowId(database),
        args: [{ database, requestedBy: 'schedule' }],
        overlap: 'BUFFER_ONE',
        catchupWindow: '6h',
        jitter: '10m',
        note: `Weekly maintenance of ${database}: retention deletes, VACUUM (ANALYZE), REINDEX, idle connections, health`,
      },
    );
  }
  for (const database of (policy.backups?.walArchive?.databases ?? []).filter((name) => databases.includes(name))) {
    definitions.push({
      scheduleId: `${prefix}base-backup-${database}`,
      when: schedules.baseBackup,
      timeZone: schedules.timeZone,
      workflowType: 'databaseBaseBackupWorkflow',
      workflowId: baseBackupWorkflowId(database),
      args: [{ database, requestedBy: 'schedule' }],
      overlap: 'BUFFER_ONE',
      catchupWindow: '6h',
      jitter: '10m',
      note: `Nightly base backup of ${database} for point-in-time recovery (pg_basebackup streamed to S3), then retention of base backups and WAL`,
    });
  }
  for (const period of ['daily', 'weekly'] as const) {
    definitions.push({
      scheduleId: `${prefix}report-${period}`,
      when: period === 'daily' ? schedules.dailyReport : schedules.weeklyReport,
      timeZone: schedules.timeZone,
      workflowType: 'reportWorkflow',
      workflowId: reportWorkflowId(period),
      args: [{ period, requestedBy: 'schedule' }],
      // A report missed while the worker was down is still worth sending when it returns, once.
      overlap: 'SKIP',
      catchupWindow: period === 'daily' ? '12h' : '2d',
      jitter: '5m',
      note: `${period === 'daily' ? 'Daily report of the previous day' : 'Weekly report of the previous Monday to Sunday'}: services, SLOs, incidents, backups, rollouts to S3, Slack and email`,
    });
  }
  const scanned = policy.rollouts?.scan.workloads.length ?? 0;
  if (scanned > 0) {
    definitions.push({
      scheduleId: `${prefix}image-scan`,
      when: schedules.imageScan,
      timeZone: schedules.timeZone,
      workflowType: 'imageScanWorkflow',
      workflowId: IMAGE_SCAN_WORKFLOW_ID,
      args: [{ requestedBy: 'schedule' }],
      overlap: 'SKIP',
      catchupWindow: '6h',
      jitter: '15m',
      note: `Daily scan of the images of ${scanned} workloads; starts rollouts of newer tags that fix vulnerabilities`,
    });
  }
  if ((policy.healthCheck?.targets.length ?? 0) > 0) {
    definitions.push({
      scheduleId: `${prefix}health-check`,
      when: schedules.healthCheck,
      timeZone: schedules.timeZone,
      workflowType: 'healthCheckWorkflow',
      workflowId: healthCheckWorkflowId(),
      args: [{ requestedBy: 'schedule' }],
      // A check still running is not doubled, and an old missed check is worth nothing: the next one looks afresh.
      overlap: 'SKIP',
      catchupWindow: '4m',
      note: `Health check of ${policy.healthCheck!.targets.length} workloads: stuck pods, CPU scaling, memory growth`,
    });
  }
  const endpoints = policy.certificates?.endpoints.length ?? 0;
  if (endpoints > 0) {
    definitions.push({
      scheduleId: `${prefix}certificate-check`,
      when: schedules.certificateCheck,
      timeZone: schedules.timeZone,
      workflowType: 'certificateCheckWorkflow',
      workflowId: CERTIFICATE_CHECK_WORKFLOW_ID,
      args: [{ requestedBy: 'schedule' }],
      overlap: 'SKIP',
      catchupWindow: '12h',
      jitter: '15m',
      note: `Daily check of the TLS certificates of ${endpoints} endpoints: an incident before they expire, or when they do not verify`,
    });
  }
  for (const [environment, settings] of Object.entries(policy.environments ?? {})) {
    definitions.push({
      scheduleId: `${prefix}deployment-monitor-${environment}`,
      when: `every ${formatDuration(settings.interval)}`,
      timeZone: 'UTC',
      workflowType: 'deploymentMonitorWorkflow',
      workflowId: deploymentMonitorWorkflowId(environment),
      args: [{ environment, requestedBy: 'schedule' }],
      // A check still running is not doubled, and a missed one is worth nothing: the next one looks afresh.
      overlap: 'SKIP',
      catchupWindow: '1m',
      note: `Deployment monitor of environment ${environment}: health scores on /metrics`,
    });
  }
  definitions.push({
    scheduleId: `${prefix}compliance-report`,
    when: schedules.complianceReport,
    timeZone: schedules.timeZone,
    workflowType: 'complianceReportWorkflow',
    workflowId: COMPLIANCE_REPORT_WORKFLOW_ID,
    args: [{ requestedBy: 'schedule' }],
    // Auditors want every month's report: one missed while the worker was down is made when it returns.
    overlap: 'SKIP',
    catchupWindow: '7d',
    jitter: '10m',
    note: 'Monthly compliance report of the previous month: pass/fail per control with its evidence, locked in S3 (Object Lock) and mailed',
  });
  if (options.heartbeat) {
    definitions.push({
      scheduleId: `${prefix}heartbeat`,
      when: 'every 1m',
      timeZone: 'UTC',
      workflowType: 'heartbeatWorkflow',
      workflowId: HEARTBEAT_WORKFLOW_ID,
      args: [{ requestedBy: 'schedule' }],
      // A missed beat is not made up: its absence is the message.
      overlap: 'SKIP',
      catchupWindow: '10s',
      note: "Dead man's switch: a request to OPS_HEARTBEAT_URL every minute, noticed outside when it stops",
    });
  }
  return definitions.filter((definition) => definition.when.trim() !== 'off');
}

/** "default" (DATABASE_URL) and every database the policy names. */
export function databaseNames(policy: Pick<Policy, 'databases'>): string[] {
  return [...new Set(['default', ...Object.keys(policy.databases)])];
}

/** A short fingerprint of everything a definition sets, kept on the schedule to see changes. */
export function definitionHash(definition: ScheduleDefinition): string {
  return createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 16);
}

export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`"${text}" is not a duration`);
  return ms;
}
