// The workflow bundle's entry: every workflow type the `ops` queue serves.
export { selfCheckWorkflow } from './self-check.js';
export { incidentWorkflow } from './incident.js';
export { escalationWorkflow } from './escalation.js';
export { databaseBackupWorkflow } from './database-backup.js';
export { databaseRestoreDrillWorkflow } from './database-backup.js';
export { databaseRestoreWorkflow } from './database-restore.js';
export { databaseBaseBackupWorkflow } from './database-base-backup.js';
export { walArchiveWorkflow } from './wal-archive.js';
export { databaseMaintenanceWorkflow } from './database-maintenance.js';
export { securityRolloutWorkflow } from './security-rollout.js';
export { remediationWorkflow } from './remediation.js';
export { healthCheckWorkflow } from './health-check.js';
export { reportWorkflow } from './report.js';
export { imageScanWorkflow } from './image-scan.js';
export { heartbeatWorkflow } from './heartbeat.js';
export { certificateCheckWorkflow } from './certificate-check.js';
export { complianceReportWorkflow } from './compliance-report.js';
