import { z } from 'zod';
import { WEEKDAY_NAMES } from '../domain/muting.js';
import { parseInstant, parseLocalDateTime, type OnCallPerson, type OnCallSchedule } from '../domain/oncall.js';
import { isValidTimeZone } from '../domain/time-zones.js';
import { duration } from './policy-incidents.js';

/**
 * The policy file's `oncall` section: people with their contact methods, and
 * schedules of layered rotations with overrides. Local times without a zone
 * are in the schedule's (or layer's) time zone.
 */

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected the name of an environment variable');
const timeZone = z.string().refine(isValidTimeZone, 'unknown time zone (expected an IANA name such as Europe/Berlin)');
export const PERSON_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const SCHEDULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

const person = z
  .object({
    name: z.string().min(1),
    timeZone: timeZone.optional(),
    slack: z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'expected a Slack user ID such as U0ALICE001 (not a name or @handle)').optional(),
    email: z.email({ error: 'expected an email address' }).optional(),
    pagerduty: z.object({ routingKeyEnv: envName.optional(), userId: z.string().regex(/^P[A-Z0-9]{5,}$/, 'expected a PagerDuty user ID such as PLH1HKV').optional() }).strict().optional(),
    webhook: z.object({ url: z.url({ protocol: /^https?$/ }), secretEnv: envName.optional() }).strict().optional(),
    phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'expected an E.164 number such as +4915112345678').optional(),
  })
  .strict();

const localDateTime = z.string().refine((text) => parseLocalDateTime(text) !== undefined, 'expected a local date and time such as 2026-10-19T09:00');

const clock = (text: string) => Number(text.slice(0, 2)) * 60 + Number(text.slice(3, 5));
const restrict = z
  .object({
    days: z.array(z.enum(WEEKDAY_NAMES)).min(1).default([...WEEKDAY_NAMES]),
    hours: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'expected HH:MM-HH:MM, for example 09:00-17:00')
      .default('00:00-24:00'),
  })
  .strict()
  .transform(({ days, hours }) => ({
    days: days.map((day) => WEEKDAY_NAMES.indexOf(day)),
    startMinute: clock(hours.slice(0, 5)),
    endMinute: clock(hours.slice(6)) % 1440,
  }));

const layer = z
  .object({
    people: z.array(z.string().regex(PERSON_ID, 'expected a person ID')).min(1, 'a layer needs at least one person'),
    start: localDateTime,
    shift: duration().refine((ms) => ms >= 1000, 'a shift is at least 1s'),
    timeZone: timeZone.optional(),
    restrict: restrict.optional(),
  })
  .strict();

const override = z.object({ person: z.string().regex(PERSON_ID, 'expected a person ID'), start: z.string(), end: z.string() }).strict();

const schedule = z
  .object({
    timeZone,
    layers: z.array(layer).min(1, 'a schedule needs at least one layer'),
    overrides: z.array(override).default([]),
  })
  .strict()
  .superRefine((value, context) => {
    value.overrides.forEach((entry, index) => {
      const start = parseInstant(entry.start, value.timeZone);
      const end = parseInstant(entry.end, value.timeZone);
      if (start === undefined) context.addIssue({ code: 'custom', path: ['overrides', index, 'start'], message: 'expected a date and time such as 2026-10-27T12:00' });
      if (end === undefined) context.addIssue({ code: 'custom', path: ['overrides', index, 'end'], message: 'expected a date and time such as 2026-10-28T12:00' });
      if (start !== undefined && end !== undefined && end <= start) context.addIssue({ code: 'custom', path: ['overrides', index, 'end'], message: 'must be after start' });
    });
  });

export const oncallPolicySection = {
  oncall: z
    .object({
      people: z.record(z.string().regex(PERSON_ID, 'expected a person ID (letters, digits, . _ -)'), person).default({}),
      schedules: z.record(z.string().regex(SCHEDULE_NAME, 'expected a schedule name (letters, digits, _ -)'), schedule).default({}),
    })
    .strict()
    .transform(({ people, schedules }) => ({
      people: Object.fromEntries(Object.entries(people).map(([id, entry]): [string, OnCallPerson] => [id, { id, ...entry }])),
      schedules: Object.fromEntries(
        Object.entries(schedules).map(([name, entry]): [string, OnCallSchedule] => [
          name,
          {
            name,
            timeZone: entry.timeZone,
            layers: entry.layers.map((item) => ({
              people: item.people,
              start: item.start,
              shiftMs: item.shift,
              timeZone: item.timeZone ?? entry.timeZone,
              ...(item.restrict ? { restrict: item.restrict } : {}),
            })),
            overrides: entry.overrides.map((item, index) => ({
              id: `policy-${index + 1}`,
              person: item.person,
              startMs: parseInstant(item.start, entry.timeZone)!,
              endMs: parseInstant(item.end, entry.timeZone)!,
            })),
          },
        ]),
      ),
    }))
    .prefault({}),
};

export type OnCallPolicy = z.output<(typeof oncallPolicySection)['oncall']>;
