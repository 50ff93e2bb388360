import type { Command } from 'commander';
import type pg from 'pg';
import type { Policy } from '../../config/policy.js';
import { addOverride, listOverrides, removeOverride } from '../../db/oncall-overrides.js';
import { parseInstant } from '../../domain/oncall.js';
import { mayCover, scheduleNamed, shiftsOf, UnknownScheduleError, whoIsOnCall } from '../../oncall/lookup.js';
import { requesterOption } from '../common-options.js';
import { EXIT, printJson, printTable, UserError } from '../output.js';

/**
 * `opsctl oncall who | shifts | override add | override list | override remove`:
 * the schedules of the policy with the overrides made at run time.
 * Times are ISO-8601; without a zone they are in the schedule's time zone.
 */
export interface OnCallContext {
  pool: () => pg.Pool;
  policy: () => Policy;
  json: () => boolean;
}

const DAY = 86_400_000;

export function registerOnCallCommands(program: Command, context: OnCallContext): void {
  const oncall = program.command('oncall').description('on-call schedules: who is on call, shifts, overrides');

  const schedule = (name: string) => {
    try {
      return scheduleNamed(context.policy(), name);
    } catch (error) {
      if (error instanceof UnknownScheduleError) throw new UserError(error.message, EXIT.notFound);
      throw error;
    }
  };
  const instant = (option: string, text: string, timeZone: string) => {
    const ms = parseInstant(text, timeZone);
    if (ms === undefined) throw new UserError(`${option} "${text}": expected ISO-8601 such as 2026-10-27T12:00 (in ${timeZone}) or 2026-10-27T11:00:00Z`);
    return ms;
  };

  oncall
    .command('who <schedule>')
    .description('who is on call now (or --at), until when, and why')
    .option('--at <time>', 'the instant to ask about (ISO-8601)')
    .action(async (name: string, options: { at?: string }) => {
      const chosen = schedule(name);
      const atMs = options.at ? instant('--at', options.at, chosen.timeZone) : Date.now();
      const answer = await whoIsOnCall(context.pool(), chosen, atMs);
      if (context.json()) return printJson(answer);
      printTable([{ ...answer, person: answer.person ?? '(nobody)', until: answer.until ?? '(no change within 90 days)' }], ['schedule', 'at', 'person', 'until', 'source']);
    });

  oncall
    .command('shifts <schedule>')
    .description('the shifts from now (or --from) for --days days')
    .option('--from <time>', 'where the list starts (ISO-8601)')
    .option('--days <n>', 'how many days', '14')
    .action(async (name: string, options: { from?: string; days: string }) => {
      const chosen = schedule(name);
      const days = Number(options.days);
      if (!Number.isInteger(days) || days < 1 || days > 366) throw new UserError(`--days "${options.days}": expected a whole number of days from 1 to 366`);
      const fromMs = options.from ? instant('--from', options.from, chosen.timeZone) : Date.now();
      const shifts = await shiftsOf(context.pool(), chosen, fromMs, fromMs + days * DAY);
      if (context.json()) return printJson(shifts);
      printTable(
        shifts.map((shift) => ({ ...shift, person: shift.person ?? '(nobody)', name: shift.person ? (context.policy().oncall.people[shift.person]?.name ?? '') : '' })),
        ['start', 'end', 'person', 'name', 'source'],
      );
    });

  const override = oncall.command('override').description('overrides: someone covers a schedule for a while');

  override
    .command('add <schedule>')
    .description('let --person cover the schedule from --start to --end (audited)')
    .requiredOption('--person <id>', 'who covers')
    .requiredOption('--start <time>', 'when the cover starts (ISO-8601)')
    .requiredOption('--end <time>', 'when it ends (ISO-8601)')
    .option(...requesterOption)
    .action(async (name: string, options: { person: string; start: string; end: string; by: string }) => {
      const chosen = schedule(name);
      const startMs = instant('--start', options.start, chosen.timeZone);
      const endMs = instant('--end', options.end, chosen.timeZone);
      if (endMs <= startMs) throw new UserError(`--end ${options.end} is not after --start ${options.start}`);
      if (!mayCover(context.policy(), chosen, options.person)) {
        throw new UserError(`--person "${options.person}" is not in oncall.people nor on schedule ${name}`, EXIT.notFound);
      }
      const stored = await addOverride(context.pool(), { schedule: name, person: options.person, startMs, endMs, by: options.by });
      const row = { id: stored.id, schedule: name, person: stored.person, start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString(), by: stored.createdBy };
      if (context.json()) return printJson(row);
      process.stdout.write(`override ${row.id}: ${row.person} covers ${name} from ${row.start} to ${row.end}\n`);
    });

  override
    .command('list <schedule>')
    .description("the schedule's overrides that have not ended: the policy's and those added at run time")
    .action(async (name: string) => {
      const chosen = schedule(name);
      const now = Date.now();
      const stored = await listOverrides(context.pool(), name, now);
      const rows = [
        ...chosen.overrides.filter((entry) => entry.endMs > now).map((entry) => ({ ...entry, by: '(policy)' })),
        ...stored.map((entry) => ({ ...entry, by: entry.createdBy })),
      ].map((entry) => ({ id: entry.id, person: entry.person, start: new Date(entry.startMs).toISOString(), end: new Date(entry.endMs).toISOString(), by: entry.by }));
      if (context.json()) return printJson(rows);
      printTable(rows, ['id', 'person', 'start', 'end', 'by']);
    });

  override
    .command('remove <id>')
    .description('remove an override added at run time (audited)')
    .option(...requesterOption)
    .action(async (id: string, options: { by: string }) => {
      if (id.startsWith('policy-')) throw new UserError(`override ${id} is written in the policy file; remove it there`, EXIT.refused);
      const removed = await removeOverride(context.pool(), id, options.by);
      if (!removed) throw new UserError(`no override ${id} (or it was removed already)`, EXIT.notFound);
      if (context.json()) return printJson({ id: removed.id, schedule: removed.schedule, person: removed.person, removedBy: options.by });
      process.stdout.write(`override ${removed.id} removed (${removed.person} on ${removed.schedule})\n`);
    });
}
