import { describe, expect, it } from 'vitest';
import type { IncomingAlert } from '../../src/domain/alerts.js';
import {
  acknowledge,
  allAlertsResolved,
  applyAlerts,
  isMuted,
  newIncident,
  resolve,
  validateAcknowledge,
  validateNote,
  validateResolve,
} from '../../src/domain/incident.js';
import { DEFAULT_SEVERITY_POLICY, parseSeverity, severityOf } from '../../src/domain/severity.js';
import { parseMatcher, type Matcher } from '../../src/domain/matchers.js';

const rules = { severity: DEFAULT_SEVERITY_POLICY };
const at = '2026-11-23T12:00:00.000Z';
const firing = (fingerprint: string, labels: Record<string, string> = {}, startsAt = '2026-11-23T11:00:00Z'): IncomingAlert => ({
  fingerprint,
  status: 'firing',
  labels: { alertname: 'Test', ...labels },
  annotations: {},
  startsAt,
});
const resolved = (fingerprint: string, startsAt = '2026-11-23T11:00:00Z'): IncomingAlert => ({ ...firing(fingerprint, {}, startsAt), status: 'resolved' });
const matcher = (text: string) => parseMatcher(text) as Matcher;

describe('severity', () => {
  it.each([
    ['critical', 'critical'],
    ['P0', 'critical'],
    ['error', 'high'],
    ['P1', 'high'],
    ['warning', 'medium'],
    ['P2', 'medium'],
    ['info', 'low'],
    ['P4', 'low'],
    ['bogus', undefined],
  ])('reads %s as %s', (label, expected) => expect(parseSeverity(label)).toBe(expected));

  it('uses an override by service or alertname first, then severity, then priority, then the default', () => {
    const policy = { defaultSeverity: 'low' as const, overrides: [{ matchers: [matcher('service="payments"')], severity: 'critical' as const }] };
    expect(severityOf({ service: 'payments', severity: 'info' }, policy)).toBe('critical');
    expect(severityOf({ severity: 'warning', priority: 'P0' }, policy)).toBe('medium');
    expect(severityOf({ priority: 'P1' }, policy)).toBe('high');
    expect(severityOf({}, policy)).toBe('low');
  });
});

describe('incident rules', () => {
  it('opens on the first alert with its title, service and severity', () => {
    const state = newIncident('k', 'alertmanager', at);
    const events = applyAlerts(state, [firing('a', { service: 'api', severity: 'critical' })], at, rules);
    expect(events.map((event) => event.kind)).toEqual(['opened', 'alert-firing']);
    expect(state).toMatchObject({ title: 'Test', service: 'api', severity: 'critical', phase: 'triggered' });
  });

  it('is idempotent: the same delivery twice changes nothing the second time', () => {
    const state = newIncident('k', 'alertmanager', at);
    applyAlerts(state, [firing('a'), firing('b')], at, rules);
    const before = JSON.stringify(state);
    expect(applyAlerts(state, [firing('a'), firing('b')], at, rules)).toEqual([]);
    expect(JSON.stringify(state)).toBe(before);
  });

  it('ignores a late copy of a firing that has resolved, and a resolution of an older firing', () => {
    const state = newIncident('k', 'alertmanager', at);
    applyAlerts(state, [firing('a')], at, rules);
    applyAlerts(state, [resolved('a')], at, rules);
    expect(applyAlerts(state, [firing('a')], at, rules)).toEqual([]);
    expect(state.alerts.a?.status).toBe('resolved');

    applyAlerts(state, [firing('a', {}, '2026-11-23T11:30:00Z')], at, rules);
    expect(state.alerts.a?.status).toBe('firing');
    expect(applyAlerts(state, [resolved('a', '2026-11-23T11:00:00Z')], at, rules)).toEqual([]);
    expect(state.alerts.a?.status).toBe('firing');
  });

  it('reopens a resolved incident when an alert fires again, clearing the acknowledgement', () => {
    const state = newIncident('k', 'alertmanager', at);
    applyAlerts(state, [firing('a')], at, rules);
    acknowledge(state, 'alice', at);
    resolve(state, 'alice', at);
    const events = applyAlerts(state, [firing('b')], at, rules);
    expect(events.map((event) => event.kind)).toEqual(['alert-firing', 'reopened']);
    expect(state).toMatchObject({ phase: 'triggered', reopenCount: 1 });
    expect(state.acknowledgedBy).toBeUndefined();
  });

  it('raises and lowers severity with the highest firing alert, as events', () => {
    const state = newIncident('k', 'alertmanager', at);
    applyAlerts(state, [firing('a', { severity: 'warning' })], at, rules);
    expect(applyAlerts(state, [firing('b', { severity: 'critical' })], at, rules).at(-1)?.text).toBe('severity raised from medium to critical');
    expect(applyAlerts(state, [resolved('b')], at, rules).at(-1)?.text).toBe('severity lowered from critical to medium');
  });

  it('is muted only while every firing alert is muted', () => {
    const state = newIncident('k', 'alertmanager', at);
    applyAlerts(state, [firing('a')], at, rules, { a: 'maintenance window "x"' });
    expect(isMuted(state)).toBe(true);
    applyAlerts(state, [firing('b')], at, rules);
    expect(isMuted(state)).toBe(false);
  });

  it('knows when every alert has resolved', () => {
    const state = newIncident('k', 'alertmanager', at);
    expect(allAlertsResolved(state)).toBe(false);
    applyAlerts(state, [firing('a'), firing('b')], at, rules);
    applyAlerts(state, [resolved('a')], at, rules);
    expect(allAlertsResolved(state)).toBe(false);
    applyAlerts(state, [resolved('b')], at, rules);
    expect(allAlertsResolved(state)).toBe(true);
  });

  it('validates who may acknowledge, resolve and note', () => {
    const state = newIncident('k', 'alertmanager', at);
    expect(validateAcknowledge(state, '')).toBe('an actor ("by") is required');
    expect(validateAcknowledge(state, 'alice')).toBeUndefined();
    acknowledge(state, 'alice', at);
    expect(validateAcknowledge(state, 'bob')).toBe('incident is already acknowledged by alice');
    resolve(state, 'bob', at);
    expect(validateResolve(state, 'carol')).toBe('incident is already resolved by bob');
    expect(validateNote('carol', '')).toBe('a note needs text');
    expect(validateNote('carol', 'ok')).toBeUndefined();
  });
});
