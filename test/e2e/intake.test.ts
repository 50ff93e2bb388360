import { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy, type Policy } from '../../src/config/policy.js';
import { signBody } from '../../src/webhooks/auth.js';
import type { WebhookServer } from '../../src/webhooks/server.js';
import { statusQuery } from '../../workflows/incident.js';
import { alertmanagerPayload } from '../support/alertmanager-payloads.js';
import { statusWhen } from '../support/incidents.js';
import { startIntakeServer } from '../support/intake-server.js';
import { connectNative, connectStack, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const TOKEN = 'intake-test-token-0123456789';
const SECRET = 'intake-test-hmac-secret-0123456789';

describe('alert intake', () => {
  let clients: StackClients;
  let proxy: TcpProxy;
  let connection: NativeConnection;
  let app: WebhookServer;
  let base: string;
  let worker: { stop(): Promise<void> };
  const taskQueue = uniqueTaskQueue('intake');
  const unique = taskQueue.slice(-8);

  beforeAll(async () => {
    clients = await connectStack();
    const policy: Policy = parsePolicy(
      { grouping: { rules: [{ name: 'per-service', matchers: ['alertname="DiskFull"'], by: ['alertname', 'service'] }] } },
      'test',
    );
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ policy })));
    const [host, port] = testStack().temporalAddress.split(':');
    proxy = new TcpProxy(host!, Number(port));
    await proxy.start();
    // The transport the webhook server runs on (src/clients/temporal.ts): the SDK's native client.
    connection = await connectNative(proxy.address);
    ({ app, base } = await startIntakeServer({
      temporal: new Client({ connection }),
      temporalConnection: connection,
      pool: clients.pool,
      intake: { taskQueue, webhookToken: TOKEN, hmacSecret: SECRET, grouping: policy.grouping.rules, temporalTimeoutMs: 1500 },
    }));
  });

  afterAll(async () => {
    await app.close();
    await connection.close();
    await proxy.cut();
    await worker.stop();
    await clients.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('turns an Alertmanager delivery into an incident and answers 202 with its ID', async () => {
    const payload = alertmanagerPayload(`{}:{alertname="HighErrorRate", run="${unique}"}`, [{ fingerprint: 'a1' }, { fingerprint: 'a2', labels: { pod: 'b' } }]);
    const response = await post('/webhooks/alertmanager', payload);
    expect(response.status).toBe(202);
    const body = (await response.json()) as { incidents: string[]; alerts: number };
    expect(body.alerts).toBe(2);
    expect(body.incidents).toHaveLength(1);
    expect(body.incidents[0]).toMatch(/^incident-am-HighErrorRate-[0-9a-f]{12}$/);

    const handle = clients.client.workflow.getHandle(body.incidents[0]!);
    const status = await statusWhen(handle, (s) => s.alerts.length === 2);
    expect(status).toMatchObject({ severity: 'critical', service: 'checkout', title: 'Checkout error ratio above 5%' });
  });

  it('makes one incident of the same group sent by two Alertmanagers, twice each, out of order', async () => {
    const groupKey = `{}:{alertname="HighErrorRate", ha="${unique}"}`;
    const fromA = alertmanagerPayload(groupKey, [{ fingerprint: 'h1' }]);
    const fromB = { ...fromA, externalURL: 'http://alertmanager-b:9093' };
    const resolvedA = alertmanagerPayload(groupKey, [{ fingerprint: 'h1', status: 'resolved' }]);
    const answers = await Promise.all([fromA, fromB, fromA, fromB].map((payload) => post('/webhooks/alertmanager', payload)));
    const ids = await Promise.all(answers.map(async (answer) => ((await answer.json()) as { incidents: string[] }).incidents[0]));
    expect(new Set(ids).size).toBe(1);
    const handle = clients.client.workflow.getHandle(ids[0]!);
    await statusWhen(handle, (s) => s.alerts.length === 1);
    // B's resolution arrives, then a late copy of A's firing: nothing reopens or refires.
    expect((await post('/webhooks/alertmanager', resolvedA)).status).toBe(202);
    await statusWhen(handle, (s) => s.alerts[0]?.status === 'resolved');
    expect((await post('/webhooks/alertmanager', fromA)).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const status = await handle.query(statusQuery);
    expect(status.alerts).toHaveLength(1);
    expect(status.alerts[0]?.status).toBe('resolved');
  });

  it('splits a delivery by the policy grouping rules', async () => {
    const payload = alertmanagerPayload(`{}:{alertname="DiskFull", split="${unique}"}`, [
      { fingerprint: 'd1', labels: { alertname: 'DiskFull', service: `db-${unique}` } },
      { fingerprint: 'd2', labels: { alertname: 'DiskFull', service: `cache-${unique}` } },
      { fingerprint: 'd3', labels: { alertname: 'DiskFull', service: `db-${unique}`, instance: 'x' } },
    ]);
    const body = (await (await post('/webhooks/alertmanager', payload)).json()) as { incidents: string[] };
    expect(body.incidents).toHaveLength(2);
    expect(body.incidents.every((id) => id.startsWith('incident-grp-per-service-DiskFull-'))).toBe(true);
  });

  it('refuses a payload with a bad field, naming it, and keeps the refusal for operators', async () => {
    const payload = alertmanagerPayload(`{}:{bad="${unique}"}`, [{ fingerprint: 'x' }]);
    (payload.alerts[0] as { status: string }).status = 'burning';
    const response = await post('/webhooks/alertmanager', payload);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string };
    expect(body.error).toBe('alerts[0].status: expected "firing" or "resolved"');
    // The refusal is recorded after the answer: wait for it.
    const refusals = async () =>
      (
        await clients.pool.query(`SELECT route, status, reason, body_prefix FROM rejected_deliveries WHERE body_prefix LIKE $1`, [
          `%bad=\\\\"${unique}%`,
        ])
      ).rows;
    await expect.poll(async () => (await refusals()).length).toBe(1);
    const rows = await refusals();
    expect(rows[0]).toMatchObject({ route: '/webhooks/alertmanager', status: 400, reason: body.error });
    expect(rows[0].body_prefix.length).toBeLessThanOrEqual(1024);
    expect(JSON.stringify(rows[0])).not.toContain(TOKEN);
  });

  it('answers 400 for a wrong version and for a body that is not an object', async () => {
    const old = await post('/webhooks/alertmanager', alertmanagerPayload('{}:{v="3"}', [{ fingerprint: 'x' }], { version: '3' }));
    expect(old.status).toBe(400);
    expect(((await old.json()) as { error: string }).error).toBe('version: expected "4" (Alertmanager webhook payload version)');
    const array = await post('/webhooks/alertmanager', '[1,2]');
    expect(array.status).toBe(400);
  });

  it('refuses missing and wrong credentials with 401', async () => {
    const payload = alertmanagerPayload('{}:{auth="x"}', [{ fingerprint: 'x' }]);
    expect((await post('/webhooks/alertmanager', payload, {})).status).toBe(401);
    expect((await post('/webhooks/alertmanager', payload, { authorization: 'Bearer wrong-token-of-some-length' })).status).toBe(401);
    expect((await post('/webhooks/alertmanager', payload, { authorization: `Basic ${TOKEN}` })).status).toBe(401);
  });

  it('takes generic events by bearer token or HMAC signature, and refuses stale or forged signatures', async () => {
    const event = {
      event_action: 'trigger',
      dedup_key: `disk-${unique}`,
      payload: { summary: 'Disk 95% full on db-1', source: 'db-1', severity: 'error', component: 'postgres', custom_details: { service: 'orders' } },
    };
    const bearer = await post('/webhooks/events', event);
    expect(bearer.status).toBe(202);
    expect(await bearer.json()).toEqual({
      status: 'success',
      message: 'Event processed',
      dedup_key: `disk-${unique}`,
      incidents: [`incident-ev-disk-${unique}`],
    });

    const raw = JSON.stringify({ ...event, dedup_key: `signed-${unique}` });
    const now = Math.floor(Date.now() / 1000);
    expect((await post('/webhooks/events', raw, { 'x-ops-signature': signBody(SECRET, now, raw) })).status).toBe(202);
    const stale = await post('/webhooks/events', raw, { 'x-ops-signature': signBody(SECRET, now - 301, raw) });
    expect(stale.status).toBe(401);
    expect(((await stale.json()) as { error: string }).error).toBe('signature timestamp is outside the 5-minute window');
    const forged = await post('/webhooks/events', raw, { 'x-ops-signature': signBody('another-secret-of-enough-length', now, raw) });
    expect(forged.status).toBe(401);
    const tampered = await post('/webhooks/events', raw.replace('95%', '99%'), { 'x-ops-signature': signBody(SECRET, now, raw) });
    expect(tampered.status).toBe(401);

    const handle = clients.client.workflow.getHandle(`incident-ev-disk-${unique}`);
    const status = await statusWhen(handle, (s) => s.alerts.length === 1);
    expect(status).toMatchObject({ severity: 'high', service: 'orders', title: 'Disk 95% full on db-1' });
  });

  it('acknowledges and resolves an incident by event, and ignores those for no open incident', async () => {
    const dedup = `ackres-${unique}`;
    const trigger = { event_action: 'trigger', dedup_key: dedup, client: 'nagios', payload: { summary: 'Queue stuck', source: 'mq-1', severity: 'warning' } };
    expect((await post('/webhooks/events', trigger)).status).toBe(202);
    const handle = clients.client.workflow.getHandle(`incident-ev-${dedup}`);
    await statusWhen(handle, (s) => s.alerts.length === 1);

    expect((await post('/webhooks/events', { event_action: 'acknowledge', dedup_key: dedup, client: 'nagios' })).status).toBe(202);
    await statusWhen(handle, (s) => s.state === 'acknowledged' && s.acknowledgedBy === 'events:nagios');
    expect((await post('/webhooks/events', { event_action: 'resolve', dedup_key: dedup })).status).toBe(202);
    await statusWhen(handle, (s) => s.state === 'resolved');

    const unknown = await post('/webhooks/events', { event_action: 'acknowledge', dedup_key: `nothing-${unique}` });
    expect(unknown.status).toBe(202);
    expect(await unknown.json()).toMatchObject({ status: 'ignored', incidents: [] });
  });

  it('names what a generic event lacks', async () => {
    const noPayload = await post('/webhooks/events', { event_action: 'trigger', dedup_key: 'x' });
    expect(noPayload.status).toBe(400);
    expect(((await noPayload.json()) as { error: string }).error).toBe('payload: is required for a trigger');
    const noKey = await post('/webhooks/events', { event_action: 'resolve' });
    expect(((await noKey.json()) as { error: string }).error).toBe('dedup_key: is required for resolve');
    const badSeverity = await post('/webhooks/events', { event_action: 'trigger', payload: { summary: 's', source: 'x', severity: 'urgent' } });
    expect(((await badSeverity.json()) as { error: string }).error).toBe('payload.severity: expected critical, error, warning or info');
  });

  it('answers 415 for non-JSON and 413 over 1 MiB', async () => {
    expect((await post('/webhooks/alertmanager', 'a=b', { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' })).status).toBe(415);
    const huge = alertmanagerPayload('{}:{huge="1"}', [{ fingerprint: 'x', labels: { pad: 'x'.repeat(1024 * 1024) } }]);
    expect((await post('/webhooks/alertmanager', huge)).status).toBe(413);
  });

  it('answers 503 while Temporal cannot be reached, so the sender retries, and accepts again after', async () => {
    const payload = alertmanagerPayload(`{}:{outage="${unique}"}`, [{ fingerprint: 'o1' }]);
    await proxy.cut();
    try {
      const response = await post('/webhooks/alertmanager', payload);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(((await response.json()) as { error: string }).error).toMatch(/^Temporal is unavailable, retry later/);
    } finally {
      await proxy.restore();
    }
    await expect.poll(async () => (await post('/webhooks/alertmanager', payload)).status, { timeout: 20_000, interval: 500 }).toBe(202);
    await expect
      .poll(async () => (await clients.pool.query(`SELECT status FROM rejected_deliveries WHERE body_prefix LIKE $1`, [`%outage=\\\\"${unique}%`])).rows)
      .toContainEqual({ status: 503 });
  });

  it('counts accepted alerts and deliveries by route and status on /metrics', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/ops_intake_alerts_accepted_total\{route="alertmanager"\} \d+/);
    expect(text).toMatch(/ops_http_requests_total\{route="\/webhooks\/alertmanager",method="POST",status="202"\} \d+/);
    expect(text).toMatch(/ops_http_requests_total\{route="\/webhooks\/alertmanager",method="POST",status="401"\} 3/);
    expect(text).toMatch(/ops_http_request_duration_seconds_count\{route="\/webhooks\/events",method="POST"\} \d+/);
  });
});
