import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { type createPgPool } from '../../src/clients/postgres.js';
import { createSlackClient } from '../../src/clients/slack.js';
import { parsePolicy } from '../../src/config/policy.js';
import { acknowledgeUpdate, resolveUpdate } from '../../workflows/incident.js';
import { FakeSlack } from '../support/fake-slack.js';
import { alert, batch, deliver, statusWhen } from '../support/incidents.js';
import { connectStack, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';
import { proxiedDatabase, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * An incident never fails because a dependency is down: with our PostgreSQL
 * unreachable (every activity reaches it through a proxy the test cuts) and
 * Slack refusing for good, the incident pages, stays acknowledgeable, keeps
 * its ladder under control, and writes its whole timeline once the database
 * answers again.
 */
describe('an incident whose dependencies are down', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let proxy: TcpProxy;
  let pool: ReturnType<typeof createPgPool>;
  const slack = new FakeSlack();
  const taskQueue = uniqueTaskQueue('incident-deps');
  const unique = taskQueue.slice(-8);

  beforeAll(async () => {
    clients = await connectStack();
    await slack.start();
    // The workspace's channels exist before anyone posts: a post our database cannot vouch for looks for itself in them.
    for (const channel of ['oncall', 'leads', 'incidents']) slack.channelId(channel);
    ({ proxy, pool: pool } = await proxiedDatabase(testStack().databaseUrl));
    const policy = parsePolicy(
      {
        escalation: {
          // Level 1 outlasts an acknowledgement with PostgreSQL down (about 3.5 s here): the ladder keeps its time even then.
          policies: [{ name: 'team', levels: [{ timeout: '8s', targets: [{ type: 'slack', channel: '#oncall' }] }, { timeout: '2s', targets: [{ type: 'slack', channel: '#leads' }] }] }],
          defaultPolicy: 'team',
        },
      },
      'test',
    );
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ pool, policy, slack: createSlackClient('xoxb-test', slack.url), slackChannel: '#incidents' })));
  });

  afterAll(async () => {
    await worker.stop();
    await proxy.cut();
    await pool.end();
    await slack.stop();
    await clients.close();
  });

  it('pages, is acknowledged and stops its ladder with PostgreSQL down, then records everything once it is back', async () => {
    await proxy.cut();
    const handle = await deliver(clients.client, taskQueue, `deps-db-${unique}`, batch([alert('deps-1', 'firing', { service: `deps-db-${unique}`, severity: 'critical' })]));
    const paged = await statusWhen(handle, (s) => (s.escalation?.level ?? 0) >= 1, 30_000);
    expect(paged.timeline.some((event) => event.kind === 'dependency' && event.text.startsWith('could not record the incident in PostgreSQL'))).toBe(true);
    expect(slack.inChannel('#oncall').filter((message) => message.text.includes(`deps-db-${unique}`))).toHaveLength(1);

    const acked = await handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'alice' }] });
    expect(acked.state).toBe('acknowledged');
    await statusWhen(handle, (s) => s.escalation?.told === 'acknowledged', 10_000);
    // The ladder stopped at level 1: nobody in #leads was paged, past the time level 2 was due.
    await new Promise((resolve) => setTimeout(resolve, 8000));
    expect(slack.inChannel('#leads').filter((message) => message.text.includes(`deps-db-${unique}`))).toHaveLength(0);
    const { rows: none } = await clients.pool.query('SELECT 1 FROM incidents WHERE workflow_id = $1', [handle.workflowId]);
    expect(none).toEqual([]);

    await proxy.restore();
    const status = await statusWhen(handle, (s) => s.timeline.some((event) => event.text === 'PostgreSQL answers again; the timeline is recorded'), 120_000);
    await expect
      .poll(async () => (await clients.pool.query('SELECT seq FROM incident_events WHERE incident_id = $1 ORDER BY seq', [status.incidentId])).rows.length, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(status.timeline.length);
    const { rows: events } = await clients.pool.query<{ seq: number }>('SELECT seq FROM incident_events WHERE incident_id = $1 ORDER BY seq', [status.incidentId]);
    // Every event once, none missing ("opened" is event 0).
    expect(events.map((row) => row.seq)).toEqual(Array.from({ length: events.length }, (_, index) => index));
    const { rows: [row] } = await clients.pool.query('SELECT status, acknowledged_by FROM incidents WHERE workflow_id = $1', [handle.workflowId]);
    expect(row).toEqual({ status: 'acknowledged', acknowledged_by: 'alice' });
    expect((await handle.describe()).status.name).toBe('RUNNING');
  });

  it('keeps going when Slack refuses its message for good, and posts it once Slack takes it', async () => {
    // The incident's own message (the one with Block Kit blocks; pages are plain text) is refused for good, once.
    // Only this incident's: the first test's incident may still be catching up on its thread. Matching the message,
    // not "the first posts", keeps a busy machine's order of message and pages out of it.
    const ours = (args: Record<string, unknown>) => JSON.stringify(args).includes(`deps-slack-${unique}`) && args.blocks !== undefined;
    slack.failNext('chat.postMessage', { kind: 'error', error: 'channel_not_found' }, ours);
    const handle = await deliver(clients.client, taskQueue, `deps-slack-${unique}`, batch([alert('slack-1', 'firing', { service: `deps-slack-${unique}`, severity: 'critical' })]));
    const refused = await statusWhen(handle, (s) => s.timeline.some((event) => event.actor === 'slack' && event.text.includes('channel_not_found')), 30_000);
    expect(refused.state).toBe('triggered');
    // The ladder still pages, and the incident still takes people's actions.
    await statusWhen(handle, (s) => (s.escalation?.level ?? 0) >= 1, 30_000);
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'bob' }] });
    // The next try, a few seconds later, posts the incident's message once.
    await expect.poll(() => slack.inChannel('#incidents').filter((message) => !message.thread_ts && JSON.stringify(message.blocks ?? []).includes(handle.workflowId)).length, { timeout: 30_000 }).toBe(1);
    expect((await handle.describe()).status.name).toBe('RUNNING');
  });
});
