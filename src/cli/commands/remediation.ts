import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import type { healthCheckWorkflow, HealthCheckResult } from '../../../workflows/health-check.js';
import type { remediationWorkflow, RemediationResult } from '../../../workflows/remediation.js';
import { healthCheckWorkflowId, remediationWorkflowId } from '../../domain/workflow-ids.js';
import { collect, requesterOption } from '../common-options.js';
import { EXIT, printJson, printTable, UserError } from '../output.js';
import { runToEnd } from '../workflow-errors.js';

/**
 * `opsctl remediation run <runbook>`: a runbook by hand (remediationWorkflow).
 * `opsctl health check`: the health check now (healthCheckWorkflow), the one
 * its schedule runs every five minutes.
 */
export interface RemediationContext {
  temporal: () => Promise<Client>;
  taskQueue: () => string;
  json: () => boolean;
}


function parseLabels(pairs: string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new UserError(`--label "${pair}": expected name=value`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

export function registerRemediationCommands(program: Command, context: RemediationContext): void {
  const remediation = program.command('remediation').description('runbooks from the policy, run by hand');
  remediation
    .command('run <runbook>')
    .description('run a runbook now; exits 1 when it did not help')
    .option('--label <name=value>', 'an alert label its steps use, e.g. namespace=shop (repeatable)', collect)
    .option('--dry-run', 'say what every step would do, do nothing')
    .option(...requesterOption)
    .action(async (runbook: string, options: { label?: string[]; dryRun?: boolean; by: string }) => {
      const client = await context.temporal();
      const labels = parseLabels(options.label ?? []);
      const workflowId = remediationWorkflowId(runbook);
      const result: RemediationResult = await runToEnd(`runbook ${runbook}`, workflowId, () =>
        client.workflow.execute<typeof remediationWorkflow>('remediationWorkflow', {
          taskQueue: context.taskQueue(),
          workflowId,
          args: [{ runbook, labels, dryRun: options.dryRun === true, requestedBy: options.by }],
        }),
      );
      if (context.json()) printJson(result);
      else {
        printTable(result.steps.map((step) => ({ ...step })), ['step', 'outcome', 'detail']);
        process.stdout.write(`\n${result.runbook}: ${result.outcome} (${result.verification.detail})${result.incident ? `; incident ${result.incident}` : ''}\n`);
      }
      if (result.outcome === 'not-helped') process.exitCode = EXIT.failure;
    });

  const health = program.command('health').description('self-healing of the workloads in the policy');
  health
    .command('check')
    .description('run the health check now: stuck pods, CPU scaling, memory growth')
    .option('--dry-run', 'decide and report, change nothing')
    .option('--only <namespace/deployment>', 'only this target (repeatable)', collect)
    .option(...requesterOption)
    .action(async (options: { dryRun?: boolean; only?: string[]; by: string }) => {
      const client = await context.temporal();
      const workflowId = healthCheckWorkflowId(true);
      const result: HealthCheckResult = await runToEnd('a health check', workflowId, () =>
        client.workflow.execute<typeof healthCheckWorkflow>('healthCheckWorkflow', {
          taskQueue: context.taskQueue(),
          workflowId,
          args: [{ dryRun: options.dryRun === true, requestedBy: options.by, ...(options.only ? { only: options.only } : {}) }],
        }),
      );
      if (context.json()) return printJson(result);
      printTable(
        result.decisions.map((decision) => ({ ...decision, taken: decision.taken ? 'yes' : 'no', pod: decision.pod ?? '' })),
        ['target', 'rule', 'action', 'pod', 'taken', 'reason'],
      );
      process.stdout.write(`\n${result.targets} workloads checked${result.dryRun ? ' (dry run)' : ''}${result.incidents.length > 0 ? `; incidents: ${result.incidents.join(', ')}` : ''}\n`);
    });
}
