import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { OpsKind, OpsService, OpsSeverity, OpsStatus } from '../../src/domain/search-attributes.js';
import { acknowledgeUpdate, addNoteUpdate, resolveUpdate, statusQuery } from '../../workflows/incident.js';
import { alert, batch, deliver, statusWhen } from '../support/incidents.js';
import { connectStack, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/** The validator's message of a rejected update. */
async function rejection(update: Promise<unknown>): Promise<string> {
  try {
    await update;
  } catch (error) {
    expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
    return String((error as WorkflowUpdateFailedError).cause?.message);
  }
  throw new Error('the update was accepted');
}

/**
 * The incident lifecycle on a real Temporal server and PostgreSQL, with a
 * policy whose quiet period and reopen window are short enough to watch.
 */
describe('incidentWorkflow', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  const taskQueue = uniqueTaskQueue('incident');
  const key = (name: string) => `${name}-${taskQueue.slice(-8)}`;

  beforeAll(async () => {
    clients = await connectStack();
    const policy = parsePolicy(
      {
        incidents: { quietPeriod: '2s', reopenWindow: '4s' },
        severity: { overrides: [{ matchers: ['service="payments"'], severity: 'critical' }] },
        maintenanceWindows: [
          { name: 'db-upgrade', matchers: ['service="db"'], start: '2026-01-01T00:00:00Z', end: '2099-01-01T00:00:00Z' },
        ],
        inhibitRules: [
          { name: 'down-mutes-latency', sourceMatchers: ['alertname="ServiceDown"'], targetMatchers: ['alertname="HighLatency"'], equal: ['service'] },
        ],
      },
      'test',
    );
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ policy })));
  });

  afterAll(async () => {
    await worker.stop();
    await clients.close();
  });

  it('opens one incident holding each alert once, however often it is delivered', async () => {
    const dedupKey = key('dup');
    const delivery = batch([alert('fp1', 'firing', { service: 'api', severity: 'warning' }), alert('fp2', 'firing', { service: 'api', severity: 'warning' })]);
    const handles = await Promise.all(Array.from({ length: 10 }, () => deliver(clients.client, taskQueue, dedupKey, delivery)));
    expect(new Set(handles.map((handle) => handle.signaledRunId)).size).toBe(1);

    const status = await statusWhen(handles[0]!, (s) => s.alerts.length === 2 && s.timeline.length >= 3);
    expect(status).toMatchObject({ state: 'triggered', severity: 'medium', service: 'api', title: 'HighErrorRate' });
    expect(status.alerts.map((a) => a.fingerprint).sort()).toEqual(['fp1', 'fp2']);
    expect(status.timeline.filter((event) => event.kind === 'alert-firing')).toHaveLength(2);

    await expect
      .poll(async () => (await handles[0]!.describe()).typedSearchAttributes.get(OpsStatus), { timeout: 10_000 })
      .toBe('triggered');
    const description = await handles[0]!.describe();
    expect(description.typedSearchAttributes.get(OpsKind)).toBe('incident');
    expect(description.typedSearchAttributes.get(OpsSeverity)).toBe('medium');
    expect(description.typedSearchAttributes.get(OpsService)).toBe('api');
    expect(await description.memo).toMatchObject({ summary: 'MEDIUM HighErrorRate (api)' });

    await expect
      .poll(async () => (await clients.pool.query('SELECT status, severity, service FROM incidents WHERE workflow_id = $1', [`incident-${dedupKey}`])).rows)
      .toEqual([{ status: 'triggered', severity: 'medium', service: 'api' }]);
  });

  it('acknowledges and resolves through validated updates, and refuses invalid ones without a trace', async () => {
    const handle = await deliver(clients.client, taskQueue, key('ack'), batch([alert('a1', 'firing', { service: 'api', severity: 'high' })]));
    await statusWhen(handle, (s) => s.alerts.length === 1);

    expect(await rejection(handle.executeUpdate(acknowledgeUpdate, { args: [{ by: '  ' }] }))).toBe('an actor ("by") is required');
    const acked = await handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'alice' }] });
    expect(acked).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'alice' });
    expect(await rejection(handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'bob' }] }))).toBe(
      'incident is already acknowledged by alice',
    );

    const noted = await handle.executeUpdate(addNoteUpdate, { args: [{ by: 'alice', text: 'restarting the api pods' }] });
    expect(noted.timeline.at(-1)).toMatchObject({ actor: 'alice', kind: 'note', text: 'restarting the api pods' });

    const resolved = await handle.executeUpdate(resolveUpdate, { args: [{ by: 'alice', note: 'rolled back' }] });
    expect(resolved).toMatchObject({ state: 'resolved', resolvedBy: 'alice' });
    expect(await rejection(handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'carol' }] }))).toBe(
      'incident is resolved (by alice); it cannot be acknowledged',
    );
    expect(await rejection(handle.executeUpdate(addNoteUpdate, { args: [{ by: 'carol', text: ' ' }] }))).toBe('a note needs text');

    // Rejected updates leave nothing in the history; the accepted ones do.
    const history = await handle.fetchHistory();
    const accepted = (history.events ?? []).filter((event) => event.workflowExecutionUpdateAcceptedEventAttributes);
    expect(accepted).toHaveLength(3);

    await expect
      .poll(async () => (await clients.pool.query('SELECT actor, action FROM audit_events WHERE target = $1 ORDER BY id', [handle.workflowId])).rows, {
        timeout: 10_000,
      })
      .toEqual([
        { actor: 'alice', action: 'incident.acknowledge' },
        { actor: 'alice', action: 'incident.add-note' },
        { actor: 'alice', action: 'incident.resolve' },
      ]);
    const { rows } = await clients.pool.query(
      `SELECT acknowledged_by, resolved_by, acknowledged_at >= opened_at AS mtta_ok, resolved_at >= acknowledged_at AS mttr_ok
         FROM incidents WHERE workflow_id = $1`,
      [handle.workflowId],
    );
    expect(rows).toEqual([{ acknowledged_by: 'alice', resolved_by: 'alice', mtta_ok: true, mttr_ok: true }]);
  });

  it('resolves by itself once every alert stays resolved for the quiet period, and closes after the reopen window', async () => {
    const handle = await deliver(clients.client, taskQueue, key('quiet'), batch([alert('q1', 'firing', { service: 'api' })]));
    await statusWhen(handle, (s) => s.alerts.length === 1);
    const resolvedAt = Date.now();
    await deliver(clients.client, taskQueue, key('quiet'), batch([alert('q1', 'resolved', { service: 'api' })]));
    const status = await statusWhen(handle, (s) => s.state === 'resolved');
    expect(Date.now() - resolvedAt).toBeGreaterThanOrEqual(1900);
    expect(status).toMatchObject({ resolvedBy: 'system' });
    expect(status.timeline.find((event) => event.kind === 'resolved')?.text).toMatch(/quiet period/);
    const result = await handle.result();
    expect(result.state).toBe('resolved');
    // Before it closed, it wrote its post-mortem draft.
    expect(result.timeline.at(-1)).toMatchObject({ kind: 'postmortem', text: expect.stringMatching(/^post-mortem draft: s3:\/\//) });
  });

  it('resolves when its Alertmanager group resolves, whichever alerts max_alerts left out of the notification', async () => {
    const group = { labels: { alertname: 'HighErrorRate', service: 'api' }, truncatedAlerts: 1 };
    const firing = ['t1', 't2', 't3'].map((fingerprint) => alert(fingerprint, 'firing', { service: 'api', instance: fingerprint }));
    const handle = await deliver(clients.client, taskQueue, key('truncated'), batch(firing, { group: { status: 'firing', ...group } }));
    const seen = await statusWhen(handle, (s) => s.alerts.length === 3);
    expect(seen.timeline.map((event) => event.text)).toContain('Alertmanager left out 1 alert of this group (max_alerts); the incident follows the group');
    // The resolved notification lists three of the four again, not the same three: t1 is left out this time.
    const listed = ['t2', 't3', 't4'].map((fingerprint) => alert(fingerprint, 'resolved', { service: 'api', instance: fingerprint }));
    await deliver(clients.client, taskQueue, key('truncated'), batch(listed, { group: { status: 'resolved', ...group } }));
    const status = await statusWhen(handle, (s) => s.state === 'resolved');
    expect(status.alerts.filter((entry) => entry.status === 'firing')).toEqual([]);
    expect(status.resolvedBy).toBe('system');
  });

  it('does not resolve a flapping alert that fires again within the quiet period', async () => {
    const handle = await deliver(clients.client, taskQueue, key('flap'), batch([alert('f1', 'firing', { service: 'api' }, '2026-11-23T10:00:00Z')]));
    await statusWhen(handle, (s) => s.alerts.length === 1);
    await deliver(clients.client, taskQueue, key('flap'), batch([alert('f1', 'resolved', { service: 'api' }, '2026-11-23T10:00:00Z')]));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await deliver(clients.client, taskQueue, key('flap'), batch([alert('f1', 'firing', { service: 'api' }, '2026-11-23T10:01:00Z')]));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const status = await handle.query(statusQuery);
    expect(status.state).toBe('triggered');
    expect(status.alerts[0]?.status).toBe('firing');
  });

  it('reopens when an alert fires again within the reopen window, but not for a late copy of a resolved firing', async () => {
    const dedupKey = key('reopen');
    const handle = await deliver(clients.client, taskQueue, dedupKey, batch([alert('r1', 'firing', { service: 'api' }, '2026-11-23T10:00:00Z')]));
    await statusWhen(handle, (s) => s.alerts.length === 1);
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'alice' }] });
    // The resolved alert, then a late copy of the same firing from a second Alertmanager.
    await deliver(clients.client, taskQueue, dedupKey, batch([alert('r1', 'resolved', { service: 'api' }, '2026-11-23T10:00:00Z')]));
    await deliver(clients.client, taskQueue, dedupKey, batch([alert('r1', 'firing', { service: 'api' }, '2026-11-23T10:00:00Z')]));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await handle.query(statusQuery)).state).toBe('resolved');

    await deliver(clients.client, taskQueue, dedupKey, batch([alert('r1', 'firing', { service: 'api' }, '2026-11-23T11:00:00Z')]));
    const reopened = await statusWhen(handle, (s) => s.state === 'triggered');
    expect(reopened.reopenCount).toBe(1);
    expect(reopened.timeline.map((event) => event.kind)).toContain('reopened');
  });

  it('takes severity from the highest firing alert and records a rise; policy overrides win', async () => {
    const handle = await deliver(clients.client, taskQueue, key('sev'), batch([alert('s1', 'firing', { service: 'api', severity: 'warning' })]));
    await statusWhen(handle, (s) => s.severity === 'medium');
    await deliver(clients.client, taskQueue, key('sev'), batch([alert('s2', 'firing', { service: 'api', severity: 'P0' })]));
    const raised = await statusWhen(handle, (s) => s.severity === 'critical');
    expect(raised.timeline.find((event) => event.kind === 'severity-changed')?.text).toBe('severity raised from medium to critical');

    const override = await deliver(clients.client, taskQueue, key('sev-override'), batch([alert('o1', 'firing', { service: 'payments', severity: 'info' })]));
    expect((await statusWhen(override, (s) => s.alerts.length === 1)).severity).toBe('critical');
  });

  it('records alerts muted by a maintenance window or an inhibiting alert, and pages nobody for them', async () => {
    const windowed = await deliver(clients.client, taskQueue, key('mw'), batch([alert('m1', 'firing', { service: 'db' })]));
    const muted = await statusWhen(windowed, (s) => s.alerts.length === 1);
    expect(muted.muted).toBe(true);
    expect(muted.alerts[0]?.mutedBy).toBe('maintenance window "db-upgrade"');

    const down = await deliver(clients.client, taskQueue, key('down'), batch([alert('d1', 'firing', { alertname: 'ServiceDown', service: 'checkout' })]));
    await statusWhen(down, (s) => s.alerts.length === 1);
    await expect
      .poll(
        async () =>
          (await clients.pool.query(`SELECT 1 FROM incident_alerts WHERE incident_id LIKE $1 AND status = 'firing'`, [`${down.workflowId}/%`])).rowCount,
        { timeout: 10_000 },
      )
      .toBe(1);
    const latency = await deliver(clients.client, taskQueue, key('latency'), batch([alert('l1', 'firing', { alertname: 'HighLatency', service: 'checkout' })]));
    const inhibited = await statusWhen(latency, (s) => s.alerts.length === 1);
    expect(inhibited.alerts[0]?.mutedBy).toBe('inhibited by ServiceDown (rule "down-mutes-latency")');
    expect(inhibited.timeline.map((event) => event.kind)).toContain('alert-muted');

    const otherService = await deliver(clients.client, taskQueue, key('latency-other'), batch([alert('l2', 'firing', { alertname: 'HighLatency', service: 'search' })]));
    expect((await statusWhen(otherService, (s) => s.alerts.length === 1)).muted).toBe(false);
  });

  it('continues as new when its history grows, carrying every alert and the timeline', async () => {
    const dedupKey = key('can');
    // 20 signals alone make a history longer than 20 events, however the worker batches them.
    const first = await deliver(clients.client, taskQueue, dedupKey, batch([alert('c0', 'firing', { service: 'api' })]), { historyLimit: 20 });
    for (let index = 1; index <= 19; index += 1) {
      await deliver(clients.client, taskQueue, dedupKey, batch([alert(`c${index}`, 'firing', { service: 'api' })]), { historyLimit: 20 });
    }
    const handle = clients.client.workflow.getHandle(first.workflowId);
    await expect.poll(async () => (await handle.describe()).runId, { timeout: 15_000 }).not.toBe(first.signaledRunId);
    const status = await statusWhen(handle, (s) => s.alerts.length === 20);
    expect(status.incidentId).toBe(`${first.workflowId}/${first.signaledRunId}`);
    expect(status.timeline.filter((event) => event.kind === 'alert-firing')).toHaveLength(20);
  });
});
