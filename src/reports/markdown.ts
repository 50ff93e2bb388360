import type { ReportData } from '../domain/report.js';
import { SEVERITIES } from '../domain/severity.js';
import { bytes, duration, NO_DATA, percent, ratio, seconds, timestamp, title } from './format.js';

/** The report as Markdown: the same sections and figures as the HTML page, tables instead of charts. */
export function renderReportMarkdown(data: ReportData): string {
  const table = (header: string[], rows: string[][]) => [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
  const { incidents, backups, rollouts } = data.operations;
  const lines = [
    `# ${title(data)}`,
    '',
    `Period ${timestamp(data.window.start)} to ${timestamp(data.window.end)}; generated ${timestamp(data.generatedAt)}. Figures the sources do not have read "${NO_DATA}".`,
    '',
    '## Summary',
    '',
    reportSummary(data),
    '',
    '## Services',
    '',
    data.services.length === 0
      ? 'No services configured (reports.services).'
      : table(
          ['Service', 'Availability', 'Error ratio', 'p50', 'p95', 'p99'],
          data.services.map((service) => [service.service, percent(service.availability, 3), percent(service.errorRatio), seconds(service.p50), seconds(service.p95), seconds(service.p99)]),
        ),
    '',
    '### Error ratio per day',
    '',
    data.services.length === 0
      ? ''
      : table(['Service', ...data.services[0]!.errorRatioByDay.map((day) => day.day.slice(5))], data.services.map((service) => [service.service, ...service.errorRatioByDay.map((day) => percent(day.value))])),
    '',
    '### p95 latency per day',
    '',
    data.services.length === 0
      ? ''
      : table(['Service', ...data.services[0]!.p95ByDay.map((day) => day.day.slice(5))], data.services.map((service) => [service.service, ...service.p95ByDay.map((day) => seconds(day.value))])),
    '',
    '## SLOs',
    '',
    data.slos.length === 0
      ? 'No SLOs defined (slos).'
      : table(
          ['SLO', 'Service', 'Objective', 'Window', 'Attainment', 'Error budget left', 'Burn rate (period)'],
          data.slos.map((slo) => [
            slo.name,
            slo.service,
            `${percent(slo.objective, 2)}${slo.kind === 'latency' ? ` under ${seconds(slo.threshold)}` : ''}`,
            `${slo.windowDays}d`,
            percent(slo.attainment, 3),
            percent(slo.budgetLeft, 1),
            ratio(slo.burnRate),
          ]),
        ),
    '',
    '## Incidents',
    '',
    table(
      ['Opened', ...SEVERITIES, 'Acknowledged', 'Resolved', 'MTTA', 'MTTR', 'Open at end'],
      [[String(incidents.opened), ...SEVERITIES.map((severity) => String(incidents.bySeverity[severity])), String(incidents.acknowledged), String(incidents.resolved), duration(incidents.mttaMs), duration(incidents.mttrMs), String(incidents.openAtEnd)]],
    ),
    '',
    '### Noisiest alerts',
    '',
    incidents.noisiest.length === 0 ? 'No alerts.' : table(['Alert', 'Alerts', 'Incidents'], incidents.noisiest.map((entry) => [entry.alertname, String(entry.alerts), String(entry.incidents)])),
    '',
    '### Incidents opened per day',
    '',
    table(incidents.openedByDay.map((day) => day.day.slice(5)), [incidents.openedByDay.map((day) => String(day.value ?? NO_DATA))]),
    '',
    '## Backups',
    '',
    backups.length === 0
      ? 'No backups recorded.'
      : table(
          ['Database', 'Succeeded in period', 'Last success', 'Last verified', 'Last size'],
          backups.map((backup) => [backup.database, String(backup.succeeded), timestamp(backup.lastSuccess), timestamp(backup.lastVerified), bytes(backup.lastBytes)]),
        ),
    '',
    '## Rollouts',
    '',
    table(['Started', 'Succeeded', 'Rolled back', 'Failed'], [[String(rollouts.started), String(rollouts.succeeded), String(rollouts.rolledBack), String(rollouts.failed)]]),
    '',
  ];
  return lines.join('\n');
}

/** The one-paragraph summary for Slack and the top of the report. */
export function reportSummary(data: ReportData): string {
  const { incidents, backups, rollouts } = data.operations;
  const worst = [...data.services].filter((service) => service.availability !== undefined).sort((a, b) => a.availability! - b.availability!)[0];
  const burning = data.slos.filter((slo) => slo.budgetLeft !== undefined && slo.budgetLeft < 0.25).map((slo) => `${slo.name} (${percent(slo.budgetLeft, 1)} left)`);
  const parts = [
    `${incidents.opened} incidents (${SEVERITIES.filter((severity) => incidents.bySeverity[severity] > 0).map((severity) => `${incidents.bySeverity[severity]} ${severity}`).join(', ') || 'none'}), MTTA ${duration(incidents.mttaMs)}, MTTR ${duration(incidents.mttrMs)}, ${incidents.openAtEnd} open`,
    worst ? `lowest availability ${worst.service} ${percent(worst.availability, 3)}` : `availability ${NO_DATA}`,
    sloSummary(data, burning),
    `${backups.reduce((sum, backup) => sum + backup.succeeded, 0)} backups`,
    `${rollouts.started} rollouts (${rollouts.rolledBack} rolled back)`,
  ];
  return `${parts.join('; ')}.`;
}

function sloSummary(data: ReportData, burning: string[]): string {
  if (data.slos.length === 0) return 'no SLOs';
  const unknown = data.slos.filter((slo) => slo.budgetLeft === undefined).map((slo) => slo.name);
  const known = burning.length > 0 ? `error budget low: ${burning.join(', ')}` : unknown.length < data.slos.length ? 'every SLO with data has over 25% of its budget left' : '';
  return [known, unknown.length > 0 ? `${NO_DATA} for ${unknown.join(', ')}` : ''].filter(Boolean).join(', ');
}
