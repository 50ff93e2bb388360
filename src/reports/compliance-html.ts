import { complianceSummary, type ComplianceEvidence, type ControlResult } from '../domain/compliance.js';
import { complianceTitle } from './compliance-markdown.js';
import { complianceSections, controlsTable } from './compliance-tables.js';
import { escapeXml } from './svg-charts.js';
import { htmlTable } from './table-render.js';
import type { Table } from './tables.js';

const table = (rows: Table) => htmlTable(rows, (text) => (text === 'PASS' ? 'pass' : text === 'FAIL' ? 'fail' : undefined));

/** The same report as one self-contained HTML page (no scripts, nothing fetched). */
export function renderComplianceHtml(evidence: ComplianceEvidence, controls: ControlResult[]): string {
  const title = escapeXml(complianceTitle(evidence));
  const sections = complianceSections(evidence)
    .map((section) => `<section id="${section.id}"><h2>${escapeXml(section.heading)}</h2>${section.table.rows.length === 0 ? `<p>${escapeXml(section.empty)}</p>` : table(section.table)}</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#111827;max-width:960px;margin:24px auto;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #e5e7eb}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;font-size:13px;vertical-align:top}
td.pass{color:#166534;font-weight:600}td.fail{color:#991b1b;font-weight:600}
</style></head><body>
<h1>${title}</h1>
<p>Period ${escapeXml(evidence.window.start)} to ${escapeXml(evidence.window.end)}; generated ${escapeXml(evidence.generatedAt)}. ${escapeXml(complianceSummary(controls))}.</p>
<section id="controls"><h2>Controls</h2>${table(controlsTable(controls))}</section>
${sections}
</body></html>
`;
}
