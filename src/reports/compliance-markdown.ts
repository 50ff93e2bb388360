import { complianceSummary, type ComplianceEvidence, type ControlResult } from '../domain/compliance.js';
import { complianceSections, controlsTable } from './compliance-tables.js';
import { markdownTable as table } from './table-render.js';

export function complianceTitle(evidence: ComplianceEvidence): string {
  return `Compliance report, ${evidence.window.month}`;
}

/** The report as Markdown: the controls with their pass/fail line, then the evidence behind them. */
export function renderComplianceMarkdown(evidence: ComplianceEvidence, controls: ControlResult[]): string {
  const lines = [
    `# ${complianceTitle(evidence)}`,
    '',
    `Period ${evidence.window.start} to ${evidence.window.end}; generated ${evidence.generatedAt}. ${complianceSummary(controls)}.`,
    '',
    '## Controls',
    '',
    table(controlsTable(controls)),
    '',
  ];
  for (const section of complianceSections(evidence)) {
    lines.push(`## ${section.heading}`, '', section.table.rows.length === 0 ? section.empty : table(section.table), '');
  }
  return lines.join('\n');
}
