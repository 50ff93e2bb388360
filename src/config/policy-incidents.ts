import { z } from 'zod';
import { parseCron } from '../domain/cron.js';
import { parseDuration } from '../domain/durations.js';
import { parseMatcher, type Matcher } from '../domain/matchers.js';
import { WEEKDAY_NAMES, type MaintenanceWindow, type WeeklySpan } from '../domain/muting.js';
import { SEVERITIES } from '../domain/severity.js';
import { isValidTimeZone } from '../domain/time-zones.js';

/**
 * The policy file's incident sections: lifecycle timings, grouping, severity
 * overrides, maintenance windows and inhibition. Each is validated into the
 * domain's types, so a bad matcher or cron names its path at start-up.
 */

export const duration = (fallback?: string) => {
  const schema = z.union([z.string(), z.number()]).transform((value, context) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      context.addIssue({ code: 'custom', message: `"${value}" is not a duration (for example 90s, 5m, 1h30m)` });
      return z.NEVER;
    }
    return ms;
  });
  // prefault, not default: zod 4 returns a default as-is, and the fallback must go through the transform to become milliseconds.
  return fallback === undefined ? schema : schema.prefault(fallback);
};

const matcher = z.string().transform((text, context): Matcher => {
  const parsed = parseMatcher(text);
  if (typeof parsed === 'string') {
    context.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

export const matchers = z.array(matcher).default([]);

const severity = z.enum(SEVERITIES, { error: `expected one of ${SEVERITIES.join(', ')}` });

const timeZone = z
  .string()
  .refine(isValidTimeZone, { message: 'unknown time zone (expected an IANA name such as Europe/Berlin or UTC)' })
  .default('UTC');

const clock = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'expected HH:MM')
  .transform((text) => Number(text.slice(0, 2)) * 60 + Number(text.slice(3)));

const weekday = z.enum(WEEKDAY_NAMES, { error: `expected one of ${WEEKDAY_NAMES.join(', ')}` });

const weeklySpan = z
  .object({ days: z.array(weekday).min(1), start: clock, end: clock })
  .strict()
  .transform(
    (span): WeeklySpan => ({
      days: span.days.map((day) => WEEKDAY_NAMES.indexOf(day)),
      startMinute: span.start,
      endMinute: span.end,
    }),
  );

const instant = z.iso.datetime({ offset: true, error: 'expected an RFC 3339 time such as 2026-11-24T22:00:00Z' });

export const maintenanceWindowSchema = z
  .object({
    name: z.string().min(1),
    matchers,
    timeZone,
    start: instant.optional(),
    end: instant.optional(),
    weekly: z.array(weeklySpan).min(1).optional(),
    cron: z.string().optional(),
    duration: duration().optional(),
  })
  .strict()
  .transform((window, context): MaintenanceWindow => {
    const kinds = [window.start !== undefined || window.end !== undefined, window.weekly !== undefined, window.cron !== undefined];
    if (kinds.filter(Boolean).length !== 1) {
      context.addIssue({ code: 'custom', message: 'give exactly one of start+end, weekly, or cron+duration' });
      return z.NEVER;
    }
    const base = { name: window.name, matchers: window.matchers, timeZone: window.timeZone };
    if (window.weekly) return { ...base, schedule: { kind: 'weekly', spans: window.weekly } };
    if (window.cron !== undefined) {
      const cron = parseCron(window.cron);
      if (typeof cron === 'string') {
        context.addIssue({ code: 'custom', message: cron, path: ['cron'] });
        return z.NEVER;
      }
      if (window.duration === undefined || window.duration <= 0 || window.duration > 7 * 86_400_000) {
        context.addIssue({ code: 'custom', message: 'a cron window needs a duration from 1m to 7d', path: ['duration'] });
        return z.NEVER;
      }
      return { ...base, schedule: { kind: 'cron', cron, durationMs: window.duration } };
    }
    if (!window.start || !window.end || Date.parse(window.end) <= Date.parse(window.start)) {
      context.addIssue({ code: 'custom', message: 'a one-off window needs start and an end after it' });
      return z.NEVER;
    }
    return { ...base, schedule: { kind: 'once', startMs: Date.parse(window.start), endMs: Date.parse(window.end) } };
  });

export const incidentPolicySections = {
  incidents: z
    .object({
      /** All alerts resolved for this long resolves the incident. */
      quietPeriod: duration('5m'),
      /** A resolved incident that fires again within this reopens instead of opening a new one. */
      reopenWindow: duration('1h'),
      defaultSeverity: severity.default('medium'),
    })
    .strict()
    .default({ quietPeriod: 300_000, reopenWindow: 3_600_000, defaultSeverity: 'medium' }),
  grouping: z
    .object({
      /** First match wins; an alert that matches none is grouped as its sender grouped it. */
      rules: z
        .array(
          z
            .object({ name: z.string().min(1), matchers, by: z.array(z.string().min(1)).min(1) })
            .strict(),
        )
        .default([]),
    })
    .strict()
    .default({ rules: [] }),
  severity: z
    .object({
      overrides: z.array(z.object({ matchers: matchers.refine((list) => list.length > 0, 'give at least one matcher'), severity }).strict()).default([]),
    })
    .strict()
    .default({ overrides: [] }),
  maintenanceWindows: z.array(maintenanceWindowSchema).default([]),
  inhibitRules: z
    .array(
      z
        .object({
          name: z.string().min(1),
          sourceMatchers: matchers,
          targetMatchers: matchers,
          equal: z.array(z.string()).default([]),
        })
        .strict(),
    )
    .default([]),
};
