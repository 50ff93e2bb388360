import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createSmtpTransport } from '../../src/clients/smtp.js';
import { parsePolicy } from '../../src/config/policy.js';
import { signAckToken } from '../../src/incidents/ack-token.js';
import { createLogger } from '../../src/logging/logger.js';
import { createReplayGuard } from '../../src/webhooks/replay-guard.js';
import { buildWebhookServer, type WebhookServer } from '../../src/webhooks/server.js';
import type { IncidentStatus } from '../../workflows/incident.js';
import { fakePagerDuty } from '../support/http-recorder.js';
import { alert, batch, deliver, statusWhen } from '../support/incidents.js';
import { SmtpSink, type ReceivedMail } from '../support/smtp-sink.js';
import { connectStack, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

const PD_SECRET = 'pagerduty-webhook-secret-0123456789';
const ACK_SECRET = 'ack-link-secret-0123456789abcdef';
const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';

/** PagerDuty signs the raw body; during a secret rotation it sends one signature per secret. */
function signPagerDuty(body: string, ...secrets: string[]): string {
  return secrets.map((secret) => `v1=${createHmac('sha256', secret).update(body).digest('hex')}`).join(',');
}

/** A Webhooks v3 delivery for an incident, as PagerDuty builds it. */
function webhookEvent(eventType: string, incidentKey: string, agent: { id: string; summary: string } | null, id = `${Math.random()}`.slice(2)) {
  return JSON.stringify({
    event: {
      id: `01${id}`,
      event_type: eventType,
      resource_type: 'incident',
      occurred_at: new Date().toISOString(),
      agent: agent ? { ...agent, type: 'user_reference', self: `https://api.pagerduty.com/users/${agent.id}`, html_url: `https://acme.pagerduty.com/users/${agent.id}` } : null,
      client: null,
      data: {
        id: 'PGR0VU2',
        type: 'incident',
        self: 'https://api.pagerduty.com/incidents/PGR0VU2',
        number: 2,
        status: eventType === 'incident.resolved' ? 'resolved' : 'acknowledged',
        incident_key: incidentKey,
        created_at: new Date().toISOString(),
        title: 'HighErrorRate',
        service: { id: 'PF9KMXH', type: 'service_reference', summary: 'API Service' },
        urgency: 'high',
      },
    },
  });
}

/** The text part of a real message as nodemailer wrote it: quoted-printable decoded. */
function mailText(mail: ReceivedMail): string {
  return mail.raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * Acknowledging from PagerDuty's app (Webhooks v3, signed as PagerDuty signs
 * them) and from the link in an email page (read from a real SMTP capture),
 * through the real webhook server into the real incident workflow.
 */
describe('acknowledge from PagerDuty and from email', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let app: WebhookServer;
  let base = '';
  const pagerduty = fakePagerDuty();
  const mail = new SmtpSink();
  const taskQueue = uniqueTaskQueue('pd-ack');
  const unique = taskQueue.slice(-8);

  beforeAll(async () => {
    clients = await connectStack();
    await Promise.all([pagerduty.start('/v2/enqueue'), mail.start()]);
    const policy = parsePolicy(
      {
        oncall: { people: { alice: { name: 'Alice', email: 'alice@example.com', pagerduty: { userId: 'PALICE1' } } } },
        escalation: { policies: [{ name: 'team', levels: [{ timeout: '10m', targets: [{ type: 'pagerduty' }, { type: 'person', person: 'alice' }] }] }], defaultPolicy: 'team' },
      },
      'test',
    );
    app = buildWebhookServer({
      temporal: clients.client,
      temporalConnection: clients.connection,
      logger: createLogger({ level: 'silent' }),
      pagerduty: { pool: clients.pool, policy, webhookSecret: PD_SECRET, replayGuard: createReplayGuard(clients.pool) },
      ack: { pool: clients.pool, secret: ACK_SECRET },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const secrets: Record<string, string> = { PAGERDUTY_ROUTING_KEY: ROUTING_KEY };
    const activities = createActivities(
      clients.activityDeps({
        policy,
        smtp: createSmtpTransport(mail.url),
        pagerdutyEventsUrl: pagerduty.url,
        secret: (name) => secrets[name],
        ackLinks: { secret: ACK_SECRET, baseUrl: base },
      }),
    );
    worker = await startBackgroundWorker(taskQueue, activities);
  });

  afterAll(async () => {
    await app.close();
    await worker.stop();
    await Promise.all([pagerduty.stop(), mail.stop()]);
    await clients.close();
  });

  const incidentOf = async (name: string) => {
    const handle = await deliver(clients.client, taskQueue, `ev-${name}-${unique}`, batch([alert(`${name}-1`, 'firing', { service: `${name}-${unique}`, severity: 'critical' })]));
    const status = await statusWhen(handle, (s) => (s.escalation?.pages.length ?? 0) >= 2);
    return { handle, incidentId: status.incidentId };
  };
  const deliverWebhook = (body: string, signature = signPagerDuty(body, PD_SECRET)) =>
    fetch(`${base}/webhooks/pagerduty`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-pagerduty-signature': signature }, body });
  const state = async (handle: { query: (name: string) => Promise<unknown> }) => (await handle.query('status')) as IncidentStatus;

  it('acknowledges and resolves ours from PagerDuty, by the PagerDuty user', async () => {
    const { handle, incidentId } = await incidentOf('pd');
    const trigger = pagerduty.requests.find((request) => request.body.dedup_key === incidentId && request.body.event_action === 'trigger');
    expect(trigger).toBeDefined();

    // Alice acknowledges in the app; a rotation sends two signatures, one of them with the new secret.
    const ack = webhookEvent('incident.acknowledged', incidentId, { id: 'PALICE1', summary: 'Alice' });
    const accepted = await deliverWebhook(ack, signPagerDuty(ack, 'the-old-secret-000000000000', PD_SECRET));
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toMatchObject({ status: 'applied' });
    expect((await statusWhen(handle, (s) => s.state === 'acknowledged')).acknowledgedBy).toBe('alice');

    // Someone without a person of ours resolves: the PagerDuty user's name is who.
    const resolved = await deliverWebhook(webhookEvent('incident.resolved', incidentId, { id: 'PZED001', summary: 'Zed Ops' }));
    expect(resolved.status).toBe(202);
    expect((await statusWhen(handle, (s) => s.state === 'resolved')).resolvedBy).toBe('pagerduty:Zed Ops');
    // PagerDuty's echo of our own resolve changes nothing and is still answered 2xx.
    expect((await deliverWebhook(webhookEvent('incident.resolved', incidentId, null))).status).toBe(202);
  });

  it('refuses forged and replayed deliveries, ignores other events and incidents, and changes nothing', async () => {
    const { handle, incidentId } = await incidentOf('pd-refused');
    const ack = webhookEvent('incident.acknowledged', incidentId, { id: 'PALICE1', summary: 'Alice' }, 'replayed');
    const forged = await deliverWebhook(ack, signPagerDuty(ack, 'not-the-secret-0000000000000'));
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: 'PagerDuty signature does not match the body' });
    expect((await deliverWebhook(ack, '')).status).toBe(401);
    expect((await deliverWebhook(webhookEvent('incident.annotated', incidentId, { id: 'PALICE1', summary: 'Alice' }))).status).toBe(202);
    const foreign = await deliverWebhook(webhookEvent('incident.acknowledged', 'some-other-tool-key', { id: 'PALICE1', summary: 'Alice' }));
    expect(await foreign.json()).toMatchObject({ status: 'ignored' });
    expect((await state(handle)).state).toBe('triggered');

    expect(await (await deliverWebhook(ack)).json()).toMatchObject({ status: 'applied' });
    await statusWhen(handle, (s) => s.state === 'acknowledged');
    await handle.executeUpdate('resolve', { args: [{ by: 'bob' }] });
    await statusWhen(handle, (s) => s.state === 'resolved');
    // The same delivery again, after the incident moved on: refused as a duplicate, nothing changes.
    expect(await (await deliverWebhook(ack)).json()).toMatchObject({ status: 'duplicate' });
    const after = await state(handle);
    expect([after.state, after.acknowledgedBy, after.resolvedBy]).toEqual(['resolved', 'alice', 'bob']);
  });

  it('acknowledges once from the link in the email page, after a confirm page', async () => {
    const { handle, incidentId } = await incidentOf('email');
    const page = mail.messages.find((message) => message.to.includes('alice@example.com') && message.subject.includes(`email-${unique}`))!;
    const link = /Acknowledge: (http\S+)/.exec(mailText(page))?.[1];
    expect(link).toMatch(new RegExp(`^${base}/ack/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));

    // Opening the link (or a mail scanner following it) only shows the confirm page.
    const confirm = await fetch(link!);
    expect(confirm.status).toBe(200);
    const html = await confirm.text();
    expect(html).toContain('Acknowledge this incident?');
    expect(html).toContain(handle.workflowId);
    expect((await state(handle)).state).toBe('triggered');

    const done = await fetch(link!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('is acknowledged by alice');
    expect((await statusWhen(handle, (s) => s.state === 'acknowledged')).acknowledgedBy).toBe('alice');

    const again = await fetch(link!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(again.status).toBe(410);
    expect(await again.text()).toContain('This link was already used');
    expect((await fetch(link!)).status).toBe(410);

    // A stale link and a forged one say why, and change nothing.
    const { handle: other, incidentId: otherId } = await incidentOf('email-stale');
    const stale = signAckToken(ACK_SECRET, { incident: otherId, person: 'alice', expires: Math.floor(Date.now() / 1000) - 60 });
    const staleAnswer = await fetch(`${base}/ack/${stale}`, { method: 'POST' });
    expect(staleAnswer.status).toBe(410);
    expect(await staleAnswer.text()).toContain('This link has expired');
    const forged = signAckToken('someone-elses-secret-000000000', { incident: otherId, person: 'mallory', expires: Math.floor(Date.now() / 1000) + 3600 });
    const forgedAnswer = await fetch(`${base}/ack/${forged}`, { method: 'POST' });
    expect(forgedAnswer.status).toBe(403);
    expect(await forgedAnswer.text()).toContain('not one ops-automation sent');
    const tampered = `${link!.split('/ack/')[1]!.split('.')[0]}.${forged.split('.')[1]}`;
    expect((await fetch(`${base}/ack/${tampered}`, { method: 'POST' })).status).toBe(403);
    expect((await state(other)).state).toBe('triggered');
    expect(incidentId).not.toBe(otherId);
  });
});
