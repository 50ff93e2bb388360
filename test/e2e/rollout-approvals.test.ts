import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createSlackClient } from '../../src/clients/slack.js';
import { parsePolicy } from '../../src/config/policy.js';
import type { WebhookServer } from '../../src/webhooks/server.js';
import { approveUpdate, rolloutProgressQuery } from '../../workflows/security-rollout.js';
import { deployOnCluster, ensureNamespace } from '../support/kubernetes.js';
import { FakeSlack } from '../support/fake-slack.js';
import { opsctlAsync } from '../support/opsctl.js';
import { REPO, fakeScanner, progressWhen, rolloutStarter } from '../support/rollouts.js';
import { buttonPress, slackRequest, startSlackRoutes, type SlackUser } from '../support/slack-requests.js';
import { connectStack, kubeConfig, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

const CAROL: SlackUser = { id: 'U0CAROL001', name: 'carol' };
const MALLORY: SlackUser = { id: 'U0MALLORY1', name: 'mallory' };

/**
 * Approvals by the people the policy names (and whoever is on call for a
 * schedule it names), never by the requester: decided by the rollout
 * workflow itself, whether the approval comes from Slack, opsctl or a raw
 * update as the temporal CLI sends it, and recorded when refused.
 */
describe('rollout approvals', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let app: WebhookServer;
  let base = '';
  const slack = new FakeSlack();
  const taskQueue = uniqueTaskQueue('approvals');
  const namespace = `appr-${taskQueue.slice(-6)}`;
  const schedule = `release-${taskQueue.slice(-6)}`;

  beforeAll(async () => {
    clients = await connectStack();
    await slack.start();
    await ensureNamespace(namespace);
    await Promise.all(['major', 'slack', 'cli'].map((name) => deployOnCluster(namespace, name, { image: `${REPO}:1.4.1`, replicas: 2 })));
    const policy = parsePolicy(
      {
        oncall: {
          people: { alice: { name: 'Alice' }, carol: { name: 'Carol', slack: CAROL.id }, dave: { name: 'Dave' } },
          schedules: { [schedule]: { timeZone: 'UTC', layers: [{ people: ['dave'], start: '2026-01-05T00:00', shift: '1w' }] } },
        },
        rollouts: {
          scanner: { command: fakeScanner({ [`${REPO}:1.4.1`]: [], [`${REPO}:2.0.0`]: [] }) },
          watchWindow: '1s',
          approval: { approvers: ['carol', { schedule }] },
        },
      },
      'test',
    );
    const slackClient = createSlackClient('xoxb-test', slack.url);
    worker = await startBackgroundWorker(
      taskQueue,
      createActivities(clients.activityDeps({ policy, taskQueue, kube: () => kubeConfig(), slack: slackClient, slackChannel: '#deploys' })),
    );
    ({ app, base } = await startSlackRoutes(clients, policy, slackClient));
  });

  afterAll(async () => {
    await app.close();
    await worker.stop();
    await slack.stop();
    await clients.close();
  });

  const start = () => rolloutStarter(clients.client, taskQueue, namespace);

  it('refuses the requester and anyone not an approver, records it, and takes the on-call of the named schedule', async () => {
    const handle = await start()('major', { image: `${REPO}:2.0.0` });
    await progressWhen(handle, 'awaiting-approval');
    for (const [by, reason] of [
      ['alice', 'alice requested this rollout, and the person who requests a rollout cannot approve it'],
      ['mallory', `mallory is not an approver (approvers: carol, whoever is on call for ${schedule})`],
    ] as const) {
      const error = await handle.executeUpdate(approveUpdate, { args: [{ by }] }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((error as WorkflowUpdateFailedError).cause?.message).toBe(reason);
    }
    const waiting = await handle.query(rolloutProgressQuery);
    expect(waiting.phase).toBe('awaiting-approval');
    expect(waiting.steps.filter((entry) => entry.step === 'approval-refused').map((entry) => entry.detail)).toHaveLength(2);
    const audited = async () =>
      (await clients.pool.query(`SELECT actor, outcome FROM audit_events WHERE action = 'rollout.approval-refused' AND run_id = $1 ORDER BY id`, [handle.firstExecutionRunId])).rows;
    await expect.poll(audited, { timeout: 10_000 }).toEqual([
      { actor: 'alice', outcome: 'refused' },
      { actor: 'mallory', outcome: 'refused' },
    ]);

    // Dave is on call for the schedule: his approval counts.
    const approved = await handle.executeUpdate(approveUpdate, { args: [{ by: 'dave' }] });
    expect(approved.approval).toMatchObject({ decision: 'approved', by: 'dave' });
    expect(await handle.result()).toMatchObject({ phase: 'succeeded' });
  });

  it('is approved from the Approve button in Slack by an approver, and refused for anyone else', async () => {
    const handle = await start()('slack', { image: `${REPO}:2.0.0` });
    await progressWhen(handle, 'awaiting-approval');
    const request = await (async () => {
      for (let tries = 0; tries < 100; tries += 1) {
        const found = slack.inChannel('#deploys').find((message) => message.text.startsWith('*Approval needed*') && message.text.includes(`${namespace}/slack`));
        if (found) return found;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error('no approval request in Slack');
    })();
    expect(request.thread_ts).toBeDefined();
    const actions = (request.blocks as Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }>).find((block) => block.type === 'actions')!;
    expect(actions.elements!.map((element) => [element.action_id, element.value])).toEqual([
      ['rollout_approve', handle.workflowId],
      ['rollout_reject', handle.workflowId],
    ]);
    const press = (user: SlackUser) =>
      slackRequest(`${base}/webhooks/slack/interactions`, buttonPress({ user, channel: request.channel, messageTs: request.ts, actionId: 'rollout_approve', value: handle.workflowId, blocks: request.blocks })).send();

    expect((await press(MALLORY)).status).toBe(200);
    await expect.poll(() => slack.ephemerals.filter((entry) => entry.user === MALLORY.id).length, { timeout: 10_000 }).toBe(1);
    expect((await handle.query(rolloutProgressQuery)).phase).toBe('awaiting-approval');

    expect((await press(CAROL)).status).toBe(200);
    expect(await handle.result()).toMatchObject({ phase: 'succeeded', approval: { decision: 'approved', by: 'carol' } });
    await expect.poll(() => request.text, { timeout: 10_000 }).toBe('Approved by Carol');
    expect(JSON.stringify(request.blocks)).not.toContain('rollout_approve');
  });

  it('refuses a non-approver through opsctl with one line and exit 5', async () => {
    const env = { OPS_TASK_QUEUE: taskQueue };
    const handle = await start()('cli', { image: `${REPO}:2.0.0` });
    await progressWhen(handle, 'awaiting-approval');
    const refused = await opsctlAsync(['rollout', 'approve', `${namespace}/cli`, '--by', 'mallory'], env);
    expect([refused.status, refused.stderr]).toEqual([5, `opsctl: ${handle.workflowId}: mallory is not an approver (approvers: carol, whoever is on call for ${schedule})\n`]);
    const approved = await opsctlAsync(['rollout', 'approve', `${namespace}/cli`, '--by', 'carol'], env);
    expect(approved.status, approved.stderr).toBe(0);
    expect(await handle.result()).toMatchObject({ phase: 'succeeded' });
  });
});
