import { cronMatches, type CronExpression } from './cron.js';
import { matchesAll, type Labels, type Matcher } from './matchers.js';
import { localTime } from './time-zones.js';

/**
 * When an alert pages nobody: inside a maintenance window that matches it, or
 * while an inhibiting alert fires for the same service. Alertmanager silences
 * are one-off and PagerDuty's windows too; these windows can also recur
 * (weekly spans or cron plus a duration) in a time zone.
 */

export const WEEKDAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

export interface WeeklySpan {
  days: number[]; // 0 = Sunday
  /** Minutes since local midnight; an end before the start runs past midnight. */
  startMinute: number;
  endMinute: number;
}

export type WindowSchedule =
  | { kind: 'once'; startMs: number; endMs: number }
  | { kind: 'weekly'; spans: WeeklySpan[] }
  | { kind: 'cron'; cron: CronExpression; durationMs: number };

export interface MaintenanceWindow {
  name: string;
  matchers: Matcher[];
  timeZone: string;
  schedule: WindowSchedule;
}

export interface InhibitRule {
  name: string;
  sourceMatchers: Matcher[];
  targetMatchers: Matcher[];
  /** Labels that must be equal on source and target (for example service). */
  equal: string[];
}

function inWeeklySpan(span: WeeklySpan, atMs: number, timeZone: string): boolean {
  const local = localTime(atMs, timeZone);
  const overnight = span.endMinute <= span.startMinute;
  if (!overnight) return span.days.includes(local.weekday) && local.minuteOfDay >= span.startMinute && local.minuteOfDay < span.endMinute;
  const yesterday = (local.weekday + 6) % 7;
  return (
    (span.days.includes(local.weekday) && local.minuteOfDay >= span.startMinute) ||
    (span.days.includes(yesterday) && local.minuteOfDay < span.endMinute)
  );
}

/** Whether the window is open at `atMs`. */
export function windowIsOpen(window: MaintenanceWindow, atMs: number): boolean {
  const schedule = window.schedule;
  switch (schedule.kind) {
    case 'once':
      return atMs >= schedule.startMs && atMs < schedule.endMs;
    case 'weekly':
      return schedule.spans.some((span) => inWeeklySpan(span, atMs, window.timeZone));
    case 'cron': {
      // Open when the cron fired at some minute in (at - duration, at].
      const minute = 60_000;
      const latest = Math.floor(atMs / minute) * minute;
      for (let start = latest; start > atMs - schedule.durationMs; start -= minute) {
        if (cronMatches(schedule.cron, localTime(start, window.timeZone))) return true;
      }
      return false;
    }
  }
}

/**
 * When a window open at `atMs` closes: exactly for a one-off window, else the
 * first minute it is closed, looked for up to a week ahead (a window open for
 * longer is looked at again then).
 */
export function windowClosesAt(window: MaintenanceWindow, atMs: number): number {
  if (window.schedule.kind === 'once') return window.schedule.endMs;
  const minute = 60_000;
  const limit = atMs + 7 * 24 * 60 * minute;
  for (let at = Math.floor(atMs / minute) * minute + minute; at < limit; at += minute) {
    if (!windowIsOpen(window, at)) return at;
  }
  return limit;
}

/** The first open window matching the alert's labels. */
export function openWindowFor(windows: readonly MaintenanceWindow[], labels: Labels, atMs: number): MaintenanceWindow | undefined {
  return windows.find((window) => matchesAll(window.matchers, labels) && windowIsOpen(window, atMs));
}

/** The rule and source alert inhibiting `target`, if any (a source never inhibits itself). */
export function inhibitionFor(
  rules: readonly InhibitRule[],
  target: Labels,
  firingSources: readonly Labels[],
): { rule: InhibitRule; source: Labels } | undefined {
  for (const rule of rules) {
    if (!matchesAll(rule.targetMatchers, target)) continue;
    for (const source of firingSources) {
      if (source === target || !matchesAll(rule.sourceMatchers, source)) continue;
      if (matchesAll(rule.targetMatchers, source) && sameLabels(source, target)) continue;
      if (rule.equal.every((name) => (source[name] ?? '') === (target[name] ?? ''))) return { rule, source };
    }
  }
  return undefined;
}

function sameLabels(a: Labels, b: Labels): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/** Why an alert is muted at `atMs`, in words for the timeline, or undefined when it pages. */
export function muteReason(
  labels: Labels,
  atMs: number,
  windows: readonly MaintenanceWindow[],
  rules: readonly InhibitRule[],
  firingSources: readonly Labels[],
): string | undefined {
  const window = openWindowFor(windows, labels, atMs);
  if (window) return `maintenance window "${window.name}"`;
  const inhibition = inhibitionFor(rules, labels, firingSources);
  if (inhibition) {
    const name = inhibition.source.alertname ?? 'an alert';
    return `inhibited by ${name} (rule "${inhibition.rule.name}")`;
  }
  return undefined;
}

/**
 * When the first of `windows` is open at or after `fromMs`: `fromMs` itself
 * when one is open now, else the second one opens (found minute by minute,
 * then second by second) within `horizonMs`, else undefined.
 */
export function nextOpening(windows: readonly MaintenanceWindow[], fromMs: number, horizonMs = 14 * 86_400_000): number | undefined {
  const open = (at: number) => windows.some((window) => windowIsOpen(window, at));
  if (open(fromMs)) return fromMs;
  const firstMinute = Math.ceil(fromMs / 60_000) * 60_000;
  for (let at = firstMinute; at <= fromMs + horizonMs; at += 60_000) {
    if (!open(at)) continue;
    for (let second = Math.max(at - 59_000, Math.ceil(fromMs / 1000) * 1000); second < at; second += 1000) if (open(second)) return second;
    return at;
  }
  return undefined;
}
