import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import type { WebhookServer } from '../../src/webhooks/server.js';
import { TestAlertmanager } from '../support/alertmanager.js';
import { statusWhen } from '../support/incidents.js';
import { startIntakeServer } from '../support/intake-server.js';
import { connectStack, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

const TOKEN = 'alertmanager-e2e-token-0123456789';

/**
 * End to end with a real Alertmanager: alerts posted to its API are grouped by
 * alertname and service, delivered to the intake by its webhook receiver, and
 * become incidents that resolve when Alertmanager sends the resolution.
 */
describe('a real Alertmanager feeding the intake', () => {
  let clients: StackClients;
  let app: WebhookServer;
  let alertmanager: TestAlertmanager;
  /** The same Alertmanager setup with max_alerts: 3, which truncates each notification to three alerts. */
  let truncating: TestAlertmanager;
  let worker: { stop(): Promise<void> };
  const taskQueue = uniqueTaskQueue('alertmanager');
  const unique = taskQueue.slice(-8);

  beforeAll(async () => {
    clients = await connectStack();
    const policy = parsePolicy({ incidents: { quietPeriod: '1s', reopenWindow: '2s' } }, 'test');
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ policy })));
    let base: string;
    ({ app, base } = await startIntakeServer({
      temporal: clients.client,
      temporalConnection: clients.connection,
      pool: clients.pool,
      intake: { taskQueue, webhookToken: TOKEN },
    }));
    const dir = join(testStack().runDir, `alertmanager-${unique}`);
    mkdirSync(dir, { recursive: true });
    alertmanager = new TestAlertmanager(dir, `${base}/webhooks/alertmanager`, TOKEN);
    const truncatingDir = join(dir, 'max-alerts');
    mkdirSync(truncatingDir, { recursive: true });
    truncating = new TestAlertmanager(truncatingDir, `${base}/webhooks/alertmanager`, TOKEN, 3);
    await Promise.all([alertmanager.start(), truncating.start()]);
  });

  afterAll(async () => {
    await Promise.all([alertmanager.stop(), truncating.stop()]);
    await app.close();
    await worker.stop();
    await clients.close();
  });

  const incidentsOf = async (service: string) =>
    (
      await clients.pool.query<{ workflow_id: string; status: string; severity: string; alerts: number }>(
        `SELECT i.workflow_id, i.status, i.severity, count(a.*)::int AS alerts
           FROM incidents i LEFT JOIN incident_alerts a ON a.incident_id = i.id
          WHERE i.service = $1 GROUP BY i.id ORDER BY i.workflow_id`,
        [service],
      )
    ).rows;

  it('groups, delivers and resolves alerts as incidents', async () => {
    const checkout = `checkout-${unique}`;
    const db = `db-${unique}`;
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const alerts = [
      { labels: { alertname: 'HighErrorRate', service: checkout, instance: 'a', severity: 'critical' }, annotations: { summary: 'errors' }, startsAt },
      { labels: { alertname: 'HighErrorRate', service: checkout, instance: 'b', severity: 'warning' }, annotations: { summary: 'errors' }, startsAt },
      { labels: { alertname: 'DiskFull', service: db, instance: 'c', severity: 'warning' }, annotations: { summary: 'disk' }, startsAt },
    ];
    await alertmanager.postAlerts(alerts);

    await expect.poll(() => incidentsOf(checkout), { timeout: 30_000, interval: 500 }).toEqual([
      { workflow_id: expect.stringMatching(new RegExp(`^incident-am-HighErrorRate-${checkout}-[0-9a-f]{12}$`)), status: 'triggered', severity: 'critical', alerts: 2 },
    ]);
    await expect.poll(() => incidentsOf(db), { timeout: 30_000, interval: 500 }).toEqual([
      { workflow_id: expect.stringMatching(/^incident-am-DiskFull-db-/), status: 'triggered', severity: 'medium', alerts: 1 },
    ]);

    // Resolving through Alertmanager: it sends the resolution, the incidents resolve after the quiet period.
    const endsAt = new Date().toISOString();
    await alertmanager.postAlerts(alerts.map((alert) => ({ ...alert, endsAt })));
    await expect.poll(async () => (await incidentsOf(checkout)).map((row) => row.status), { timeout: 30_000, interval: 500 }).toEqual(['resolved']);
    await expect.poll(async () => (await incidentsOf(db)).map((row) => row.status), { timeout: 30_000, interval: 500 }).toEqual(['resolved']);
    const { rows } = await clients.pool.query(`SELECT resolved_by FROM incidents WHERE service = $1`, [checkout]);
    expect(rows).toEqual([{ resolved_by: 'system' }]);
  });

  it('resolves a group Alertmanager truncated with max_alerts, and says how many alerts it left out', async () => {
    const service = `truncated-${unique}`;
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const alerts = ['a', 'b', 'c', 'd'].map((instance) => ({ labels: { alertname: 'NodeDown', service, instance, severity: 'critical' }, annotations: { summary: 'node down' }, startsAt }));
    await truncating.postAlerts(alerts);
    await expect.poll(async () => (await incidentsOf(service)).map((row) => [row.status, row.alerts]), { timeout: 30_000, interval: 500 }).toEqual([['triggered', 3]]);
    const workflowId = (await incidentsOf(service))[0]!.workflow_id;
    const handle = clients.client.workflow.getHandle(workflowId);
    const firing = await statusWhen(handle, (status) => status.timeline.some((event) => event.text.includes('left out')));
    expect(firing.timeline.map((event) => event.text)).toContain('Alertmanager left out 1 alert of this group (max_alerts); the incident follows the group');

    // Two resolve, then the rest: every notification lists at most three, whatever it lists the group's status decides.
    await truncating.postAlerts(alerts.slice(0, 2).map((alert) => ({ ...alert, endsAt: new Date().toISOString() })));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await truncating.postAlerts(alerts.map((alert) => ({ ...alert, endsAt: new Date().toISOString() })));
    await expect.poll(async () => (await incidentsOf(service)).map((row) => row.status), { timeout: 30_000, interval: 500 }).toEqual(['resolved']);
  });
});
