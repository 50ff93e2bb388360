/**
 * Every workflow ID the product builds, in one place. An ID is a contract
 * (the design contract: `incident-<dedupKey>`, `rollout-<namespace>-<deployment>`,
 * `backup-<database>`): the webhook server, opsctl, the schedules and the
 * workflows themselves must agree on it, because Temporal's "one running
 * workflow per ID" is what keeps two backups of a database, or two rollouts of
 * a workload, from running at once.
 */

/** `incident-<dedupKey>`; the dedup keys themselves come from src/webhooks/dedup.ts. */
export function incidentWorkflowId(dedupKey: string): string {
  return `incident-${dedupKey}`;
}

export function rolloutWorkflowId(namespace: string, workload: string): string {
  return `rollout-${namespace}-${workload}`;
}

/** One per database, so Temporal itself refuses a second backup of it while one runs. */
export function backupWorkflowId(database: string): string {
  return `backup-${database}`;
}

/** The scheduled drill; one started by hand carries the instant it was asked for. */
export function restoreDrillWorkflowId(database: string, requestedAtMs?: number): string {
  return requestedAtMs === undefined ? `restore-drill-${database}` : `restore-drill-${database}-${requestedAtMs}`;
}

/** A point-in-time restore goes to a new data directory each time, so each has its own ID. */
export function pointInTimeRestoreWorkflowId(database: string, requestedAtMs: number): string {
  return `restore-pitr-${database}-${requestedAtMs}`;
}

/** One base backup of a database at a time, beside its logical backup. */
export function baseBackupWorkflowId(database: string): string {
  return `base-backup-${database}`;
}

/** One restore into a database at a time: `restore-<into>` (target names hold no "-", so never a drill's ID). */
export function restoreWorkflowId(into: string): string {
  return `restore-${into}`;
}

/** The one WAL archiver of a database: it continues as new, so the ID stays. */
export function walArchiveWorkflowId(database: string): string {
  return `wal-archive-${database}`;
}

export function maintenanceWorkflowId(database: string): string {
  return `maintenance-${database}`;
}

/** The scheduled report of a period; one run by hand names who asked for it. */
export function reportWorkflowId(period: string, requestedBy?: string): string {
  return requestedBy === undefined ? `report-${period}` : `report-${period}-by-${requestedBy}`;
}

export const IMAGE_SCAN_WORKFLOW_ID = 'image-scan';
export const HEARTBEAT_WORKFLOW_ID = 'heartbeat';
export const CERTIFICATE_CHECK_WORKFLOW_ID = 'certificate-check';

/** The scheduled monthly compliance report. */
export const COMPLIANCE_REPORT_WORKFLOW_ID = 'compliance-report';

/** The scheduled health check, and the one opsctl runs by hand beside it. */
export function healthCheckWorkflowId(manual = false): string {
  return manual ? 'health-check-manual' : 'health-check';
}

/** A runbook run by hand (opsctl remediation run). */
export function remediationWorkflowId(runbook: string): string {
  return `remediation-${runbook}`;
}

/**
 * Children are named under their parent: `<parent>/<first 8 of its first run>/<what>`.
 * The run prefix keeps a child of an older incident with the same ID (an alert
 * that fired again after the first incident closed) from colliding with this one's.
 */
export function incidentChildWorkflowId(parent: { workflowId: string; firstExecutionRunId: string }, child: `escalation-${number}` | `remediation-${string}`): string {
  return `${parent.workflowId}/${parent.firstExecutionRunId.slice(0, 8)}/${child}`;
}

/** A maintenance step of a runbook runs as a child named after the runbook's run. */
export function runbookMaintenanceWorkflowId(parentWorkflowId: string, database: string): string {
  return `${parentWorkflowId}/${maintenanceWorkflowId(database)}`;
}

/** The scheduled deployment monitor of one environment. */
export function deploymentMonitorWorkflowId(environment: string): string {
  return `deployment-monitor-${environment}`;
}
