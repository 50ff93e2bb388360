import type pg from 'pg';
import type { Policy } from '../config/policy.js';
import { listOverrides } from '../db/oncall-overrides.js';
import { onCallShifts, onCallUntil, schedulePeople, type OnCallSchedule } from '../domain/oncall.js';

/**
 * Who is on call, as opsctl, the calendar feed and Slack's `/ops oncall` ask
 * it: the policy's schedule with its run-time overrides from PostgreSQL.
 */

export class UnknownScheduleError extends Error {
  constructor(name: string, known: string[]) {
    super(`no schedule "${name}" in oncall.schedules${known.length > 0 ? ` (known: ${known.join(', ')})` : ' (the policy has none)'}`);
  }
}

export function scheduleNamed(policy: Policy, name: string): OnCallSchedule {
  const schedule = policy.oncall.schedules[name];
  if (!schedule) throw new UnknownScheduleError(name, Object.keys(policy.oncall.schedules));
  return schedule;
}

export interface WhoAnswer {
  schedule: string;
  at: string;
  person: string | null;
  until: string | null;
  source: string | null;
}

export async function whoIsOnCall(pool: pg.Pool, schedule: OnCallSchedule, atMs: number): Promise<WhoAnswer> {
  const overrides = await listOverrides(pool, schedule.name, atMs);
  const answer = onCallUntil(schedule, atMs, overrides);
  return {
    schedule: schedule.name,
    at: new Date(atMs).toISOString(),
    person: answer.person,
    until: answer.untilMs === null ? null : new Date(answer.untilMs).toISOString(),
    source: answer.source,
  };
}

export interface ShiftRow {
  start: string;
  end: string;
  person: string | null;
  source: string | null;
}

export async function shiftsOf(pool: pg.Pool, schedule: OnCallSchedule, fromMs: number, toMs: number): Promise<ShiftRow[]> {
  const overrides = await listOverrides(pool, schedule.name, fromMs);
  return onCallShifts(schedule, fromMs, toMs, overrides).map((shift) => ({
    start: new Date(shift.startMs).toISOString(),
    end: new Date(shift.endMs).toISOString(),
    person: shift.person,
    source: shift.source,
  }));
}

/** Whether `person` may cover `schedule`: a person of the policy, or one its layers name. */
export function mayCover(policy: Policy, schedule: OnCallSchedule, person: string): boolean {
  return policy.oncall.people[person] !== undefined || schedulePeople(schedule).has(person);
}
