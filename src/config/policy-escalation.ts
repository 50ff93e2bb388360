import { z } from 'zod';
import { DEFAULT_RESPONSE_TIMES_MS, type BusinessHours, type EscalationPolicy, type PageTarget } from '../domain/escalation.js';
import { WEEKDAY_NAMES } from '../domain/muting.js';
import { SEVERITIES } from '../domain/severity.js';
import { isValidTimeZone } from '../domain/time-zones.js';
import { duration, matchers } from './policy-incidents.js';

/**
 * The policy file's escalation section: ladders of levels and targets, routes
 * choosing a ladder, response times per severity, and business hours.
 * Secrets are never in the file: targets name the environment variable that
 * holds a routing key or signing secret.
 */

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected the name of an environment variable');

const target = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('slack'), channel: z.string().min(1).optional(), mention: z.string().min(1).optional() }).strict(),
    z.object({ type: z.literal('email'), to: z.array(z.email({ error: 'expected an email address' })).min(1) }).strict(),
    z.object({ type: z.literal('pagerduty'), routingKeyEnv: envName.optional() }).strict(),
    z.object({ type: z.literal('webhook'), url: z.url({ protocol: /^https?$/ }), secretEnv: envName.optional() }).strict(),
    z.object({ type: z.literal('schedule'), schedule: z.string().min(1) }).strict(),
    z.object({ type: z.literal('person'), person: z.string().min(1) }).strict(),
  ],
  { error: 'expected a target of type slack, email, pagerduty, webhook, schedule or person' },
) satisfies z.ZodType<PageTarget>;

const level = z
  .object({ targets: z.array(target).min(1, 'a level needs at least one target'), timeout: duration().optional() })
  .strict()
  .transform(({ targets, timeout }) => ({ targets, ...(timeout !== undefined ? { timeoutMs: timeout } : {}) }));

const policy = z
  .object({
    name: z.string().min(1),
    levels: z.array(level).min(1, 'a policy needs at least one level'),
    repeat: z.number().int().min(0).max(10).default(0),
    finalAction: z.object({ targets: z.array(target).min(1) }).strict().optional(),
  })
  .strict()
  .transform((value): EscalationPolicy => ({ name: value.name, levels: value.levels, repeat: value.repeat, finalTargets: value.finalAction?.targets ?? [] }));

const clock = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'expected HH:MM')
  .transform((text) => Number(text.slice(0, 2)) * 60 + Number(text.slice(3)));

const businessHours = z
  .object({
    timeZone: z.string().refine(isValidTimeZone, 'unknown time zone (expected an IANA name such as Europe/Berlin)'),
    days: z.array(z.enum(WEEKDAY_NAMES)).min(1).default(['mon', 'tue', 'wed', 'thu', 'fri']),
    start: clock.default('09:00' as never),
    end: clock.default('17:00' as never),
    holidays: z.array(z.iso.date({ error: 'expected a date such as 2026-12-25' })).default([]),
    severities: z.array(z.enum(SEVERITIES)).default(['medium', 'low']),
  })
  .strict()
  .transform(
    (value): BusinessHours => ({
      timeZone: value.timeZone,
      days: value.days.map((day) => WEEKDAY_NAMES.indexOf(day)),
      startMinute: value.start,
      endMinute: value.end,
      holidays: value.holidays,
      // Critical and high always page at once, whatever the file says.
      severities: value.severities.filter((severity) => severity !== 'critical' && severity !== 'high'),
    }),
  );

export const escalationPolicySection = {
  escalation: z
    .object({
      policies: z.array(policy).default([]),
      routes: z.array(z.object({ matchers, policy: z.string().min(1) }).strict()).default([]),
      defaultPolicy: z.string().min(1).optional(),
      responseTimes: z
        .object({
          critical: duration().optional(),
          high: duration().optional(),
          medium: duration().optional(),
          low: duration().optional(),
        })
        .strict()
        .default({})
        .transform((times) => ({ ...DEFAULT_RESPONSE_TIMES_MS, ...Object.fromEntries(Object.entries(times).filter(([, ms]) => ms !== undefined)) })),
      businessHours: businessHours.optional(),
      /** How long a ladder waits at most between checks that its incident still runs (a terminated one's ladder stops). */
      incidentCheck: duration('1m'),
    })
    .strict()
    .superRefine((section, context) => {
      const names = new Set(section.policies.map((entry) => entry.name));
      section.routes.forEach((route, index) => {
        if (!names.has(route.policy)) context.addIssue({ code: 'custom', path: ['routes', index, 'policy'], message: `no policy named "${route.policy}"` });
      });
      if (section.defaultPolicy && !names.has(section.defaultPolicy)) {
        context.addIssue({ code: 'custom', path: ['defaultPolicy'], message: `no policy named "${section.defaultPolicy}"` });
      }
    })
    .default({ policies: [], routes: [], responseTimes: DEFAULT_RESPONSE_TIMES_MS, incidentCheck: 60_000 }),
};
