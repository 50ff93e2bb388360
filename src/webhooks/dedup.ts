import { createHash } from 'node:crypto';
import type { IncomingAlert, Labels } from '../domain/alerts.js';
import { matchesAll, type Matcher } from '../domain/matchers.js';

/**
 * Which incident an alert belongs to. By default the sender's grouping:
 * Alertmanager's groupKey (so two Alertmanagers of an HA pair, which compute
 * the same groupKey, feed the same incident), or the event's dedup_key. A
 * grouping rule of the policy overrides it with its own label set. Keys are
 * readable (the group's label values) and unique (a hash of the identity).
 */

export interface GroupingRule {
  name: string;
  matchers: Matcher[];
  by: string[];
}

const SAFE_KEY = /^[A-Za-z0-9._:-]{1,120}$/;

function slug(values: string[]): string {
  return values
    .map((value) => value.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, ''))
    .filter(Boolean)
    .join('-')
    .slice(0, 80);
}

function hash(text: string, length = 12): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

export function alertmanagerDedupKey(groupKey: string, groupLabels: Labels): string {
  const values = Object.keys(groupLabels)
    .sort()
    .map((name) => groupLabels[name]!);
  const readable = slug(values);
  return `am-${readable ? `${readable}-` : ''}${hash(groupKey)}`;
}

export function eventIncidentKey(dedupKey: string): string {
  return SAFE_KEY.test(dedupKey) ? `ev-${dedupKey}` : `ev-${slug([dedupKey]).slice(0, 60)}-${hash(dedupKey)}`;
}

export function ruleDedupKey(rule: GroupingRule, labels: Labels): string {
  const values = rule.by.map((name) => labels[name] ?? '');
  const identity = `${rule.name}\u0000${rule.by.map((name, index) => `${name}=${values[index]}`).join('\u0000')}`;
  return `grp-${slug([rule.name, ...values])}-${hash(identity)}`;
}

/** Splits a delivery's alerts by incident: the first matching rule's key, else `fallbackKey`. */
export function groupAlerts(alerts: IncomingAlert[], rules: readonly GroupingRule[], fallbackKey: string): Map<string, IncomingAlert[]> {
  const groups = new Map<string, IncomingAlert[]>();
  for (const alert of alerts) {
    const rule = rules.find((candidate) => matchesAll(candidate.matchers, alert.labels));
    const key = rule ? ruleDedupKey(rule, alert.labels) : fallbackKey;
    const group = groups.get(key);
    if (group) group.push(alert);
    else groups.set(key, [alert]);
  }
  return groups;
}
