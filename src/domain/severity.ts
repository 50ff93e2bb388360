import { matchesAll, type Labels, type Matcher } from './matchers.js';

/** Incident severities, highest first. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The words senders use, mapped to ours: Prometheus conventions, PagerDuty's, and P0..P4. */
const ALIASES: Record<string, Severity> = {
  critical: 'critical',
  crit: 'critical',
  fatal: 'critical',
  emergency: 'critical',
  page: 'critical',
  p0: 'critical',
  high: 'high',
  error: 'high',
  major: 'high',
  p1: 'high',
  medium: 'medium',
  warning: 'medium',
  warn: 'medium',
  moderate: 'medium',
  p2: 'medium',
  low: 'low',
  info: 'low',
  informational: 'low',
  minor: 'low',
  none: 'low',
  p3: 'low',
  p4: 'low',
};

export function parseSeverity(text: string | undefined): Severity | undefined {
  return text === undefined ? undefined : ALIASES[text.trim().toLowerCase()];
}

export function severityRank(severity: Severity): number {
  return SEVERITIES.length - SEVERITIES.indexOf(severity);
}

export function highestSeverity(severities: Iterable<Severity>, fallback: Severity): Severity {
  let best: Severity | undefined;
  for (const severity of severities) if (!best || severityRank(severity) > severityRank(best)) best = severity;
  return best ?? fallback;
}

export interface SeverityOverride {
  matchers: Matcher[];
  severity: Severity;
}

export interface SeverityPolicy {
  defaultSeverity: Severity;
  /** First match wins, before the alert's own labels. */
  overrides: SeverityOverride[];
}

export const DEFAULT_SEVERITY_POLICY: SeverityPolicy = { defaultSeverity: 'medium', overrides: [] };

/** An override by service or alertname first, then the `severity` or `priority` label, then the default. */
export function severityOf(labels: Labels, policy: SeverityPolicy): Severity {
  for (const override of policy.overrides) if (matchesAll(override.matchers, labels)) return override.severity;
  return parseSeverity(labels.severity) ?? parseSeverity(labels.priority) ?? policy.defaultSeverity;
}
