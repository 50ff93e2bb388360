import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import { ErrorType } from '../../domain/errors.js';
import { failureMessage, innermostFailureType, isAlreadyStarted } from '../../domain/failures.js';
import { restoreTargetProblem } from '../../domain/restore.js';
import { pointInTimeRestoreWorkflowId, restoreWorkflowId } from '../../domain/workflow-ids.js';
import {
  approveRestoreUpdate,
  DATABASE_RESTORE_WORKFLOW,
  rejectRestoreUpdate,
  restoreProgressQuery,
  type DatabaseRestoreInput,
  type DatabaseRestoreResult,
  type PointInTimeRestoreOutcome,
  type RestoreProgress,
} from '../../../workflows/database-restore-contract.js';
import { databaseOption, requesterOption } from '../common-options.js';
import { onWorkflow } from '../workflow-errors.js';
import { EXIT, printJson, UserError } from '../output.js';

/**
 * `opsctl backup restore | approve | reject | restore-status`: a backup
 * restored into a target database through databaseRestoreWorkflow
 * (`restore-<into>`), its approval when it replaces a database, and its timeline.
 */
export interface RestoresContext {
  temporal: () => Promise<Client>;
  taskQueue: () => string;
  json: () => boolean;
}

function target(into: string): string {
  const problem = restoreTargetProblem(into);
  if (problem) throw new UserError(problem, EXIT.usage);
  return into;
}

const stepLine = (step: RestoreProgress['steps'][number]) => `  ${step.at}  ${step.step.padEnd(17)}  ${step.detail}\n`;

/** Prints the timeline as it grows until the restore ends; its failure is the command's. */
async function follow(handle: WorkflowHandle, json: boolean): Promise<void> {
  let printed = 0;
  let done = false;
  const result = handle.result().then(
    (value: DatabaseRestoreResult | PointInTimeRestoreOutcome) => ({ value }),
    (error: unknown) => {
      if (!(error instanceof WorkflowFailedError)) throw error;
      const type = innermostFailureType(error);
      return { failure: failureMessage(error.cause ?? error), exit: type === ErrorType.NotFound ? EXIT.notFound : type === ErrorType.RestoreFailed || type === undefined ? EXIT.failure : EXIT.refused };
    },
  );
  void result.finally(() => (done = true)).catch(() => undefined);
  for (;;) {
    const progress = await handle.query(restoreProgressQuery).catch(() => undefined);
    if (progress && !json) {
      for (const step of progress.steps.slice(printed)) process.stdout.write(stepLine(step));
      printed = progress.steps.length;
    }
    if (done) {
      const outcome = await result;
      if ('failure' in outcome) throw new UserError(outcome.failure, outcome.exit);
      if (json) return printJson(outcome.value);
      const { value } = outcome;
      if ('dataDirectory' in value) {
        process.stdout.write(
          `recovered ${value.database} from ${value.baseBackup} to ${value.replayedTo}${value.lastTransactionAt ? ` (last transaction ${value.lastTransactionAt})` : ''}, ${value.promoted ? 'promoted' : 'paused read-only'}: ` +
            `postgres://127.0.0.1:${value.port}/ (data directory ${value.dataDirectory}; stop it with pg_ctl -D ${value.dataDirectory} stop)\n`,
        );
        return;
      }
      process.stdout.write(`restored ${value.backup} into ${value.into}: ${value.tables} tables, ${value.rows} rows${value.aside ? `; the database it replaced is ${value.aside}` : ''}\n`);
      return;
    }
    await Promise.race([result, new Promise((resolve) => setTimeout(resolve, 1000))]);
  }
}

export function registerRestoreCommands(backup: Command, context: RestoresContext): void {
  const handleOf = async (into: string) => (await context.temporal()).workflow.getHandle(restoreWorkflowId(target(into)));
  const act = (handle: WorkflowHandle, run: () => Promise<RestoreProgress>) => onWorkflow(handle, `no restore ${handle.workflowId} is running`, run);
  const print = (progress: RestoreProgress) => {
    if (context.json()) return printJson(progress);
    process.stdout.write(`${progress.database} -> ${progress.into}: ${progress.phase}\n${progress.steps.map(stepLine).join('')}`);
  };

  backup
    .command('restore')
    .description('restore a backup into a new database, or with --replace over an existing one (after approval; it is renamed aside); or recover to a point in time into a new data directory')
    .option(...databaseOption)
    .option('--backup <key>', 'the backup to restore (opsctl backup list); default the newest')
    .option('--into <database>', 'the database to restore a logical backup into')
    .option('--to-time <instant>', 'point-in-time recovery to this instant (ISO 8601 with a zone)')
    .option('--to-lsn <lsn>', 'point-in-time recovery to this WAL position')
    .option('--to-latest', 'point-in-time recovery to the end of the WAL archive')
    .option('--no-promote', 'with a point in time: stop there read-only for inspection instead of promoting')
    .option('--data-directory <dir>', 'with a point in time: the new data directory (default under OPS_STATE_DIR/restores)')
    .option('--replace', 'restore over an existing database once someone allowed to approve has approved; it is kept, renamed aside')
    .option('--server <name>', 'the named connection whose server receives the database (default: the backup\'s own)')
    .option('--approval-timeout <duration>', 'how long a replace waits for approval, e.g. 30m (default: the policy\'s)')
    .option('--no-wait', 'start the restore and return')
    .option(...requesterOption)
    .action(async (options: {
      database: string;
      backup?: string;
      into?: string;
      toTime?: string;
      toLsn?: string;
      toLatest?: boolean;
      promote: boolean;
      dataDirectory?: string;
      replace?: boolean;
      server?: string;
      approvalTimeout?: string;
      wait: boolean;
      by: string;
    }) => {
      const points = [options.toTime, options.toLsn, options.toLatest].filter((value) => value !== undefined).length;
      if (points > 1) throw new UserError('give one of --to-time, --to-lsn and --to-latest', EXIT.usage);
      if ((points === 1) === (options.into !== undefined)) throw new UserError('give --into <database> (a logical restore) or one of --to-time, --to-lsn, --to-latest (point-in-time recovery)', EXIT.usage);
      const into = options.into === undefined ? undefined : target(options.into);
      const workflowId = into === undefined ? pointInTimeRestoreWorkflowId(options.database, Date.now()) : restoreWorkflowId(into);
      const input: DatabaseRestoreInput = {
        database: options.database,
        requestedBy: options.by,
        ...(into !== undefined ? { into } : {}),
        ...(options.toTime !== undefined ? { targetTime: options.toTime } : {}),
        ...(options.toLsn !== undefined ? { targetLsn: options.toLsn } : {}),
        ...(options.toLatest ? { latest: true } : {}),
        ...(into === undefined ? { promote: options.promote } : {}),
        ...(options.dataDirectory !== undefined ? { dataDirectory: options.dataDirectory } : {}),
        ...(options.backup ? { backup: options.backup } : {}),
        ...(options.replace ? { replace: true } : {}),
        ...(options.server ? { server: options.server } : {}),
        ...(options.approvalTimeout ? { approvalTimeout: options.approvalTimeout } : {}),
      };
      let handle: Awaited<ReturnType<Client['workflow']['start']>>;
      try {
        handle = await (await context.temporal()).workflow.start(DATABASE_RESTORE_WORKFLOW, { taskQueue: context.taskQueue(), workflowId, args: [input] });
      } catch (error) {
        if (isAlreadyStarted(error)) throw new UserError(`a restore into "${into ?? workflowId}" is already running (${workflowId})`, EXIT.refused);
        throw error;
      }
      if (!options.wait) {
        if (context.json()) return printJson({ workflowId, runId: handle.firstExecutionRunId });
        process.stdout.write(`started ${workflowId}${into ? `; opsctl backup restore-status --into ${into}` : ''}\n`);
        return;
      }
      if (!context.json()) {
        process.stdout.write(`restoring ${into ? `into ${into}` : `${options.database} to a point in time`} (${workflowId})${options.replace ? `; a replace waits for: opsctl backup approve --into ${into} --by <someone else>` : ''}\n`);
      }
      await follow(handle, context.json());
    });

  backup
    .command('approve')
    .description('approve a restore that waits to replace a database')
    .requiredOption('--into <database>', 'the database the restore replaces')
    .requiredOption('--by <who>', 'who approves')
    .action(async (options: { into: string; by: string }) => {
      const handle = await handleOf(options.into);
      print(await act(handle, () => handle.executeUpdate(approveRestoreUpdate, { args: [{ by: options.by }] })));
    });

  backup
    .command('reject')
    .description('reject a restore that waits to replace a database; nothing changes')
    .requiredOption('--into <database>', 'the database the restore would replace')
    .requiredOption('--by <who>', 'who rejects')
    .option('--reason <text>', 'why')
    .action(async (options: { into: string; by: string; reason?: string }) => {
      const handle = await handleOf(options.into);
      const args = [{ by: options.by, ...(options.reason ? { reason: options.reason } : {}) }] as [{ by: string; reason?: string }];
      print(await act(handle, () => handle.executeUpdate(rejectRestoreUpdate, { args })));
    });

  backup
    .command('restore-status')
    .description('the timeline of the restore into a database')
    .requiredOption('--into <database>', 'the database restored into')
    .option('--follow', 'print each new step until the restore ends')
    .action(async (options: { into: string; follow?: boolean }) => {
      const handle = await handleOf(options.into);
      if (options.follow) return onWorkflow(handle, `no restore ${handle.workflowId} was found`, () => follow(handle, context.json()));
      print(await act(handle, () => handle.query(restoreProgressQuery)));
    });
}
