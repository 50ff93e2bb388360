import { writeFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { InvalidArgumentError, type Command } from 'commander';
import { renderReportHtml } from '../../reports/html.js';
import { renderReportMarkdown } from '../../reports/markdown.js';
import type { reportWorkflow, ReportResult } from '../../../workflows/report.js';
import { reportWorkflowId } from '../../domain/workflow-ids.js';
import { requesterOption } from '../common-options.js';
import { EXIT, printJson, UserError } from '../output.js';
import { runToEnd } from '../workflow-errors.js';

/** `opsctl report run daily|weekly [--out FILE]`: a report now (reportWorkflow), written locally too when asked. */
export interface ReportContext {
  temporal: () => Promise<Client>;
  taskQueue: () => string;
  json: () => boolean;
}

const period = (value: string) => {
  if (value !== 'daily' && value !== 'weekly') throw new InvalidArgumentError('expected daily or weekly');
  return value;
};

export function registerReportCommands(program: Command, context: ReportContext): void {
  const report = program.command('report').description('daily and weekly operations reports');
  report
    .command('run')
    .description('build a report now: to S3, and to Slack and email unless --no-deliver')
    .argument('<period>', 'daily (the previous UTC day) or weekly (the previous Monday to Sunday)', period)
    .option('--at <time>', 'the report due at this RFC 3339 time (default now)')
    .option('--out <file>', 'also write it here: HTML if the name ends in .html, else Markdown')
    .option('--no-deliver', 'store it in S3 only: no Slack message, no email')
    .option(...requesterOption)
    .action(async (chosen: 'daily' | 'weekly', options: { at?: string; out?: string; deliver: boolean; by: string }) => {
      if (options.at !== undefined && Number.isNaN(Date.parse(options.at))) throw new UserError(`--at "${options.at}": expected an RFC 3339 time such as 2026-11-23T08:00:00Z`, EXIT.usage);
      const client = await context.temporal();
      const workflowId = reportWorkflowId(chosen, options.by);
      const result: ReportResult = await runToEnd(`a ${chosen} report`, workflowId, () =>
        client.workflow.execute<typeof reportWorkflow>('reportWorkflow', {
          taskQueue: context.taskQueue(),
          workflowId,
          args: [{ period: chosen, requestedBy: options.by, ...(options.at ? { at: new Date(options.at).toISOString() } : {}), ...(options.deliver ? {} : { destinations: [] }) }],
        }),
      );
      if (options.out) writeFileSync(options.out, options.out.endsWith('.html') ? renderReportHtml(result.data) : renderReportMarkdown(result.data));
      if (context.json()) return printJson({ ...result, ...(options.out ? { out: options.out } : {}) });
      process.stdout.write(`${result.summary}\n\ns3://${result.bucket}/${result.markdownKey}\ns3://${result.bucket}/${result.htmlKey}\n`);
      if (result.slack) process.stdout.write(`Slack: ${result.slack.channel}\n`);
      if (result.email) process.stdout.write(`Email: ${result.email.to.join(', ')}\n`);
      if (options.out) process.stdout.write(`Written to ${options.out}\n`);
    });
}
