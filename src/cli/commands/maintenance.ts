import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import type pg from 'pg';
import { writeAuditEvent } from '../../db/audit.js';
import { maintenanceWindowSchema } from '../../config/policy-incidents.js';
import type { Policy } from '../../config/policy.js';
import { storedMaintenanceWindows } from '../../db/maintenance-windows.js';
import { windowIsOpen, type MaintenanceWindow } from '../../domain/muting.js';
import { failureMessage, isAlreadyStarted } from '../../domain/failures.js';
import type { databaseMaintenanceWorkflow, DatabaseMaintenanceResult } from '../../../workflows/database-maintenance.js';
import { recheckMutesSignal } from '../../../workflows/incident-contract.js';
import { maintenanceWorkflowId } from '../../domain/workflow-ids.js';
import { collect, databaseOption, requesterOption } from '../common-options.js';
import { EXIT, printJson, printTable, UserError } from '../output.js';

/**
 * `opsctl maintenance add | list | remove`: maintenance windows made at run
 * time, beside the policy file's. Incidents read both when alerts arrive.
 * `opsctl maintenance run`: database maintenance now (databaseMaintenanceWorkflow).
 */
export interface MaintenanceContext {
  pool: () => pg.Pool;
  policy: () => Policy;
  temporal: () => Promise<Client>;
  taskQueue: () => string;
  json: () => boolean;
}


/** "sun,sat 02:00-04:00" -> { days: ['sun', 'sat'], start: '02:00', end: '04:00' } */
function parseWeekly(text: string) {
  const match = /^\s*([a-z,]+)\s+(\d\d:\d\d)-(\d\d:\d\d)\s*$/i.exec(text);
  if (!match) throw new UserError(`--weekly "${text}": expected DAYS HH:MM-HH:MM, for example "sat,sun 02:00-04:00"`);
  return { days: match[1]!.toLowerCase().split(','), start: match[2]!, end: match[3]! };
}

function describeSchedule(window: MaintenanceWindow): string {
  const schedule = window.schedule;
  if (schedule.kind === 'once') return `${new Date(schedule.startMs).toISOString()} - ${new Date(schedule.endMs).toISOString()}`;
  if (schedule.kind === 'cron') return `cron "${schedule.cron.source}" for ${Math.round(schedule.durationMs / 60_000)}m`;
  const names = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
  const clock = (minute: number) => `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
  return schedule.spans.map((span) => `${span.days.map((day) => names[day]).join(',')} ${clock(span.startMinute)}-${clock(span.endMinute)}`).join('; ');
}

export function registerMaintenanceCommands(program: Command, context: MaintenanceContext): void {
  const maintenance = program.command('maintenance').description('maintenance windows that mute matching alerts (add, list, remove); database maintenance (run)');

  maintenance
    .command('run')
    .description('database maintenance now: retention deletes, VACUUM (ANALYZE), REINDEX, idle connections, health report')
    .option(...databaseOption)
    .option('--dry-run', 'list every action and row count, take none')
    .option(...requesterOption)
    .action(async (options: { database: string; dryRun?: boolean; by: string }) => {
      const client = await context.temporal();
      const workflowId = maintenanceWorkflowId(options.database);
      let result: DatabaseMaintenanceResult;
      try {
        result = await client.workflow.execute<typeof databaseMaintenanceWorkflow>('databaseMaintenanceWorkflow', {
          taskQueue: context.taskQueue(),
          workflowId,
          args: [{ database: options.database, dryRun: options.dryRun === true, requestedBy: options.by }],
        });
      } catch (error) {
        if (isAlreadyStarted(error)) throw new UserError(`maintenance of "${options.database}" is already running (${workflowId})`, EXIT.refused);
        if (error instanceof WorkflowFailedError) throw new UserError(failureMessage(error.cause ?? error), EXIT.failure);
        throw error;
      }
      if (context.json()) return printJson(result);
      process.stdout.write(`${result.dryRun ? 'Dry run of maintenance' : 'Maintenance'} of ${result.database} (PostgreSQL ${result.plan.serverVersion})\n`);
      printTable(
        result.actions.map((action) => ({ ...action, rows: action.rows ?? '' })),
        ['action', 'target', 'outcome', 'rows', 'detail'],
      );
      const { health } = result;
      process.stdout.write(`\nconnections ${health.connections}/${health.maxConnections}, ${health.exclusiveLocks.length} AccessExclusiveLock holders, ${health.waitingLocks} waiting locks\n`);
      printTable(health.deadTuples.slice(0, 5).map((row) => ({ ...row, ratio: `${(row.ratio * 100).toFixed(1)}%` })), ['table', 'live', 'dead', 'ratio', 'lastAutovacuum']);
      if (health.breaches.length > 0) process.stdout.write(`\nover thresholds: ${health.breaches.join('; ')}${result.incident ? ` (incident ${result.incident})` : ''}\n`);
    });

  maintenance
    .command('add <name>')
    .description('add a window: one-off (--start/--end), weekly (--weekly) or cron (--cron/--duration)')
    .requiredOption('--match <matcher>', 'label matcher, e.g. service="db" (repeatable)', collect)
    .option('--time-zone <zone>', 'IANA time zone of --weekly and --cron', 'UTC')
    .option('--start <time>', 'RFC 3339 start of a one-off window')
    .option('--end <time>', 'RFC 3339 end of a one-off window')
    .option('--weekly <span>', 'recurring span, e.g. "sat,sun 02:00-04:00" (repeatable)', collect)
    .option('--cron <expression>', 'five-field cron of each start')
    .option('--duration <duration>', 'how long a cron window stays open, e.g. 2h')
    .requiredOption('--by <actor>', 'who adds it (recorded in the audit log)')
    .action(async (name: string, options: Record<string, string | string[] | undefined>) => {
      const raw = {
        name,
        matchers: options.match,
        timeZone: options.timeZone,
        ...(options.start || options.end ? { start: options.start, end: options.end } : {}),
        ...(options.weekly ? { weekly: (options.weekly as string[]).map(parseWeekly) } : {}),
        ...(options.cron ? { cron: options.cron, duration: options.duration } : {}),
      };
      const parsed = maintenanceWindowSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new UserError(`${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
      }
      const pool = context.pool();
      const inserted = await pool.query(
        `INSERT INTO maintenance_windows (name, matchers, time_zone, starts_at, ends_at, weekly, cron, duration_ms, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO NOTHING RETURNING id`,
        [
          name,
          JSON.stringify(options.match),
          options.timeZone,
          options.start ?? null,
          options.end ?? null,
          raw.weekly ? JSON.stringify(raw.weekly) : null,
          options.cron ?? null,
          parsed.data.schedule.kind === 'cron' ? parsed.data.schedule.durationMs : null,
          options.by,
        ],
      );
      if (inserted.rowCount === 0) throw new UserError(`a maintenance window named "${name}" already exists`, 1);
      await writeAuditEvent(pool, {
        actor: String(options.by),
        action: 'maintenance-window.add',
        target: `maintenance-window/${name}`,
        outcome: 'succeeded',
        details: raw,
        idempotencyKey: `maintenance-window:add:${inserted.rows[0].id}`,
      });
      if (context.json()) printJson({ name, schedule: describeSchedule(parsed.data), open: windowIsOpen(parsed.data, Date.now()) });
      else process.stdout.write(`added maintenance window "${name}": ${describeSchedule(parsed.data)}\n`);
    });

  maintenance
    .command('list')
    .description('windows from the policy file and from opsctl, and whether each is open now')
    .action(async () => {
      const fromDatabase = (await storedMaintenanceWindows(context.pool(), { current: false })).map((entry) => ({
        window: entry.window,
        source: `opsctl (${entry.createdBy})`,
        matchers: entry.matchers,
      }));
      const fromPolicy = context.policy().maintenanceWindows.map((window) => ({
        window,
        source: 'policy',
        matchers: window.matchers.map((matcher) => `${matcher.name}${matcher.op}"${matcher.value}"`),
      }));
      const now = Date.now();
      const listed = [...fromPolicy, ...fromDatabase].map(({ window, source, matchers }) => ({
        name: window.name,
        source,
        matchers: matchers.join(', '),
        timeZone: window.timeZone,
        schedule: describeSchedule(window),
        open: windowIsOpen(window, now),
      }));
      if (context.json()) printJson(listed);
      else printTable(listed, ['name', 'source', 'open', 'schedule', 'timeZone', 'matchers']);
    });

  maintenance
    .command('remove <name>')
    .description('remove a window added with opsctl')
    .requiredOption('--by <actor>', 'who removes it (recorded in the audit log)')
    .action(async (name: string, options: { by: string }) => {
      const pool = context.pool();
      const removed = await pool.query('DELETE FROM maintenance_windows WHERE name = $1 RETURNING id', [name]);
      if (removed.rowCount === 0) {
        const inPolicy = context.policy().maintenanceWindows.some((window) => window.name === name);
        throw new UserError(inPolicy ? `"${name}" is defined in the policy file; remove it there` : `no maintenance window named "${name}"`, 1);
      }
      await writeAuditEvent(pool, {
        actor: options.by,
        action: 'maintenance-window.remove',
        target: `maintenance-window/${name}`,
        outcome: 'succeeded',
        idempotencyKey: `maintenance-window:remove:${removed.rows[0].id}`,
      });
      const told = await tellMutedIncidents(pool, context, name);
      if (context.json()) printJson({ removed: name, incidentsTold: told });
      else process.stdout.write(`removed maintenance window "${name}"\n`);
    });
}

/** Incidents with alerts this window muted look at their mutes again now: those still firing page. */
async function tellMutedIncidents(pool: pg.Pool, context: MaintenanceContext, name: string): Promise<number> {
  const { rows } = await pool.query<{ workflow_id: string }>(
    `SELECT DISTINCT i.workflow_id FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id
      WHERE a.status = 'firing' AND a.muted_by = $1 AND i.status <> 'resolved'`,
    [`maintenance window "${name}"`],
  );
  if (rows.length === 0) return 0;
  const client = await context.temporal();
  let told = 0;
  for (const { workflow_id: workflowId } of rows) {
    try {
      await client.workflow.getHandle(workflowId).signal(recheckMutesSignal);
      told += 1;
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
  return told;
}
