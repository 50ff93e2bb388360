import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createSlackClient } from '../../src/clients/slack.js';
import { parsePolicy, type Policy } from '../../src/config/policy.js';
import type { WebhookServer } from '../../src/webhooks/server.js';
import type { IncidentStatus } from '../../workflows/incident.js';
import { FakeSlack, type SlackMessage } from '../support/fake-slack.js';
import { alert, batch, deliver, statusWhen } from '../support/incidents.js';
import { buttonPress, slackRequest, slashCommand, startSlackRoutes, type SlackUser } from '../support/slack-requests.js';
import { connectStack, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

const ALICE: SlackUser = { id: 'U0ALICE001', name: 'alice' };
const BOB: SlackUser = { id: 'U0BOB00001', name: 'bob' };
const STRANGER: SlackUser = { id: 'U0NOBODY01', name: 'mallory' };

/**
 * Acknowledging where the page lands: Slack's button presses and the /ops
 * command, signed as Slack signs them, through the real webhook server into
 * the real incident workflow, whose message (on a Slack fake that speaks the
 * Web API to the real client) changes to show who did what.
 */
describe('Slack interactivity and slash commands', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let app: WebhookServer;
  let policy: Policy;
  let base = '';
  const slack = new FakeSlack();
  const taskQueue = uniqueTaskQueue('slack-actions');
  const unique = taskQueue.slice(-8);

  beforeAll(async () => {
    clients = await connectStack();
    await slack.start();
    const start = new Date(Date.now() - 3_600_000).toISOString().slice(0, 16);
    policy = parsePolicy(
      {
        oncall: {
          people: { alice: { name: 'Alice', slack: ALICE.id }, bob: { name: 'Bob', slack: BOB.id } },
          schedules: { [`primary-${unique}`]: { timeZone: 'UTC', layers: [{ people: ['bob'], start, shift: '1w' }] } },
        },
        escalation: {
          policies: [{ name: 'team', levels: [{ timeout: '10m', targets: [{ type: 'slack', channel: '#oncall' }] }, { timeout: '10m', targets: [{ type: 'person', person: 'bob' }] }] }],
          defaultPolicy: 'team',
        },
      },
      'test',
    );
    const slackClient = createSlackClient('xoxb-test', slack.url);
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ policy, slack: slackClient, slackChannel: '#incidents' })));
    ({ app, base } = await startSlackRoutes(clients, policy, slackClient));
  });

  afterAll(async () => {
    await app.close();
    await worker.stop();
    await slack.stop();
    await clients.close();
  });

  const incidentOf = async (name: string) => {
    const handle = await deliver(clients.client, taskQueue, `ev-${name}-${unique}`, batch([alert(`${name}-1`, 'firing', { service: `${name}-${unique}`, severity: 'critical' })]));
    await statusWhen(handle, (s) => s.notifications.some((n) => n.kind === 'message') && s.escalation?.level === 1);
    const message = slack.inChannel('#incidents').find((candidate) => !candidate.thread_ts && JSON.stringify(candidate.blocks ?? []).includes(handle.workflowId))!;
    return { handle, message };
  };
  const buttons = (message: SlackMessage) =>
    (message.blocks as Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }>)
      .filter((block) => block.type === 'actions')
      .flatMap((block) => block.elements!.map((element) => element.action_id));
  const press = (user: SlackUser, message: SlackMessage, actionId: string, options: { secret?: string; timestamp?: number; value?: string } = {}) =>
    slackRequest(`${base}/webhooks/slack/interactions`, buttonPress({ user, channel: message.channel, messageTs: message.ts, actionId, value: options.value ?? valueOf(message, actionId) }), options);
  const valueOf = (message: SlackMessage, actionId: string) =>
    (message.blocks as Array<{ elements?: Array<{ action_id: string; value: string }> }>).flatMap((block) => block.elements ?? []).find((element) => element.action_id === actionId)?.value ?? '';
  const ephemeralsFor = (user: SlackUser) => slack.ephemerals.filter((entry) => entry.user === user.id);
  const until = async <T>(read: () => T | undefined, timeoutMs = 10_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = read();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error('condition never held');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  it('acknowledges from the button, as the person whose Slack ID pressed it, and the message shows who', async () => {
    const { handle, message } = await incidentOf('ack');
    expect(buttons(message)).toEqual(['incident_acknowledge', 'incident_resolve', 'incident_escalate']);
    expect(valueOf(message, 'incident_acknowledge')).toBe(handle.workflowId);

    const started = Date.now();
    const response = await press(ALICE, message, 'incident_acknowledge').send();
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
    const status: IncidentStatus = await statusWhen(handle, (s) => s.state === 'acknowledged');
    expect(status.acknowledgedBy).toBe('alice');
    // The incident updated its own message: acknowledged by alice, and no Acknowledge button left.
    await until(() => (message.updates > 0 && !buttons(message).includes('incident_acknowledge') ? true : undefined));
    expect(message.text).toContain('Acknowledged by alice');
    expect(buttons(message)).toEqual(['incident_resolve']);
    // The ladder stopped at level 1: nobody else is paged.
    expect((await statusWhen(handle, (s) => s.escalation?.told === 'acknowledged')).escalation?.level).toBe(1);

    await press(BOB, message, 'incident_resolve').send();
    const resolved = await statusWhen(handle, (s) => s.state === 'resolved');
    expect(resolved.resolvedBy).toBe('bob');
    await until(() => (buttons(message).length === 0 ? true : undefined));
  });

  it('escalates from the button: the next level pages at once', async () => {
    const { handle, message } = await incidentOf('escalate');
    await press(BOB, message, 'incident_escalate').send();
    const status = await statusWhen(handle, (s) => s.escalation?.level === 2);
    expect(status.timeline.map((event) => event.text)).toContain('escalated to the next level by bob');
    expect(status.escalation!.pages.at(-1)).toMatchObject({ level: 2, person: 'bob', outcome: 'delivered' });
  });

  it('refuses stale, forged, replayed and unknown-user presses, and changes nothing', async () => {
    const { handle, message } = await incidentOf('refused');
    const stale = await press(ALICE, message, 'incident_acknowledge', { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 }).send();
    expect(stale.status).toBe(401);
    expect(((await stale.json()) as { error: string }).error).toBe('Slack request timestamp is more than 5 minutes off');
    const forged = await press(ALICE, message, 'incident_acknowledge', { secret: 'not-the-signing-secret-0000000000' }).send();
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { error: string }).error).toBe('Slack signature does not match the body');
    const unsigned = await fetch(`${base}/webhooks/slack/interactions`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'payload=%7B%7D' });
    expect(unsigned.status).toBe(401);

    // A stranger is told so, privately, and nothing changes.
    expect((await press(STRANGER, message, 'incident_acknowledge').send()).status).toBe(200);
    const [told] = await until(() => (ephemeralsFor(STRANGER).length > 0 ? ephemeralsFor(STRANGER) : undefined));
    expect(told).toMatchObject({ channel: message.channel, text: expect.stringContaining('not a person in ops-automation') });

    // The same signed request, sent twice: the second is refused.
    const once = press(BOB, message, 'incident_escalate');
    expect((await once.send()).status).toBe(200);
    const replayed = await fetch(once.url, { method: 'POST', headers: once.headers, body: once.body });
    expect(replayed.status).toBe(401);
    expect(((await replayed.json()) as { error: string }).error).toMatch(/replay/);
    const status = await statusWhen(handle, (s) => s.escalation?.level === 2);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await handle.query('status');
    expect((after as IncidentStatus).state).toBe('triggered');
    expect((after as IncidentStatus).escalation?.level).toBe(2);
    expect(status.timeline.filter((event) => event.kind === 'escalated')).toHaveLength(1);
  });

  it('answers a refusal of the workflow privately: acknowledging twice', async () => {
    const { handle, message } = await incidentOf('twice');
    await press(ALICE, message, 'incident_acknowledge').send();
    await statusWhen(handle, (s) => s.state === 'acknowledged');
    // Bob's Slack still showed the button when he pressed it.
    await press(BOB, message, 'incident_acknowledge', { value: handle.workflowId }).send();
    const [told] = await until(() => (ephemeralsFor(BOB).some((entry) => entry.text.includes(handle.workflowId)) ? ephemeralsFor(BOB).filter((entry) => entry.text.includes(handle.workflowId)) : undefined));
    expect(told!.text).toMatch(/^Nothing was changed: .*acknowledged/);
    expect((await handle.query('status') as IncidentStatus).acknowledgedBy).toBe('alice');
  });

  it('does the same from /ops: ack, resolve, oncall, incidents', async () => {
    const { handle } = await incidentOf('command');
    const command = (user: SlackUser, text: string) => slackRequest(`${base}/webhooks/slack/commands`, slashCommand({ user, channel: 'C0INCIDENT', text })).send();
    const answer = async (user: SlackUser, text: string) => {
      const response = await command(user, text);
      expect(response.status).toBe(200);
      return (await response.json()) as { response_type: string; text: string };
    };

    // Open incidents list ours; the dedup key names it without its "incident-" prefix.
    expect((await answer(BOB, 'incidents')).text).toContain(handle.workflowId);
    expect(await answer(STRANGER, `ack ${handle.workflowId}`)).toEqual({ response_type: 'ephemeral', text: expect.stringContaining('nothing was changed') });
    expect((await handle.query('status') as IncidentStatus).state).toBe('triggered');

    const acked = await answer(BOB, `ack ${handle.workflowId.replace(/^incident-/, '')}`);
    expect(acked).toEqual({ response_type: 'ephemeral', text: `:white_check_mark: ${handle.workflowId} acknowledged by bob` });
    expect((await handle.query('status') as IncidentStatus).acknowledgedBy).toBe('bob');

    const resolved = await answer(ALICE, `resolve ${handle.workflowId} rotated the logs`);
    expect(resolved.text).toBe(`:white_check_mark: ${handle.workflowId} resolved by alice`);
    const status = await statusWhen(handle, (s) => s.state === 'resolved');
    expect(status.timeline.some((event) => event.text.includes('rotated the logs'))).toBe(true);

    expect((await answer(ALICE, `oncall primary-${unique}`)).text).toBe(`*primary-${unique}*: Bob <@${BOB.id}> (layer 1)`); // a rotation of one: no handoff ahead
    expect((await answer(ALICE, 'ack incident-nope')).text).toBe('Nothing was changed: no open incident "incident-nope"');
    expect((await answer(ALICE, '')).text).toContain('/ops ack <incident>');
    expect((await slackRequest(`${base}/webhooks/slack/commands`, slashCommand({ user: ALICE, channel: 'C0INCIDENT', text: 'incidents' }), { secret: 'wrong-secret-000000000000000000' }).send()).status).toBe(401);
  });
});
