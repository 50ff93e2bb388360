import type { ReportData } from '../domain/report.js';
import { SEVERITIES } from '../domain/severity.js';
import { bytes, duration, percent, ratio, seconds, timestamp } from './format.js';

/** The report's tables as header and text rows, shared by the Markdown and the HTML renderings. */
export interface Table {
  header: string[];
  rows: string[][];
}

export function servicesTable(data: ReportData): Table {
  return {
    header: ['Service', 'Availability', 'Error ratio', 'p50', 'p95', 'p99'],
    rows: data.services.map((service) => [service.service, percent(service.availability, 3), percent(service.errorRatio), seconds(service.p50), seconds(service.p95), seconds(service.p99)]),
  };
}

export function slosTable(data: ReportData): Table {
  return {
    header: ['SLO', 'Service', 'Objective', 'Window', 'Attainment', 'Error budget left', 'Burn rate (period)'],
    rows: data.slos.map((slo) => [
      slo.name,
      slo.service,
      `${percent(slo.objective, 2)}${slo.kind === 'latency' ? ` under ${seconds(slo.threshold)}` : ''}`,
      `${slo.windowDays}d`,
      percent(slo.attainment, 3),
      percent(slo.budgetLeft, 1),
      ratio(slo.burnRate),
    ]),
  };
}

export function incidentsTable(data: ReportData): Table {
  const { incidents } = data.operations;
  return {
    header: ['Opened', ...SEVERITIES, 'Acknowledged', 'Resolved', 'MTTA', 'MTTR', 'Open at end'],
    rows: [
      [
        String(incidents.opened),
        ...SEVERITIES.map((severity) => String(incidents.bySeverity[severity])),
        String(incidents.acknowledged),
        String(incidents.resolved),
        duration(incidents.mttaMs),
        duration(incidents.mttrMs),
        String(incidents.openAtEnd),
      ],
    ],
  };
}

export function noisiestTable(data: ReportData): Table {
  return { header: ['Alert', 'Alerts', 'Incidents'], rows: data.operations.incidents.noisiest.map((entry) => [entry.alertname, String(entry.alerts), String(entry.incidents)]) };
}

export function backupsTable(data: ReportData): Table {
  return {
    header: ['Database', 'Succeeded in period', 'Last success', 'Last verified', 'Last size'],
    rows: data.operations.backups.map((backup) => [backup.database, String(backup.succeeded), timestamp(backup.lastSuccess), timestamp(backup.lastVerified), bytes(backup.lastBytes)]),
  };
}

export function rolloutsTable(data: ReportData): Table {
  const { rollouts } = data.operations;
  return { header: ['Started', 'Succeeded', 'Rolled back', 'Failed'], rows: [[String(rollouts.started), String(rollouts.succeeded), String(rollouts.rolledBack), String(rollouts.failed)]] };
}

/** Open findings, most severe then oldest first; `limit` rows, the rest counted by the caller. */
export function securityFindingsTable(data: ReportData, limit = 50): Table {
  const open = data.operations.security?.open ?? [];
  return {
    header: ['Severity', 'Vulnerability', 'Package', 'Workload', 'Image', 'Age (days)'],
    rows: open.slice(0, limit).map((finding) => [finding.severity, finding.vulnerability, finding.package, finding.workload, finding.image, String(finding.ageDays)]),
  };
}

/** "2 CRITICAL, 1 HIGH", or undefined when nothing is open. */
export function securityFindingsCounts(data: ReportData): string | undefined {
  const bySeverity = data.operations.security?.bySeverity ?? {};
  const parts = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'].filter((severity) => (bySeverity[severity] ?? 0) > 0).map((severity) => `${bySeverity[severity]} ${severity}`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** The deployment monitor's period per deployment, least healthy first. */
export function deploymentsTable(data: ReportData): Table {
  const deployments = [...(data.operations.deployments ?? [])].sort((a, b) => a.healthyRatio - b.healthyRatio || a.averageScore - b.averageScore);
  return {
    header: ['Environment', 'Deployment', 'Checks', 'Healthy', 'Average score', 'Lowest score', 'Lowest ready', 'Most restarts', 'Now'],
    rows: deployments.map((entry) => [
      entry.environment,
      entry.deployment,
      String(entry.checks),
      percent(entry.healthyRatio, 1),
      String(Math.round(entry.averageScore)),
      String(entry.minScore),
      percent(entry.minReadyRatio, 0),
      String(entry.maxRestarts),
      entry.lastState,
    ]),
  };
}
