import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import { failureMessage, isAlreadyStarted } from '../../domain/failures.js';
import { rolloutWorkflowId } from '../../domain/workflow-ids.js';
import {
  abortUpdate,
  approveUpdate,
  rejectUpdate,
  rollbackUpdate,
  rolloutProgressQuery,
  SECURITY_ROLLOUT_WORKFLOW,
  type RolloutProgress,
} from '../../../workflows/security-rollout-contract.js';
import type { securityRolloutWorkflow } from '../../../workflows/security-rollout.js';
import { requesterOption } from '../common-options.js';
import { onWorkflow } from '../workflow-errors.js';
import { EXIT, printJson, UserError } from '../output.js';

/**
 * `opsctl rollout start | approve | reject | abort | rollback | status`:
 * security rollouts by workload (`<namespace>/<name>`), through the rollout
 * workflow's updates and its progress query.
 */
export interface RolloutsContext {
  temporal: () => Promise<Client>;
  taskQueue: () => string;
  json: () => boolean;
}

function workload(text: string): { namespace: string; name: string } {
  const match = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(text);
  if (!match) throw new UserError(`"${text}": expected <namespace>/<workload>, e.g. shop/api`);
  return { namespace: match[1]!, name: match[2]! };
}

function printProgress(progress: RolloutProgress, json: boolean): void {
  if (json) return printJson(progress);
  const lines = [
    `${progress.workload}: ${progress.phase}  ${progress.from ?? '?'} -> ${progress.to}${progress.bump ? ` (${progress.bump})` : ''}`,
    ...progress.steps.map((step) => `  ${step.at}  ${step.step.padEnd(18)}  ${step.detail}`),
    ...(progress.error ? [`  error: ${progress.error}`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function act(handle: WorkflowHandle, run: () => Promise<RolloutProgress>): Promise<RolloutProgress> {
  return onWorkflow(handle, `no rollout ${handle.workflowId} is running`, run);
}

export function registerRolloutCommands(program: Command, context: RolloutsContext): void {
  const rollout = program.command('rollout').description('security rollouts of container images: start, approve, reject, abort, rollback, status');
  const handleOf = async (target: string) => {
    const { namespace, name } = workload(target);
    return (await context.temporal()).workflow.getHandle(rolloutWorkflowId(namespace, name));
  };

  rollout
    .command('start <workload>')
    .description('roll a new image out to <namespace>/<name> (scan gate, approval for risky bumps, automatic rollback)')
    .option('--image <image>', 'the image to roll out, e.g. registry.example.com/shop/api:1.4.3')
    .option('--discover', "take the highest semver tag of the running image's repository from its registry")
    .option('--container <name>', 'the container to update (default: the only one)')
    .option('--statefulset', 'the workload is a StatefulSet')
    .option('--require-approval', 'wait for approve whatever the bump')
    .option('--freeze-on-failure', 'keep the new image and page instead of rolling back')
    .option(...requesterOption)
    .action(async (target: string, options: { image?: string; discover?: boolean; container?: string; statefulset?: boolean; requireApproval?: boolean; freezeOnFailure?: boolean; by: string }) => {
      const { namespace, name } = workload(target);
      if (!options.image === !options.discover) throw new UserError('give --image <image> or --discover, not both and not neither');
      const workflowId = rolloutWorkflowId(namespace, name);
      try {
        const handle = await (await context.temporal()).workflow.start<typeof securityRolloutWorkflow>(SECURITY_ROLLOUT_WORKFLOW, {
          taskQueue: context.taskQueue(),
          workflowId,
          args: [
            {
              namespace,
              deployment: name,
              ...(options.image ? { image: options.image } : { discover: true }),
              requestedBy: options.by,
              ...(options.container ? { container: options.container } : {}),
              ...(options.statefulset ? { kind: 'StatefulSet' as const } : {}),
              ...(options.requireApproval ? { requireApproval: true } : {}),
              ...(options.freezeOnFailure ? { onFailure: 'freeze' as const } : {}),
            },
          ],
        });
        if (context.json()) return printJson({ workflowId, runId: handle.firstExecutionRunId });
        process.stdout.write(`started ${workflowId}; opsctl rollout status ${target} --follow\n`);
      } catch (error) {
        if (isAlreadyStarted(error)) throw new UserError(`a rollout of ${target} is already running (${workflowId})`, EXIT.refused);
        throw error;
      }
    });

  rollout
    .command('approve <workload>')
    .description('approve a rollout waiting for approval')
    .requiredOption('--by <who>', 'who approves')
    .action(async (target: string, options: { by: string }) => {
      const handle = await handleOf(target);
      printProgress(await act(handle, () => handle.executeUpdate(approveUpdate, { args: [{ by: options.by }] })), context.json());
    });

  rollout
    .command('reject <workload>')
    .description('reject a rollout waiting for approval; nothing changes')
    .requiredOption('--by <who>', 'who rejects')
    .option('--reason <text>', 'why')
    .action(async (target: string, options: { by: string; reason?: string }) => {
      const handle = await handleOf(target);
      const args = [{ by: options.by, ...(options.reason ? { reason: options.reason } : {}) }] as [{ by: string; reason?: string }];
      printProgress(await act(handle, () => handle.executeUpdate(rejectUpdate, { args })), context.json());
    });

  rollout
    .command('abort <workload>')
    .description('stop a running rollout; what changed is rolled back')
    .requiredOption('--by <who>', 'who aborts')
    .option('--reason <text>', 'why')
    .action(async (target: string, options: { by: string; reason?: string }) => {
      const handle = await handleOf(target);
      const args = [{ by: options.by, ...(options.reason ? { reason: options.reason } : {}) }] as [{ by: string; reason?: string }];
      printProgress(await act(handle, () => handle.executeUpdate(abortUpdate, { args })), context.json());
    });

  rollout
    .command('rollback <workload>')
    .description('roll back a rollout that is rolling out or being watched')
    .requiredOption('--by <who>', 'who rolls back')
    .action(async (target: string, options: { by: string }) => {
      const handle = await handleOf(target);
      printProgress(await act(handle, () => handle.executeUpdate(rollbackUpdate, { args: [{ by: options.by }] })), context.json());
    });

  rollout
    .command('status <workload>')
    .description('where the rollout of <namespace>/<name> stands')
    .option('--follow', 'print each new step until the rollout ends')
    .action(async (target: string, options: { follow?: boolean }) => {
      const handle = await handleOf(target);
      const query = () => act(handle, () => handle.query(rolloutProgressQuery));
      if (!options.follow) return printProgress(await query(), context.json());
      let printed = 0;
      let done = false;
      const result = handle.result().then(
        () => undefined,
        (error: unknown) => (error instanceof WorkflowFailedError ? failureMessage(error.cause ?? error) : Promise.reject(error)),
      );
      result.finally(() => (done = true)).catch(() => undefined);
      for (;;) {
        const progress = await query();
        if (!context.json()) {
          if (printed === 0) process.stdout.write(`${progress.workload}: ${progress.from ?? '?'} -> ${progress.to}\n`);
          for (const step of progress.steps.slice(printed)) process.stdout.write(`  ${step.at}  ${step.step.padEnd(18)}  ${step.detail}\n`);
        }
        printed = progress.steps.length;
        if (done) {
          const failure = await result;
          if (context.json()) printJson(progress);
          else process.stdout.write(`${progress.phase}\n`);
          if (failure) throw new UserError(failure, EXIT.failure);
          return;
        }
        await Promise.race([result, new Promise((resolve) => setTimeout(resolve, 1000))]);
      }
    });
}
