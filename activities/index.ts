import { createAuditActivities, type AuditDeps } from './audit.js';
import { createCertificateActivities, type CertificateDeps } from './certificates.js';
import { createComplianceActivities } from './compliance.js';
import { createDeploymentMonitorActivities } from './deployment-monitor.js';
import { createBackupActivities, type BackupDeps } from './backup.js';
import { createBaseBackupActivities } from './base-backup.js';
import { createDatabaseRestoreActivities } from './database-restore.js';
import { createPointInTimeRestoreActivities, type PointInTimeRestoreDeps } from './point-in-time-restore.js';
import { createWalArchiveActivities, type WalArchiveDeps } from './wal-archive.js';
import { createGuardrailActivities } from './guardrails.js';
import { createHeartbeatActivities, type HeartbeatDeps } from './heartbeat.js';
import { createHttpCheckActivities } from './http-check.js';
import { createIncidentActivities, type IncidentDeps } from './incidents.js';
import { createIncidentStatusActivities } from './incident-status.js';
import { createEscalationProgressActivities } from './escalation-progress.js';
import { createNotifyActivities, type NotifyDeps } from './notify.js';
import { createOnCallActivities } from './oncall.js';
import { createPagingActivities, type PagingDeps } from './paging.js';
import { createKubernetesActivities, type KubernetesDeps } from './kubernetes.js';
import { createPostgresActivities, type PostgresDeps } from './postgres.js';
import { createPostmortemActivities } from './postmortem.js';
import { createPrometheusActivities, type PrometheusDeps } from './prometheus.js';
import { createRegistryActivities } from './registry.js';
import { createRemediationSettingsActivities } from './remediation-settings.js';
import { createReportActivities } from './reports.js';
import { createRaiseIncidentActivities, type RaiseIncidentDeps } from './raise-incident.js';
import { createRolloutSettingsActivities } from './rollout-settings.js';
import { createScannerActivities, type ScannerDeps } from './scanner.js';
import { createSecurityFindingsActivities } from './security-findings.js';
import { createStorageActivities, type StorageDeps } from './storage.js';

/** Everything the activity factories need; the worker builds it from real clients, tests from test ones. */
export type ActivityDeps = AuditDeps & CertificateDeps & StorageDeps & Omit<IncidentDeps, 'slackEnabled'> & NotifyDeps & PagingDeps & BackupDeps & RaiseIncidentDeps & PostgresDeps & KubernetesDeps & ScannerDeps & PrometheusDeps & HeartbeatDeps & Pick<WalArchiveDeps, 'walSpoolDir'> & Pick<PointInTimeRestoreDeps, 'restoreDir'>;

/** All activities the `ops` task queue serves, by name. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createAuditActivities(deps),
    ...createStorageActivities(deps),
    ...createIncidentActivities({ ...deps, slackEnabled: deps.slack !== undefined }),
    ...createNotifyActivities(deps),
    ...createPagingActivities(deps),
    ...createOnCallActivities(deps),
    ...createBackupActivities(deps),
    ...createDatabaseRestoreActivities(deps),
    ...createBaseBackupActivities(deps),
    ...createWalArchiveActivities(deps),
    ...createPointInTimeRestoreActivities(deps),
    ...createRaiseIncidentActivities(deps),
    ...createPostgresActivities(deps),
    ...createKubernetesActivities(deps),
    ...createScannerActivities(deps),
    ...createSecurityFindingsActivities(deps),
    ...createRolloutSettingsActivities(deps),
    ...createPrometheusActivities(deps),
    ...createRegistryActivities(),
    ...createGuardrailActivities(deps),
    ...createHttpCheckActivities(),
    ...createHeartbeatActivities(deps),
    ...createRemediationSettingsActivities(deps),
    ...createIncidentStatusActivities(deps),
    ...createEscalationProgressActivities(deps),
    ...createReportActivities(deps),
    ...createCertificateActivities(deps),
    ...createPostmortemActivities(deps),
    ...createComplianceActivities(deps),
    ...createDeploymentMonitorActivities(deps),
  };
}

export type OpsActivities = ReturnType<typeof createActivities>;
