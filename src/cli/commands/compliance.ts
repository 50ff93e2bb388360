import { writeFileSync } from 'node:fs';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { InvalidArgumentError, type Command } from 'commander';
import type { ComplianceReportResult, complianceReportWorkflow } from '../../../workflows/compliance-report.js';
import { requesterOption } from '../common-options.js';
import { EXIT, printJson, printTable } from '../output.js';
import { runToEnd } from '../workflow-errors.js';

/**
 * `opsctl compliance run [--month YYYY-MM] [--out FILE]`: the compliance report
 * now (complianceReportWorkflow), locked in S3 like the scheduled one; exit 1
 * when a control failed.
 */
export interface ComplianceContext {
  temporal: () => Promise<Client>;
  s3: () => S3Client;
  taskQueue: () => string;
  json: () => boolean;
}

const month = (value: string) => {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(value)) throw new InvalidArgumentError('expected YYYY-MM');
  return value;
};

export function registerComplianceCommands(program: Command, context: ComplianceContext): void {
  const compliance = program.command('compliance').description('the monthly compliance report: pass/fail per control, locked in S3');
  compliance
    .command('run')
    .description('build the compliance report now; exit 1 when a control failed')
    .option('--month <YYYY-MM>', 'the month to report (default the previous one)', month)
    .option('--out <file>', 'also write it here: HTML if the name ends in .html, else Markdown')
    .option('--no-mail', 'do not mail it to compliance.recipients')
    .option(...requesterOption)
    .action(async (options: { month?: string; out?: string; mail: boolean; by: string }) => {
      const client = await context.temporal();
      const workflowId = `compliance-report-${options.month ?? 'previous'}-by-${options.by}-${Date.now().toString(36)}`;
      const result: ComplianceReportResult = await runToEnd('a compliance report', workflowId, () =>
        client.workflow.execute<typeof complianceReportWorkflow>('complianceReportWorkflow', {
          taskQueue: context.taskQueue(),
          workflowId,
          args: [{ ...(options.month ? { month: options.month } : {}), ...(options.mail ? {} : { recipients: [] }), requestedBy: options.by }],
        }),
      );
      if (options.out) {
        const key = options.out.endsWith('.html') ? result.htmlKey : result.markdownKey;
        const version = options.out.endsWith('.html') ? result.versions.html : result.versions.markdown;
        const object = await context.s3().send(new GetObjectCommand({ Bucket: result.bucket, Key: key, ...(version ? { VersionId: version } : {}) }));
        writeFileSync(options.out, (await object.Body?.transformToString('utf8')) ?? '');
      }
      if (context.json()) printJson({ ...result, ...(options.out ? { out: options.out } : {}) });
      else {
        printTable(
          result.controls.map((control) => ({ control: control.id, result: control.passed ? 'PASS' : 'FAIL', evidence: control.detail })),
          ['control', 'result', 'evidence'],
        );
        process.stdout.write(`\n${result.summary}\ns3://${result.bucket}/${result.markdownKey}\ns3://${result.bucket}/${result.htmlKey} (${result.mode} until ${result.retainUntil})\n`);
        if (result.email) process.stdout.write(`Email: ${result.email.to.join(', ')}\n`);
        if (options.out) process.stdout.write(`Written to ${options.out}\n`);
      }
      if (result.controls.some((control) => !control.passed)) process.exitCode = EXIT.failure;
    });
}
