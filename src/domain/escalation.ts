import { matchesAll, type Labels, type Matcher } from './matchers.js';
import type { Severity } from './severity.js';
import { localTime } from './time-zones.js';

/**
 * Escalation ladders as data, and the rules that pick and pace them: which
 * policy an incident follows (first matching route, else the default), how
 * long each level waits (its own timeout, else the severity's response time),
 * and when a business-hours severity may page (inside business hours, else at
 * the next start of business hours).
 */

export type PageTarget =
  | { type: 'slack'; channel?: string; mention?: string }
  | { type: 'email'; to: string[] }
  | { type: 'pagerduty'; routingKeyEnv?: string }
  | { type: 'webhook'; url: string; secretEnv?: string; phone?: string }
  /** Whoever is on call on the schedule when the level fires, through their contact methods. */
  | { type: 'schedule'; schedule: string }
  /** One person, through their contact methods. */
  | { type: 'person'; person: string };

/** A target that names a channel itself, as opposed to one resolved to people when its level fires. */
export type ChannelTarget = Exclude<PageTarget, { type: 'schedule' | 'person' }>;

export interface EscalationLevel {
  targets: PageTarget[];
  timeoutMs?: number;
}

export interface EscalationPolicy {
  name: string;
  levels: EscalationLevel[];
  /** How many more times the ladder runs after the first pass. */
  repeat: number;
  /** Paged once, after the last pass, if nobody acknowledged. */
  finalTargets: PageTarget[];
}

export interface EscalationRoute {
  matchers: Matcher[];
  policy: string;
}

export interface BusinessHours {
  timeZone: string;
  days: number[]; // 0 = Sunday
  startMinute: number;
  endMinute: number;
  /** Local dates, YYYY-MM-DD, that are not business days. */
  holidays: string[];
  /** Severities that page only inside business hours. */
  severities: Severity[];
}

/** The plain-JSON plan an escalation runs: chosen by the parent incident, recorded in history. */
export interface EscalationPlan {
  policy: EscalationPolicy;
  responseTimesMs: Record<Severity, number>;
  businessHours?: BusinessHours;
  /** Checks that the incident still runs at most this often before a level (absent in older plans: before every later level). */
  incidentCheckMs?: number;
}

export const DEFAULT_RESPONSE_TIMES_MS: Record<Severity, number> = {
  critical: 5 * 60_000,
  high: 15 * 60_000,
  medium: 60 * 60_000,
  low: 4 * 60 * 60_000,
};

/** First matching route wins, as Alertmanager's route tree picks a receiver; else the default. */
export function choosePolicy(
  routes: readonly EscalationRoute[],
  policies: readonly EscalationPolicy[],
  defaultPolicy: string | undefined,
  labels: Labels,
): EscalationPolicy | undefined {
  const route = routes.find((candidate) => matchesAll(candidate.matchers, labels));
  const name = route?.policy ?? defaultPolicy;
  return policies.find((policy) => policy.name === name);
}

export function levelTimeoutMs(level: EscalationLevel, severity: Severity, responseTimesMs: Record<Severity, number>): number {
  return level.timeoutMs ?? responseTimesMs[severity];
}

function localDate(atMs: number, timeZone: string): string {
  const local = localTime(atMs, timeZone);
  return `${local.year}-${String(local.month).padStart(2, '0')}-${String(local.day).padStart(2, '0')}`;
}

export function inBusinessHours(atMs: number, hours: BusinessHours): boolean {
  const local = localTime(atMs, hours.timeZone);
  return (
    hours.days.includes(local.weekday) &&
    !hours.holidays.includes(localDate(atMs, hours.timeZone)) &&
    local.minuteOfDay >= hours.startMinute &&
    local.minuteOfDay < hours.endMinute
  );
}

/**
 * When a page for `severity` may go out: now, unless the severity is marked
 * business-hours and it is outside them; then the first minute of the next
 * business hours. It jumps day by day to the local start of business and
 * checks the wall clock there, so a daylight-saving change in between only
 * costs a correcting step.
 */
export function pageAllowedAt(atMs: number, severity: Severity, hours: BusinessHours | undefined): number {
  if (!hours || !hours.severities.includes(severity) || inBusinessHours(atMs, hours)) return atMs;
  const minute = 60_000;
  let candidate = Math.ceil(atMs / minute) * minute;
  const limit = atMs + 15 * 24 * 60 * minute;
  for (let step = 0; step < 200 && candidate < limit; step += 1) {
    if (inBusinessHours(candidate, hours)) {
      // Landed inside (a clock change moved the start): walk back to the first minute.
      while (candidate - minute > atMs && inBusinessHours(candidate - minute, hours)) candidate -= minute;
      return candidate;
    }
    const local = localTime(candidate, hours.timeZone);
    const businessDay = hours.days.includes(local.weekday) && !hours.holidays.includes(localDate(candidate, hours.timeZone));
    candidate +=
      businessDay && local.minuteOfDay < hours.startMinute
        ? (hours.startMinute - local.minuteOfDay) * minute
        : (1440 - local.minuteOfDay) * minute; // the next local midnight
  }
  return atMs; // No business hours at all in two weeks: never hold a page forever.
}

/** A stable, human key for a target, for idempotency keys and the notification history. */
export function targetKey(target: PageTarget): string {
  switch (target.type) {
    case 'slack':
      return `slack:${target.channel ?? 'default'}`;
    case 'email':
      return `email:${[...target.to].sort().join(',')}`;
    case 'pagerduty':
      return `pagerduty:${target.routingKeyEnv ?? 'PAGERDUTY_ROUTING_KEY'}`;
    case 'webhook':
      return `webhook:${target.url}`;
    case 'schedule':
      return `schedule:${target.schedule}`;
    case 'person':
      return `person:${target.person}`;
  }
}

/** One page of a level, as the ladder reports it to its incident. */
export interface PageOutcome {
  target: string;
  channel: string;
  /** `retrying`: not through yet for a reason retrying can fix (Slack down, a 5xx); the ladder keeps trying on a durable timer. */
  outcome: 'delivered' | 'failed' | 'retrying';
  error?: string;
  /** For a schedule or person target: who it resolved to, and why. */
  person?: string;
  via?: string;
  reason?: string;
  /** For a schedule or person target: the time whose on-call it paged (when the level was due). */
  onCallAt?: string;
}

/** Ladder -> incident (escalationProgress signal): what it did, for the timeline and the status query. */
export type EscalationProgress =
  | { kind: 'deferred'; workflowId: string; until: string }
  | { kind: 'level'; workflowId: string; cycle: number; level: number; at: string; pages: PageOutcome[]; nextLevelAt?: string; final?: boolean }
  /** A page of a level that was `retrying` has gone through, or has been given up. */
  | { kind: 'page'; workflowId: string; cycle: number; level: number; at: string; page: PageOutcome; final?: boolean }
  | { kind: 'exhausted'; workflowId: string; at: string }
  | { kind: 'finished'; workflowId: string; at: string; outcome: string };
