import { describe, expect, it } from 'vitest';
import {
  applyAlerts,
  applyEscalationProgress,
  carryOver,
  incidentRow,
  incidentStatus,
  startIncidentRun,
  validateEscalate,
  type IncidentRun,
} from '../../src/domain/incident.js';
import { DEFAULT_SEVERITY_POLICY } from '../../src/domain/severity.js';

const at = '2026-11-23T12:00:00.000Z';
const ids = { incidentId: 'incident-ev-x/run', workflowId: 'incident-ev-x' };

function firingRun(): IncidentRun {
  const run = startIncidentRun({ dedupKey: 'ev-x', source: 'events' }, at);
  applyAlerts(run.state, [{ fingerprint: 'f1', status: 'firing', labels: { alertname: 'DiskFull', severity: 'critical', service: 'db' }, annotations: {} }], at, { severity: DEFAULT_SEVERITY_POLICY });
  return run;
}

describe('the incident run state', () => {
  it('carries what the next run needs across continue-as-new, long lists cut to their newest entries', () => {
    const run = firingRun();
    run.slack = { channel: 'C0INCIDENTS', ts: '1700000000.000100' };
    for (let index = 0; index < 60; index += 1) run.notifications.push({ at, channel: 'slack', target: 'C0INCIDENTS', kind: 'thread', providerId: `ts-${index}` });
    for (let index = 0; index < 25; index += 1) run.children.push({ workflowId: `child-${index}`, type: 'escalationWorkflow', outcome: 'acknowledged' });
    run.escalations = 25;

    const carried = JSON.parse(JSON.stringify(carryOver(run))) as ReturnType<typeof carryOver>;
    expect(carried.notifications.map((entry) => entry.providerId)).toEqual(Array.from({ length: 50 }, (_, index) => `ts-${index + 10}`));
    expect(carried.children?.map((entry) => entry.workflowId)[0]).toBe('child-5');
    expect(carried).not.toHaveProperty('unpersisted');

    const next = startIncidentRun({ dedupKey: 'ev-x', carried }, '2026-11-23T13:00:00.000Z');
    expect(next.escalations).toBe(25);
    expect(next.slack).toEqual(run.slack);
    expect(incidentStatus(next, ids)).toMatchObject({ severity: 'critical', service: 'db', state: 'triggered', openedAt: at, alerts: [{ fingerprint: 'f1' }] });
    expect(incidentRow(next.state)).toMatchObject({ dedupKey: 'ev-x', phase: 'triggered', muted: false, lastSeq: next.state.nextSeq - 1 });
  });

  it('refuses to escalate with the reason: no actor, no ladder, a finished or exhausted one, an acknowledged incident', () => {
    const run = firingRun();
    expect(validateEscalate(run, ' ')).toBe('an actor ("by") is required');
    expect(validateEscalate(run, 'alice')).toBe('incident has no escalation running');
    run.escalation = { workflowId: 'ladder-1', policy: 'default', exhausted: false, pages: [] };
    expect(validateEscalate(run, 'alice')).toBeUndefined();
    run.escalation.exhausted = true;
    expect(validateEscalate(run, 'alice')).toBe('the escalation ladder has no level left');
    run.escalation.finished = 'acknowledged';
    expect(validateEscalate(run, 'alice')).toBe('incident has no escalation running');
    run.state.phase = 'acknowledged';
    expect(validateEscalate(run, 'alice')).toBe('incident is acknowledged; only a triggered incident escalates');
  });

  it('takes progress only from its current ladder, and a page delivered after retries updates its entry in status', () => {
    const run = firingRun();
    run.escalation = { workflowId: 'ladder-2', policy: 'default', exhausted: false, pages: [] };
    expect(applyEscalationProgress(run, { kind: 'exhausted', workflowId: 'ladder-1', at }, at)).toBeUndefined();
    expect(run.escalation.exhausted).toBe(false);

    const page = { target: 'slack:C0ONCALL', channel: 'slack', outcome: 'retrying' as const, error: 'Slack answers 503' };
    const first = applyEscalationProgress(run, { kind: 'level', workflowId: 'ladder-2', cycle: 0, level: 1, at, pages: [page] }, at);
    expect(first?.map((event) => event.text)).toEqual(['level 1: could not page slack:C0ONCALL yet, retrying until it gets through: Slack answers 503']);
    const late = applyEscalationProgress(run, { kind: 'page', workflowId: 'ladder-2', cycle: 0, level: 1, at, page: { ...page, outcome: 'delivered' } }, at);
    expect(late?.map((event) => event.text)).toEqual(['level 1: paged slack:C0ONCALL (after retries)']);
    expect(incidentStatus(run, ids).escalation?.pages).toEqual([{ target: 'slack:C0ONCALL', channel: 'slack', outcome: 'delivered', error: undefined, at, level: 1 }]);
  });
});
