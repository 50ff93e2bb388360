import type { DayFigure, ReportData } from '../domain/report.js';
import { SEVERITIES } from '../domain/severity.js';
import { duration, NO_DATA, percent, seconds, timestamp, title } from './format.js';
import { markdownTable as table } from './table-render.js';
import { backupsTable, deploymentsTable, incidentsTable, noisiestTable, rolloutsTable, securityFindingsCounts, securityFindingsTable, servicesTable, slosTable, type Table } from './tables.js';

/** The report as Markdown: the same sections and figures as the HTML page, tables instead of charts. */
export function renderReportMarkdown(data: ReportData): string {
  const { incidents, backups } = data.operations;
  const days = (pick: (service: ReportData['services'][number]) => DayFigure[], format: (value: number | undefined) => string): Table => ({
    header: ['Service', ...(data.services[0] ? pick(data.services[0]).map((day) => day.day.slice(5)) : [])],
    rows: data.services.map((service) => [service.service, ...pick(service).map((day) => format(day.value))]),
  });
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
    data.services.length === 0 ? 'No services configured (reports.services).' : table(servicesTable(data)),
    '',
    '### Error ratio per day',
    '',
    data.services.length === 0 ? '' : table(days((service) => service.errorRatioByDay, (value) => percent(value))),
    '',
    '### p95 latency per day',
    '',
    data.services.length === 0 ? '' : table(days((service) => service.p95ByDay, seconds)),
    '',
    '## SLOs',
    '',
    data.slos.length === 0 ? 'No SLOs defined (slos).' : table(slosTable(data)),
    '',
    '## Incidents',
    '',
    table(incidentsTable(data)),
    '',
    '### Noisiest alerts',
    '',
    incidents.noisiest.length === 0 ? 'No alerts.' : table(noisiestTable(data)),
    '',
    '### Incidents opened per day',
    '',
    table({ header: incidents.openedByDay.map((day) => day.day.slice(5)), rows: [incidents.openedByDay.map((day) => String(day.value ?? NO_DATA))] }),
    '',
    '## Backups',
    '',
    backups.length === 0 ? 'No backups recorded.' : table(backupsTable(data)),
    '',
    '## Rollouts',
    '',
    table(rolloutsTable(data)),
    '',
    ...(data.operations.deployments ? ['## Deployments', '', data.operations.deployments.length === 0 ? 'No deployment monitor checks in the period.' : table(deploymentsTable(data)), ''] : []),
    ...securitySection(data),
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
    ...(data.operations.security ? [`${data.operations.security.open.length} open security findings${securityFindingsCounts(data) ? ` (${securityFindingsCounts(data)})` : ''}`] : []),
  ];
  return `${parts.join('; ')}.`;
}

function sloSummary(data: ReportData, burning: string[]): string {
  if (data.slos.length === 0) return 'no SLOs';
  const unknown = data.slos.filter((slo) => slo.budgetLeft === undefined).map((slo) => slo.name);
  const known = burning.length > 0 ? `error budget low: ${burning.join(', ')}` : unknown.length < data.slos.length ? 'every SLO with data has over 25% of its budget left' : '';
  return [known, unknown.length > 0 ? `${NO_DATA} for ${unknown.join(', ')}` : ''].filter(Boolean).join(', ');
}

/** Open security findings by severity and age; reports made before findings were kept have none. */
function securitySection(data: ReportData): string[] {
  const security = data.operations.security;
  if (!security) return [];
  const counts = securityFindingsCounts(data);
  if (!counts) return ['## Security findings', '', 'No open security findings.', ''];
  const shown = securityFindingsTable(data);
  const more = security.open.length - shown.rows.length;
  return ['## Security findings', '', `Open: ${counts}.`, '', table(shown), ...(more > 0 ? ['', `And ${more} more.`] : []), ''];
}
