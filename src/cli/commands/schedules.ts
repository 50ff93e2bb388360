import type { Client, ScheduleDescription } from '@temporalio/client';
import { ScheduleNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import type { Policy } from '../../config/policy.js';
import { applySchedules, listOwnSchedules, startWalArchivers } from '../../../schedules/apply.js';
import { scheduleDefinitions } from '../../../schedules/definitions.js';
import { printJson, printTable, UserError } from '../output.js';

/**
 * `opsctl schedules apply | list | pause | unpause | trigger | backfill`:
 * the declared schedules (schedules/definitions.ts) made real in Temporal,
 * and the everyday controls over them.
 */
export interface SchedulesContext {
  temporal: () => Promise<Client>;
  policy: () => Policy;
  taskQueue: () => string;
  schedulePrefix: () => string;
  /** Whether OPS_HEARTBEAT_URL is set, which declares the heartbeat schedule. */
  heartbeat: () => boolean;
  json: () => boolean;
}

function parseTime(text: string, flag: string): Date {
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) throw new UserError(`${flag} "${text}": expected an RFC 3339 time, e.g. 2026-11-20T00:00:00Z`);
  return at;
}

async function describeOrFail(client: Client, scheduleId: string): Promise<ScheduleDescription> {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) throw new UserError(`no schedule ${scheduleId} (see opsctl schedules list)`, 4);
    throw error;
  }
}

function summary(description: ScheduleDescription) {
  const memo = (description.action.memo ?? {}) as { opsWhen?: string };
  const last = description.info.recentActions.at(-1);
  return {
    id: description.scheduleId,
    when: memo.opsWhen ?? '(set outside opsctl)',
    timeZone: description.spec.timezone ?? 'UTC',
    workflow: description.action.workflowType,
    paused: description.state.paused,
    note: description.state.note ?? '',
    next: description.info.nextActionTimes[0]?.toISOString() ?? null,
    last: last?.scheduledAt.toISOString() ?? null,
    lastWorkflowId: last?.action.workflow.workflowId ?? null,
    running: description.info.runningActions.length,
    actionsTaken: description.info.numActionsTaken,
    overlap: description.policies.overlap,
  };
}

export function registerScheduleCommands(program: Command, context: SchedulesContext): void {
  const schedules = program.command('schedules').description('Temporal Schedules of backups, restore drills and maintenance');

  schedules
    .command('apply')
    .description('make Temporal match the declared schedules: create, update (showing what differs), delete the undeclared ops-* ones')
    .option('--dry-run', 'show what would change and change nothing')
    .action(async (options: { dryRun?: boolean }) => {
      const prefix = context.schedulePrefix();
      const changes = await applySchedules(await context.temporal(), scheduleDefinitions(context.policy(), { prefix, heartbeat: context.heartbeat() }), {
        taskQueue: context.taskQueue(),
        prefix,
        dryRun: options.dryRun === true,
      });
      const archivers = await startWalArchivers(await context.temporal(), context.policy(), { taskQueue: context.taskQueue(), dryRun: options.dryRun === true });
      if (context.json()) return printJson({ dryRun: options.dryRun === true, changes, ...(archivers.length > 0 ? { walArchivers: archivers } : {}) });
      for (const change of changes) {
        process.stdout.write(`${options.dryRun && change.change !== 'unchanged' ? `would ${change.change}` : change.change} ${change.scheduleId}\n`);
        for (const line of change.differences) process.stdout.write(`    ${line}\n`);
      }
      for (const archiver of archivers) process.stdout.write(`${archiver.change === 'start' ? (options.dryRun ? 'would start' : 'started') : 'running'} ${archiver.workflowId} (WAL archive)\n`);
      const counts = ['create', 'update', 'delete', 'unchanged'].map((kind) => `${changes.filter((change) => change.change === kind).length} ${kind}`);
      process.stdout.write(`${options.dryRun ? 'dry run: ' : ''}${counts.join(', ')}\n`);
    });

  schedules
    .command('list')
    .description('our schedules with their next and last runs')
    .action(async () => {
      const client = await context.temporal();
      const rows = [];
      for (const id of await listOwnSchedules(client, context.schedulePrefix())) rows.push(summary(await describeOrFail(client, id)));
      if (context.json()) return printJson(rows);
      printTable(rows, ['id', 'when', 'timeZone', 'paused', 'next', 'last', 'running']);
    });

  schedules
    .command('pause <id>')
    .description('stop a schedule from starting runs until unpaused')
    .requiredOption('--by <actor>', 'who pauses it (kept in the schedule note)')
    .option('--reason <text>', 'why', 'no reason given')
    .action(async (id: string, options: { by: string; reason: string }) => {
      const client = await context.temporal();
      await describeOrFail(client, id);
      await client.schedule.getHandle(id).pause(`paused by ${options.by}: ${options.reason}`);
      const after = summary(await describeOrFail(client, id));
      if (context.json()) return printJson(after);
      process.stdout.write(`paused ${id} (${after.note})\n`);
    });

  schedules
    .command('unpause <id>')
    .description('let a paused schedule start runs again')
    .requiredOption('--by <actor>', 'who unpauses it')
    .action(async (id: string, options: { by: string }) => {
      const client = await context.temporal();
      await describeOrFail(client, id);
      await client.schedule.getHandle(id).unpause(`unpaused by ${options.by}`);
      const after = summary(await describeOrFail(client, id));
      if (context.json()) return printJson(after);
      process.stdout.write(`unpaused ${id}; next run ${after.next ?? 'none'}\n`);
    });

  schedules
    .command('trigger <id>')
    .description('start a run now, as the schedule would (its overlap policy applies)')
    .action(async (id: string) => {
      const client = await context.temporal();
      const before = await describeOrFail(client, id);
      await client.schedule.getHandle(id).trigger();
      const result = { id, triggered: true, actionsTakenBefore: before.info.numActionsTaken };
      if (context.json()) return printJson(result);
      process.stdout.write(`triggered ${id}\n`);
    });

  schedules
    .command('backfill <id>')
    .description('run the times the schedule would have run between --start and --end')
    .requiredOption('--start <time>', 'RFC 3339 start')
    .requiredOption('--end <time>', 'RFC 3339 end')
    .option('--overlap <policy>', 'overlap policy for the backfilled runs (SKIP, BUFFER_ONE, BUFFER_ALL, ALLOW_ALL)', 'BUFFER_ALL')
    .action(async (id: string, options: { start: string; end: string; overlap: string }) => {
      const start = parseTime(options.start, '--start');
      const end = parseTime(options.end, '--end');
      if (end <= start) throw new UserError('--end must be after --start');
      const overlaps = ['SKIP', 'BUFFER_ONE', 'BUFFER_ALL', 'ALLOW_ALL'] as const;
      const overlap = overlaps.find((candidate) => candidate === options.overlap.toUpperCase());
      if (!overlap) throw new UserError(`--overlap "${options.overlap}": expected one of ${overlaps.join(', ')}`);
      const client = await context.temporal();
      await describeOrFail(client, id);
      await client.schedule.getHandle(id).backfill({ start, end, overlap });
      const result = { id, start: start.toISOString(), end: end.toISOString(), overlap };
      if (context.json()) return printJson(result);
      process.stdout.write(`backfilling ${id} from ${result.start} to ${result.end} (${overlap})\n`);
    });
}
