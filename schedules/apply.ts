import { ScheduleNotFoundError, type Client, type ScheduleDescription, type ScheduleOptions } from '@temporalio/client';
import type { Policy } from '../src/config/policy.js';
import { isAlreadyStarted } from '../src/domain/failures.js';
import { walArchiveWorkflowId } from '../src/domain/workflow-ids.js';
import { WAL_ARCHIVE_WORKFLOW } from '../workflows/wal-archive-contract.js';
import { definitionHash, durationMs, SCHEDULE_PREFIX, type ScheduleDefinition } from './definitions.js';

/**
 * Reconciles Temporal's schedules with the declared ones: creates the
 * missing, updates the changed (listing each difference), deletes those under
 * our prefix that are no longer declared, and leaves everything else alone.
 * Applying twice changes nothing. An operator's pause survives an apply.
 */
export interface ScheduleChange {
  scheduleId: string;
  change: 'create' | 'update' | 'delete' | 'unchanged';
  /** "overlap: SKIP -> BUFFER_ALL", one line per field that differs. */
  differences: string[];
}

function scheduleOptions(definition: ScheduleDefinition, taskQueue: string): ScheduleOptions {
  const every = definition.when.trim().startsWith('every ') ? durationMs(definition.when.trim().slice(6)) : undefined;
  return {
    scheduleId: definition.scheduleId,
    spec: {
      ...(every === undefined ? { cronExpressions: [definition.when.trim()] } : { intervals: [{ every }] }),
      timezone: definition.timeZone,
      ...(definition.jitter ? { jitter: durationMs(definition.jitter) } : {}),
    },
    action: {
      type: 'startWorkflow',
      workflowType: definition.workflowType,
      workflowId: definition.workflowId,
      taskQueue,
      args: definition.args,
      // What the schedule was made from: the cron text is compiled away by the server.
      memo: { opsDefinition: definitionHash(definition), opsWhen: definition.when },
    },
    policies: { overlap: definition.overlap, catchupWindow: durationMs(definition.catchupWindow), pauseOnFailure: false },
    state: { note: definition.note, paused: false },
    memo: { summary: definition.note },
  };
}

/** The fields people care about, as text, for a readable difference. */
function comparable(fields: {
  when: unknown;
  timeZone: unknown;
  workflowType: unknown;
  workflowId: unknown;
  taskQueue: unknown;
  args: unknown;
  overlap: unknown;
  catchupWindowMs: unknown;
  jitterMs: unknown;
  definition: unknown;
}): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value ?? null)]));
}

function differences(description: ScheduleDescription, definition: ScheduleDefinition, taskQueue: string): string[] {
  const memo = (description.action.memo ?? {}) as { opsDefinition?: string; opsWhen?: string };
  const current = comparable({
    when: memo.opsWhen ?? '(unknown)',
    timeZone: description.spec.timezone ?? 'UTC',
    workflowType: description.action.workflowType,
    workflowId: description.action.workflowId,
    taskQueue: description.action.taskQueue,
    args: description.action.args,
    overlap: description.policies.overlap,
    catchupWindowMs: description.policies.catchupWindow,
    jitterMs: description.spec.jitter ?? 0,
    definition: memo.opsDefinition ?? '(none)',
  });
  const desired = comparable({
    when: definition.when,
    timeZone: definition.timeZone,
    workflowType: definition.workflowType,
    workflowId: definition.workflowId,
    taskQueue,
    args: definition.args,
    overlap: definition.overlap,
    catchupWindowMs: durationMs(definition.catchupWindow),
    jitterMs: definition.jitter ? durationMs(definition.jitter) : 0,
    definition: definitionHash(definition),
  });
  const lines = Object.keys(desired)
    .filter((key) => key !== 'definition' && current[key] !== desired[key])
    .map((key) => `${key}: ${current[key]} -> ${desired[key]}`);
  // The note (or anything else only the fingerprint covers) changed.
  if (lines.length === 0 && current.definition !== desired.definition) lines.push(`definition: ${current.definition} -> ${desired.definition}`);
  return lines;
}

async function describe(client: Client, scheduleId: string): Promise<ScheduleDescription | undefined> {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return undefined;
    throw error;
  }
}

/**
 * Every schedule under our prefix, as the server lists them, less those
 * already deleted: the list comes from the visibility store, which on a
 * cluster (SQL or Elasticsearch visibility) catches up a moment after a
 * delete, while describe reads the schedule itself.
 */
export async function listOwnSchedules(client: Client, prefix = SCHEDULE_PREFIX): Promise<string[]> {
  const listed: string[] = [];
  for await (const summary of client.schedule.list()) {
    if (summary.scheduleId.startsWith(prefix)) listed.push(summary.scheduleId);
  }
  const ids: string[] = [];
  for (const scheduleId of listed) if (await describe(client, scheduleId)) ids.push(scheduleId);
  return ids.sort();
}

export async function applySchedules(
  client: Client,
  definitions: ScheduleDefinition[],
  options: { taskQueue: string; dryRun?: boolean; prefix?: string },
): Promise<ScheduleChange[]> {
  const prefix = options.prefix ?? SCHEDULE_PREFIX;
  const foreign = definitions.find((definition) => !definition.scheduleId.startsWith(prefix));
  if (foreign) throw new Error(`schedule ${foreign.scheduleId} is outside the ${prefix} prefix, so apply could never delete it`);
  const changes: ScheduleChange[] = [];
  for (const definition of definitions) {
    const description = await describe(client, definition.scheduleId);
    if (!description) {
      changes.push({ scheduleId: definition.scheduleId, change: 'create', differences: [] });
      if (!options.dryRun) await client.schedule.create(scheduleOptions(definition, options.taskQueue));
      continue;
    }
    const lines = differences(description, definition, options.taskQueue);
    if (lines.length === 0) {
      changes.push({ scheduleId: definition.scheduleId, change: 'unchanged', differences: [] });
      continue;
    }
    changes.push({ scheduleId: definition.scheduleId, change: 'update', differences: lines });
    if (!options.dryRun) {
      const desired = scheduleOptions(definition, options.taskQueue);
      await client.schedule.getHandle(definition.scheduleId).update((previous) => ({
        spec: desired.spec,
        action: desired.action,
        policies: desired.policies,
        // An operator's pause and its note survive an apply.
        state: previous.state.paused ? { paused: true, note: previous.state.note } : { paused: false, note: definition.note },
      }));
    }
  }
  const declared = new Set(definitions.map((definition) => definition.scheduleId));
  for (const scheduleId of await listOwnSchedules(client, prefix)) {
    if (declared.has(scheduleId)) continue;
    changes.push({ scheduleId, change: 'delete', differences: [] });
    if (!options.dryRun) await deleteSchedule(client, scheduleId);
  }
  return changes;
}

/** Deletes a schedule; one deleted meanwhile (by another apply) is gone as asked. */
async function deleteSchedule(client: Client, scheduleId: string): Promise<void> {
  try {
    await client.schedule.getHandle(scheduleId).delete();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
  }
}

/**
 * The WAL archivers the policy asks for (backups.walArchive.databases): each
 * runs as `wal-archive-<database>` for as long as it is wanted, so apply starts
 * those not running and leaves running ones alone. Not a schedule: an archiver
 * never ends.
 */
export async function startWalArchivers(
  client: Client,
  policy: Pick<Policy, 'backups'>,
  options: { taskQueue: string; dryRun?: boolean },
): Promise<{ database: string; workflowId: string; change: 'start' | 'running' }[]> {
  const results: { database: string; workflowId: string; change: 'start' | 'running' }[] = [];
  for (const database of policy.backups.walArchive?.databases ?? []) {
    const workflowId = walArchiveWorkflowId(database);
    const running = await client.workflow
      .getHandle(workflowId)
      .describe()
      .then((description) => description.status.name === 'RUNNING', () => false);
    results.push({ database, workflowId, change: running ? 'running' : 'start' });
    if (running || options.dryRun) continue;
    try {
      await client.workflow.start(WAL_ARCHIVE_WORKFLOW, { taskQueue: options.taskQueue, workflowId, args: [{ database }] });
    } catch (error) {
      // Started meanwhile by another apply: it runs, which is what was asked.
      if (!isAlreadyStarted(error)) throw error;
      results[results.length - 1]!.change = 'running';
    }
  }
  return results;
}
