import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createSlackClient } from '../../src/clients/slack.js';
import { acknowledgeUpdate, resolveUpdate } from '../../workflows/incident.js';
import { FakeSlack } from '../support/fake-slack.js';
import { alert, batch, deliver, statusWhen } from '../support/incidents.js';
import { connectStack, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * The incident's Slack message through the real @slack/web-api client and a
 * local server speaking the Slack Web API: one message per incident, updated
 * in place, the timeline in its thread, and never a second post on retry.
 */
describe('incident Slack messages', () => {
  let clients: StackClients;
  let slack: FakeSlack;
  let worker: { stop(): Promise<void> };
  const taskQueue = uniqueTaskQueue('incident-slack');
  const key = (name: string) => `${name}-${taskQueue.slice(-8)}`;
  const messagesOf = (workflowId: string) =>
    slack.topLevel().filter((message) => String(message.metadata?.event_payload.idempotency_key).startsWith(`${workflowId}/`));

  beforeAll(async () => {
    clients = await connectStack();
    slack = new FakeSlack();
    await slack.start();
    const activities = createActivities(
      clients.activityDeps({ slack: createSlackClient('xoxb-test-token', slack.url), slackChannel: '#incidents' }),
    );
    worker = await startBackgroundWorker(taskQueue, activities);
  });

  afterAll(async () => {
    await worker.stop();
    await slack.stop();
    await clients.close();
  });

  it('posts one message, updates it on acknowledge and resolve, and threads the timeline', async () => {
    const handle = await deliver(
      clients.client,
      taskQueue,
      key('msg'),
      batch([alert('s1', 'firing', { service: 'checkout', severity: 'critical' }, undefined, { summary: 'Checkout is down' })], {
        externalURL: 'http://alertmanager:9093',
      }),
    );
    await statusWhen(handle, (s) => s.notifications.length === 1);
    const [message] = messagesOf(handle.workflowId);
    expect(message).toMatchObject({ channelName: 'incidents', text: expect.stringContaining('CRITICAL Checkout is down - Triggered') });
    const blocks = JSON.stringify(message!.blocks);
    expect(blocks).toContain('*Service*\\ncheckout');
    expect(blocks).toContain(`/workflows/${encodeURIComponent(handle.workflowId)}|Temporal workflow>`);
    expect(blocks).toContain('http://alertmanager:9093|Alertmanager>');

    await handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'alice' }] });
    await expect.poll(() => message!.text, { timeout: 15_000 }).toContain('Acknowledged by alice');
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'alice', note: 'fixed' }] });
    await expect.poll(() => message!.text, { timeout: 15_000 }).toContain('Resolved by alice');

    // The last thread reply links the post-mortem draft.
    const status = await statusWhen(handle, (s) => s.notifications.length === 6);
    expect(status.notifications.map((n) => n.kind)).toEqual(['message', 'update', 'thread', 'update', 'thread', 'thread']);
    expect(messagesOf(handle.workflowId)).toHaveLength(1);
    const thread = slack.replies(message!.ts).map((reply) => reply.text).join('\n');
    expect(thread).toContain('alice: acknowledged by alice');
    expect(thread).toContain('alice: resolved by alice: fixed');
    expect(thread).toMatch(/system: post-mortem draft: s3:\/\/\S+\/postmortems\/incident-/);
  });

  it('does not post twice when Slack took the message but the answer was lost', async () => {
    slack.failNext('chat.postMessage', { kind: 'drop-response' });
    const historyLookups = slack.calls.filter((call) => call.method === 'conversations.history').length;
    const handle = await deliver(clients.client, taskQueue, key('drop'), batch([alert('d1', 'firing', { service: 'api' })]));
    await statusWhen(handle, (s) => s.notifications.length === 1, 30_000);
    expect(messagesOf(handle.workflowId)).toHaveLength(1);
    // Only the retry looked for the lost post; first attempts never pay for a lookup.
    expect(slack.calls.filter((call) => call.method === 'conversations.history').length).toBe(historyLookups + 1);
  });

  it('waits out a rate limit for exactly the Retry-After Slack gives', async () => {
    slack.failNext('chat.postMessage', { kind: 'rate-limit', retryAfterSeconds: 3 });
    const started = Date.now();
    const handle = await deliver(clients.client, taskQueue, key('ratelimit'), batch([alert('r1', 'firing', { service: 'api' })]));
    await statusWhen(handle, (s) => s.notifications.length === 1, 30_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
    expect(messagesOf(handle.workflowId)).toHaveLength(1);
  });
});
