import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import type pg from 'pg';
import type { DeploymentMonitorResult, deploymentMonitorWorkflow } from '../../../workflows/deployment-monitor.js';
import { checksSince } from '../../db/deployment-checks.js';
import { parseDuration } from '../../domain/durations.js';
import { deploymentMonitorWorkflowId } from '../../domain/workflow-ids.js';
import { requesterOption } from '../common-options.js';
import { EXIT, printJson, printTable, UserError } from '../output.js';
import { runToEnd } from '../workflow-errors.js';

/**
 * `opsctl monitor once [--environment E] [--dry-run]`: a deployment monitor
 * check now (deploymentMonitorWorkflow), each deployment's score and what cost
 * it points. `opsctl monitor report --since 24h`: what the recorded checks say
 * over a period.
 */
export interface MonitorContext {
  temporal: () => Promise<Client>;
  pool: () => pg.Pool;
  taskQueue: () => string;
  json: () => boolean;
}

const percent = (value: number | undefined) => (value === undefined ? undefined : `${Math.round(value * 100)}%`);
const seconds = (value: number | undefined) => (value === undefined ? undefined : `${value.toFixed(3)}s`);

export function registerMonitorCommands(program: Command, context: MonitorContext): void {
  const monitor = program.command('monitor').description('the deployment monitor: health scores per environment');

  monitor
    .command('once')
    .description('check the deployments now and print each one\'s health score; exit 1 when any is not healthy')
    .option('--environment <name>', 'only this environment of the policy (default all)')
    .option('--dry-run', 'check and print; record nothing (no /metrics, no report)')
    .option(...requesterOption)
    .action(async (options: { environment?: string; dryRun?: boolean; by: string }) => {
      const client = await context.temporal();
      const workflowId = `${deploymentMonitorWorkflowId(options.environment ?? 'all')}-once-${Date.now().toString(36)}`;
      const result: DeploymentMonitorResult = await runToEnd('a deployment monitor check', workflowId, () =>
        client.workflow.execute<typeof deploymentMonitorWorkflow>('deploymentMonitorWorkflow', {
          taskQueue: context.taskQueue(),
          workflowId,
          args: [{ ...(options.environment ? { environment: options.environment } : {}), ...(options.dryRun ? { dryRun: true } : {}), requestedBy: options.by }],
        }),
      );
      const deployments = result.environments.flatMap((check) => check.deployments);
      if (context.json()) printJson(result);
      else {
        printTable(
          deployments.map((health) => ({
            environment: health.environment,
            deployment: `${health.namespace}/${health.deployment}`,
            ready: `${health.ready}/${health.desired}`,
            restarts: health.restarts,
            response: health.probeError ? 'failed' : seconds(health.responseSeconds),
            cpu: percent(health.cpuRatio),
            memory: percent(health.memoryRatio),
            score: health.score,
            state: health.state,
            why: health.reasons.join('; ') || undefined,
          })),
          ['environment', 'deployment', 'ready', 'restarts', 'response', 'cpu', 'memory', 'score', 'state', 'why'],
        );
        const unhealthy = deployments.filter((health) => health.state !== 'healthy').length;
        process.stdout.write(`deployments=${deployments.length} unhealthy=${unhealthy}${result.dryRun ? ' (dry run: nothing recorded)' : ''}\n`);
      }
      if (deployments.some((health) => health.state !== 'healthy')) process.exitCode = EXIT.failure;
    });

  monitor
    .command('report')
    .description('sum up the recorded checks of a period per deployment')
    .option('--since <duration>', 'how far back (for example 24h, 7d)', '24h')
    .option('--environment <name>', 'only this environment')
    .action(async (options: { since: string; environment?: string }) => {
      const sinceMs = parseDuration(options.since);
      if (sinceMs === undefined || sinceMs <= 0) throw new UserError(`--since "${options.since}": expected a duration such as 24h or 7d`, EXIT.usage);
      const since = new Date(Date.now() - sinceMs).toISOString();
      const periods = await checksSince(context.pool(), since, options.environment);
      if (context.json()) return printJson({ since, deployments: periods });
      printTable(
        periods.map((period) => ({
          environment: period.environment,
          deployment: `${period.namespace}/${period.deployment}`,
          checks: period.checks,
          healthy: percent(period.healthyRatio),
          'avg score': Math.round(period.averageScore),
          'min score': period.minScore,
          'min ready': percent(period.minReadyRatio),
          'max restarts': period.maxRestarts,
          'avg response': seconds(period.averageResponseSeconds),
          'max response': seconds(period.maxResponseSeconds),
          'probe failures': period.probeFailures,
          now: period.lastState,
        })),
        ['environment', 'deployment', 'checks', 'healthy', 'avg score', 'min score', 'min ready', 'max restarts', 'avg response', 'max response', 'probe failures', 'now'],
      );
      process.stdout.write(`since ${since}: deployments=${periods.length} checks=${periods.reduce((sum, period) => sum + period.checks, 0)}\n`);
    });
}
