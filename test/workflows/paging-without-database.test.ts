import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createOnCallActivities } from '../../activities/oncall.js';
import { createPagingActivities } from '../../activities/paging.js';
import { type createPgPool } from '../../src/clients/postgres.js';
import { createSlackClient } from '../../src/clients/slack.js';
import { parsePolicy } from '../../src/config/policy.js';
import { resolveUpdate } from '../../workflows/incident.js';
import { FakeSlack } from '../support/fake-slack.js';
import { HttpRecorder } from '../support/http-recorder.js';
import { alert, batch, deliver, statusWhen } from '../support/incidents.js';
import { connectStack, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';
import { proxiedDatabase, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * Pages go out while our own PostgreSQL is down: the ladder's paging
 * activities reach the database through a proxy that the test cuts. The
 * sends come first; their rows follow, each once, when it answers again.
 */
describe('paging without our database', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let proxy: TcpProxy;
  let proxiedPool: ReturnType<typeof createPgPool>;
  const slack = new FakeSlack();
  const hook = new HttpRecorder((request) => (request.path.includes('fail') ? { status: 400, body: { error: 'bad' } } : { status: 202, body: {} }));
  const taskQueue = uniqueTaskQueue('paging-nodb');
  const unique = taskQueue.slice(-8);

  beforeAll(async () => {
    clients = await connectStack();
    await Promise.all([slack.start(), hook.start('/hook')]);
    // The workspace's channels exist before anyone pages into them: a send our database cannot vouch for looks them up.
    for (const channel of ['oncall', 'incidents']) slack.channelId(channel);
    ({ proxy, pool: proxiedPool } = await proxiedDatabase(testStack().databaseUrl));
    const policy = parsePolicy(
      {
        oncall: { people: { bob: { name: 'Bob', slack: 'U0BOB00001' } } },
        escalation: {
          policies: [
            {
              name: 'team',
              levels: [
                { timeout: '3s', targets: [{ type: 'slack', channel: '#oncall' }, { type: 'webhook', url: `${hook.url}` }, { type: 'webhook', url: `${hook.url}/fail` }] },
                { timeout: '10m', targets: [{ type: 'person', person: 'bob' }] },
              ],
            },
          ],
          defaultPolicy: 'team',
        },
      },
      'test',
    );
    const deps = clients.activityDeps({ policy, slack: createSlackClient('xoxb-test', slack.url), slackChannel: '#incidents' });
    // The incident's own store stays up; only the paging path loses the database.
    const activities = { ...createActivities(deps), ...createPagingActivities({ ...deps, pool: proxiedPool }), ...createOnCallActivities({ ...deps, pool: proxiedPool }) };
    worker = await startBackgroundWorker(taskQueue, activities);
  });

  afterAll(async () => {
    await worker.stop();
    await proxy.cut();
    await proxiedPool.end();
    await Promise.all([slack.stop(), hook.stop()]);
    await clients.close();
  });

  it('pages every level on time with the database down, then writes each row once', async () => {
    await proxy.cut();
    const handle = await deliver(clients.client, taskQueue, `nodb-${unique}`, batch([alert('nodb-1', 'firing', { service: `nodb-${unique}`, severity: 'critical' })]));
    const status = await statusWhen(handle, (s) => s.escalation?.level === 2, 30_000);
    const pages = status.escalation!.pages;
    expect(pages.map((page) => [page.level, page.target, page.outcome])).toEqual([
      [1, 'slack:#oncall', 'delivered'],
      [1, `webhook:${hook.url}`, 'delivered'],
      [1, `webhook:${hook.url}/fail`, 'failed'],
      [2, 'slack:default', 'delivered'],
    ]);
    // Level 2 was due 3 s after level 1: the database being down did not hold it up.
    expect(Date.parse(pages[3]!.at) - Date.parse(pages[0]!.at)).toBeLessThan(6_000);
    expect(slack.inChannel('#oncall').filter((message) => message.text.includes(`nodb-${unique}`))).toHaveLength(1);
    expect(slack.inChannel('#incidents').filter((message) => message.text.startsWith('<@U0BOB00001>'))).toHaveLength(1);
    const rows = async () =>
      (await clients.pool.query<{ level: number; target: string; kind: string; outcome: string; person: string | null }>(
        `SELECT level, target, kind, outcome, person FROM notifications WHERE incident_id = $1 ORDER BY level, target, kind`,
        [status.incidentId],
      )).rows;
    expect(await rows()).toEqual([]);

    await proxy.restore();
    await expect.poll(async () => (await rows()).length, { timeout: 90_000, interval: 500 }).toBe(4);
    expect(await rows()).toEqual([
      { level: 1, target: 'slack:#oncall', kind: 'trigger', outcome: 'delivered', person: null },
      { level: 1, target: `webhook:${hook.url}`, kind: 'trigger', outcome: 'delivered', person: null },
      { level: 1, target: `webhook:${hook.url}/fail`, kind: 'trigger', outcome: 'failed', person: null },
      { level: 2, target: 'slack:default', kind: 'trigger', outcome: 'delivered', person: 'bob' },
    ]);

    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'bob' }] });
    await statusWhen(handle, (s) => s.escalation?.finished === 'resolved', 30_000);
    expect((await rows()).filter((row) => row.kind === 'resolve').length).toBe(3);
    // Nothing was sent twice.
    expect(hook.requests.filter((request) => (request.body.incident as { id?: string } | undefined)?.id === status.incidentId && request.body.event === 'trigger')).toHaveLength(1);
  });
});
