import type { ReportData } from '../domain/report.js';
import { NO_DATA, percent, seconds, timestamp, title } from './format.js';
import { reportSummary } from './markdown.js';
import { barChart, escapeXml, lineChart } from './svg-charts.js';
import { htmlTable } from './table-render.js';
import { backupsTable, deploymentsTable, incidentsTable, noisiestTable, rolloutsTable, securityFindingsCounts, securityFindingsTable, servicesTable, slosTable, type Table } from './tables.js';

/**
 * The report as one self-contained HTML page (inline CSS and SVG, no script,
 * nothing fetched), so it reads the same from S3, a browser or a mail client.
 */
export function renderReportHtml(data: ReportData): string {
  const table = (rows: Table) => htmlTable(rows, (text) => (text === NO_DATA ? 'no-data' : undefined));
  const section = (id: string, heading: string, body: string) => `<section id="${id}"><h2>${escapeXml(heading)}</h2>${body}</section>`;
  const { incidents, backups } = data.operations;

  const services = section(
    'services',
    'Services',
    (data.services.length === 0
      ? '<p>No services configured (reports.services).</p>'
      : table(servicesTable(data))) +
      lineChart('error-ratio', 'Error ratio per day', data.services.map((service) => ({ name: service.service, points: service.errorRatioByDay })), (value) => percent(value, 1)) +
      lineChart(
        'latency',
        'Latency per day (p95 and p99)',
        data.services.flatMap((service) => [
          { name: `${service.service} p95`, points: service.p95ByDay },
          { name: `${service.service} p99`, points: service.p99ByDay },
        ]),
        (value) => seconds(value),
      ),
  );

  const slos = section(
    'slos',
    'SLOs and error budgets',
    data.slos.length === 0
      ? '<p>No SLOs defined (slos).</p>'
      : table(slosTable(data)) + lineChart('error-budget', 'Error budget left per day', data.slos.map((slo) => ({ name: slo.name, points: slo.budgetLeftByDay })), (value) => percent(value, 0), { max: 1 }),
  );

  const incidentSection = section(
    'incidents',
    'Incidents',
    table(incidentsTable(data)) +
      '<h3>Noisiest alerts</h3>' +
      (incidents.noisiest.length === 0 ? '<p>No alerts.</p>' : table(noisiestTable(data))) +
      barChart('incidents', 'Incidents opened per day', { name: 'incidents', points: incidents.openedByDay }, (value) => String(value)),
  );

  const backupSection = section(
    'backups',
    'Backups',
    backups.length === 0
      ? '<p>No backups recorded.</p>'
      : table(backupsTable(data)),
  );
  const rolloutSection = section('rollouts', 'Rollouts', table(rolloutsTable(data)));
  const deploymentSection = !data.operations.deployments
    ? ''
    : section('deployments', 'Deployments', data.operations.deployments.length === 0 ? '<p>No deployment monitor checks in the period.</p>' : table(deploymentsTable(data)));
  const security = data.operations.security;
  const counts = securityFindingsCounts(data);
  const shownFindings = securityFindingsTable(data);
  const moreFindings = (security?.open.length ?? 0) - shownFindings.rows.length;
  const securitySection = !security
    ? ''
    : section(
        'security',
        'Security findings',
        counts ? `<p>Open: ${escapeXml(counts)}.</p>${table(shownFindings)}${moreFindings > 0 ? `<p>And ${moreFindings} more.</p>` : ''}` : '<p>No open security findings.</p>',
      );

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title(data))}</title>
<style>
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#111827;max-width:760px;margin:24px auto;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #e5e7eb}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:right;font-size:13px}th:first-child,td:first-child{text-align:left}
td.no-data{color:#9ca3af;font-style:italic}figure{margin:16px 0}figcaption{font-weight:600;font-size:13px;margin-bottom:4px}.legend{font-size:12px;color:#374151}
</style></head><body>
<h1>${escapeXml(title(data))}</h1>
<p>Period ${escapeXml(timestamp(data.window.start))} to ${escapeXml(timestamp(data.window.end))}; generated ${escapeXml(timestamp(data.generatedAt))}. Figures the sources do not have read "${NO_DATA}".</p>
<section id="summary"><h2>Summary</h2><p>${escapeXml(reportSummary(data))}</p></section>
${services}
${slos}
${incidentSection}
${backupSection}
${rolloutSection}
${deploymentSection}
${securitySection}
</body></html>
`;
}
