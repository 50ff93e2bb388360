import { escapeXml } from './svg-charts.js';
import type { Table } from './tables.js';

/**
 * A table as Markdown (GitHub's pipe tables) or HTML, for every document we
 * write: the reports, the compliance report, post-mortem drafts. A cell's
 * pipes and line breaks are escaped, so no text can end a cell or a row.
 */
export function markdownTable({ header, rows }: Table): string {
  const cell = (text: string) => text.replaceAll('|', '\\|').replace(/\r?\n/g, ' ');
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`)].join('\n');
}

/** `cellClass` names a cell's class from its text (a "no data" cell, a FAIL). */
export function htmlTable({ header, rows }: Table, cellClass: (text: string) => string | undefined = () => undefined): string {
  const cell = (text: string) => {
    const name = cellClass(text);
    return `<td${name ? ` class="${name}"` : ''}>${escapeXml(text)}</td>`;
  };
  return `<table><thead><tr>${header.map((name) => `<th>${escapeXml(name)}</th>`).join('')}</tr></thead><tbody>${rows.map((row) => `<tr>${row.map(cell).join('')}</tr>`).join('')}</tbody></table>`;
}
