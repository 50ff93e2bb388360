import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { findingsDedupKey } from '../../activities/security-findings.js';
import { parsePolicy } from '../../src/config/policy.js';
import { waitFor } from '../../scripts/stack/net.js';
import { approveUpdate, rejectUpdate, rolloutProgressQuery, securityRolloutWorkflow, type RolloutProgress, type SecurityRolloutInput } from '../../workflows/security-rollout.js';
import { statusWhen } from '../support/incidents.js';
import { AppsV1Api } from '@kubernetes/client-node';
import { deploymentImage, deployOnCluster, ensureNamespace, replicaSetHistory, workloadOnCluster } from '../support/kubernetes.js';
import { FakeRegistry } from '../support/fake-registry.js';
import { FakeSlack } from '../support/fake-slack.js';
import { createSlackClient } from '../../src/clients/slack.js';
import { opsctlAsync } from '../support/opsctl.js';
import { FAKE_TRIVY, REPO, failureOf, pinned, progressWhen } from '../support/rollouts.js';
import { connectStack, kubeConfig, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * securityRolloutWorkflow on the real Temporal server and the real
 * Kubernetes client, against the embedded control plane (real Deployment
 * and StatefulSet controllers, kwok nodes): a clean patch, a blocked scan, a major bump approved, rejected and
 * timed out, and a bad image that never becomes ready and is rolled back.
 */
const old = { id: 'CVE-2024-0001', severity: 'HIGH', pkg: 'openssl' };

describe('security rollout', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  const registry = new FakeRegistry();
  const slack = new FakeSlack();
  const taskQueue = uniqueTaskQueue('rollout');
  const namespace = `shop-${taskQueue.slice(-6)}`;

  const start = (name: string, input: Partial<SecurityRolloutInput>) =>
    clients.client.workflow.start(securityRolloutWorkflow, {
      taskQueue,
      workflowId: `rollout-${namespace}-${name}`,
      args: [{ namespace, deployment: name, requestedBy: 'alice', ...input }],
    });
  const generationOf = async (name: string) => (await workloadOnCluster(namespace, name)).generation;

  beforeAll(async () => {
    clients = await connectStack();
    await registry.start();
    registry.setTags('shop/web', ['1.3.9', '1.4.1', '1.4.2', '1.4.10', '1.5.0-rc.1', 'latest', '1.4.11-debug']);
    // On the embedded control plane; an image ending in -broken crash-loops there (deploy/kwok/failure-stages.yaml).
    await ensureNamespace(namespace);
    await Promise.all([
      ...['api', 'blocked', 'rejected', 'patient', 'bad', 'cli', 'cli-no', 'migration'].map((name) => deployOnCluster(namespace, name, { image: `${REPO}:1.4.1`, replicas: 3, progressDeadlineSeconds: 2 })),
      deployOnCluster(namespace, 'doomed', { image: `${REPO}:1.4.0`, replicas: 2, progressDeadlineSeconds: 2 }),
      deployOnCluster(namespace, 'web', { image: `${registry.host}/shop/web:1.4.1`, replicas: 2 }),
      deployOnCluster(namespace, 'db', { kind: 'StatefulSet', image: `${REPO}:1.4.1`, replicas: 2, container: 'postgres' }),
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'ops-rollout-'));
    const reports = join(dir, 'reports.json');
    writeFileSync(
      reports,
      JSON.stringify({
        [`${REPO}:1.4.1`]: [old, { id: 'CVE-2024-0002', severity: 'LOW', pkg: 'zlib' }],
        [`${REPO}:1.4.0`]: [old],
        [`${REPO}:1.4.2`]: [old],
        [`${REPO}:1.4.3`]: [old, { id: 'CVE-2025-9999', severity: 'CRITICAL', pkg: 'libxml2' }, { id: 'CVE-2025-1111', severity: 'MEDIUM', pkg: 'curl' }],
        [`${REPO}:2.0.0`]: [],
        [`${REPO}:1.4.9-broken`]: [],
        [`${registry.host}/shop/web:1.4.1`]: [],
        // A scanner that does not say which manifest it read: the rollout asks the registry.
        [`${registry.host}/shop/web:1.4.10`]: { vulnerabilities: [], repoDigest: null },
      }),
    );
    const policy = parsePolicy({ rollouts: { scanner: { command: [process.execPath, FAKE_TRIVY, reports] }, watchWindow: '1s', rolloutTimeout: '30s' } }, 'test');
    await slack.start();
    worker = await startBackgroundWorker(
      taskQueue,
      createActivities(clients.activityDeps({ policy, taskQueue, kube: () => kubeConfig(), slack: createSlackClient('xoxb-test-token', slack.url), slackChannel: '#deploys' })),
    );
  });

  afterAll(async () => {
    await worker?.stop();
    await registry.stop();
    await slack.stop();
    await clients.close();
  });

  it('discovers the newest tag of the running image from its registry, and rolls a StatefulSet too', async () => {
    const result = await (await start('web', { image: undefined, discover: true })).result();
    const digest = registry.digestOf('shop/web', '1.4.10');
    expect(result).toMatchObject({ phase: 'succeeded', from: `${registry.host}/shop/web:1.4.1`, to: `${registry.host}/shop/web:1.4.10`, pinned: `${registry.host}/shop/web:1.4.10@${digest}`, bump: 'patch' });
    expect(await deploymentImage(namespace, 'web')).toBe(`${registry.host}/shop/web:1.4.10@${digest}`);
    expect(registry.requests).toContain('/v2/shop/web/manifests/1.4.10');
    expect(result.steps[0]).toMatchObject({ step: 'discovered', detail: `${registry.host}/shop/web:1.4.10 is the highest of 7 tags` });
    expect(registry.requests.filter((path) => path.startsWith('/v2/shop/web/tags/list'))).toEqual([
      // Refused without a token, then again with the token from the challenge's realm.
      '/v2/shop/web/tags/list?n=1000',
      '/v2/shop/web/tags/list?n=1000',
      // Pages of two in the registry's (lexical) order, each following the Link header.
      '/v2/shop/web/tags/list?last=1.4.1&n=2',
      '/v2/shop/web/tags/list?last=1.4.11-debug&n=2',
      '/v2/shop/web/tags/list?last=1.5.0-rc.1&n=2',
    ]);

    const db = await clients.client.workflow.execute(securityRolloutWorkflow, {
      taskQueue,
      workflowId: `rollout-${namespace}-db`,
      args: [{ namespace, deployment: 'db', kind: 'StatefulSet', image: `${REPO}:1.4.2`, requestedBy: 'alice' }],
    });
    expect(db).toMatchObject({ phase: 'succeeded', workload: `StatefulSet ${namespace}/db` });
    expect(await workloadOnCluster(namespace, 'db', 'StatefulSet', 'postgres')).toMatchObject({ image: pinned(`${REPO}:1.4.2`), generation: 2 });
  });

  it('rolls out a clean patch: scanned, set with its change cause, every replica updated, watched', async () => {
    const result = await (await start('api', { image: `${REPO}:1.4.2` })).result();
    expect(result).toMatchObject({ phase: 'succeeded', from: `${REPO}:1.4.1`, to: `${REPO}:1.4.2`, pinned: pinned(`${REPO}:1.4.2`), bump: 'patch' });
    expect(result.steps.map((entry) => entry.step)).toEqual(['checked', 'scanned', 'image-set', 'rolled-out', 'done', 'findings']);
    // The image it landed still has the HIGH finding the old one had: its incident is open, named in the last step.
    expect(result.steps.at(-1)!.detail).toBe(`1 still open in ${pinned(`${REPO}:1.4.2`)} (incident-${findingsDedupKey(namespace, 'api', pinned(`${REPO}:1.4.2`))})`);
    // Pinned to the digest the scanner read: what runs is what was scanned, whatever the tag points to later.
    // One change, with its cause where `kubectl rollout history` shows it; the controller made it revision 2.
    const api = await workloadOnCluster(namespace, 'api');
    expect(api).toMatchObject({ image: pinned(`${REPO}:1.4.2`), generation: 2 });
    expect(api.annotations).toMatchObject({ 'kubernetes.io/change-cause': `ops-automation rollout-${namespace}-api: ${REPO}:1.4.1 -> ${REPO}:1.4.2 (by alice)`, 'deployment.kubernetes.io/revision': '2' });
    // Every step has its audit row, in order (written alongside the work), beside the change itself.
    const audit = await clients.pool.query(`SELECT actor, action, target FROM audit_events WHERE workflow_id = $1 ORDER BY id`, [`rollout-${namespace}-api`]);
    const actions = audit.rows.map((row: { action: string }) => row.action);
    expect(actions.filter((action: string) => action.startsWith('rollout.'))).toEqual(['rollout.checked', 'rollout.scanned', 'rollout.image-set', 'rollout.rolled-out', 'rollout.done', 'rollout.findings']);
    expect(actions.filter((action: string) => !action.startsWith('rollout.'))).toEqual(['kubernetes.set-image']);
    expect(new Set(audit.rows.map((row: { actor: string; target: string }) => `${row.actor} ${row.target}`))).toEqual(new Set([`alice k8s/${namespace}/deployment/api`]));
    // Every step, in order, in a Slack thread under the rollout's announcement.
    const announcement = slack.topLevel().find((message) => String(message.text).includes(`rollout-${namespace}-api`))!;
    expect(announcement).toMatchObject({ channelName: 'deploys', text: `:rocket: Rollout of ${REPO}:1.4.2 to Deployment ${namespace}/api, requested by alice (rollout-${namespace}-api)` });
    expect(slack.replies(announcement.ts).map((message) => String(message.text).split(':')[0])).toEqual(['*checked*', '*scanned*', '*image-set*', '*rolled-out*', '*done*', '*findings*']);
  });

  it('refuses an image the scan blocks, and touches nothing', async () => {
    const cause = await failureOf(await start('blocked', { image: `${REPO}:1.4.3` }));
    expect(cause.message).toBe(`${REPO}:1.4.3 is blocked by the scan: CVE-2025-9999 (CRITICAL in libxml2) not in ${REPO}:1.4.1`);
    expect(await workloadOnCluster(namespace, 'blocked')).toMatchObject({ image: `${REPO}:1.4.1`, generation: 1 });
  });

  it('waits for approval of a major bump: approved proceeds, one rollout per workload', async () => {
    const before = await generationOf('api');
    const handle = await start('api', { image: `${REPO}:2.0.0` });
    const waiting = await progressWhen(handle, 'awaiting-approval');
    expect(waiting.bump).toBe('major');
    await expect(start('api', { image: `${REPO}:2.0.0` })).rejects.toThrow(/already started/i);
    expect(await generationOf('api')).toBe(before);
    const approved = await handle.executeUpdate(approveUpdate, { args: [{ by: 'carol' }] });
    expect(approved.approval).toMatchObject({ decision: 'approved', by: 'carol' });
    const done = await handle.result();
    expect(done).toMatchObject({ phase: 'succeeded', bump: 'major' });
    const approval = await clients.pool.query(`SELECT actor FROM audit_events WHERE action = 'rollout.approved' AND run_id = $1`, [handle.firstExecutionRunId]);
    expect(approval.rows).toEqual([{ actor: 'carol' }]);
    expect(await deploymentImage(namespace, 'api')).toBe(pinned(`${REPO}:2.0.0`));
  });

  it('stops a major bump that is rejected, or that nobody approves in time', async () => {
    const rejected = await start('rejected', { image: `${REPO}:2.0.0` });
    await progressWhen(rejected, 'awaiting-approval');
    await rejected.executeUpdate(rejectUpdate, { args: [{ by: 'bob', reason: 'release freeze' }] });
    expect((await failureOf(rejected)).message).toBe('rejected by bob: release freeze; nothing was changed');

    const patient = await start('patient', { image: `${REPO}:2.0.0`, approvalTimeout: '1s' });
    expect((await failureOf(patient)).message).toBe('no approval within 1s; nothing was changed');
    expect((await patient.query(rolloutProgressQuery)).phase).toBe('refused');
    expect([await generationOf('rejected'), await generationOf('patient')]).toEqual([1, 1]);
  });

  it('is driven by opsctl: start, status, approve or reject, status --follow', async () => {
    const env = { OPS_TASK_QUEUE: taskQueue };
    const cli = (...args: string[]) => opsctlAsync(args, env);
    const started = await cli('--json', 'rollout', 'start', `${namespace}/cli`, '--image', `${REPO}:2.0.0`, '--by', 'alice');
    expect(started.status, started.stderr).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({ workflowId: `rollout-${namespace}-cli` });
    const again = await cli('rollout', 'start', `${namespace}/cli`, '--image', `${REPO}:2.0.0`);
    expect([again.status, again.stderr]).toEqual([5, `opsctl: a rollout of ${namespace}/cli is already running (rollout-${namespace}-cli)\n`]);
    await progressWhen(clients.client.workflow.getHandle(`rollout-${namespace}-cli`), 'awaiting-approval');
    const status = JSON.parse((await cli('--json', 'rollout', 'status', `${namespace}/cli`)).stdout) as RolloutProgress;
    expect(status).toMatchObject({ phase: 'awaiting-approval', bump: 'major', from: `${REPO}:1.4.1` });
    const approved = JSON.parse((await cli('--json', 'rollout', 'approve', `${namespace}/cli`, '--by', 'carol')).stdout) as RolloutProgress;
    expect(approved.approval).toMatchObject({ decision: 'approved', by: 'carol' });
    const followed = await cli('rollout', 'status', `${namespace}/cli`, '--follow');
    expect(followed.status).toBe(0);
    expect(followed.stdout).toMatch(/approved by carol[\s\S]*rolled-out[\s\S]*\nsucceeded\n$/);

    await cli('rollout', 'start', `${namespace}/cli-no`, '--image', `${REPO}:2.0.0`);
    await progressWhen(clients.client.workflow.getHandle(`rollout-${namespace}-cli-no`), 'awaiting-approval');
    expect((await cli('rollout', 'reject', `${namespace}/cli-no`, '--by', 'bob', '--reason', 'freeze')).status).toBe(0);
    const refused = await cli('rollout', 'status', `${namespace}/cli-no`, '--follow');
    expect([refused.status, refused.stderr]).toEqual([1, 'opsctl: rejected by bob: freeze; nothing was changed\n']);
    const late = await cli('rollout', 'approve', `${namespace}/cli-no`, '--by', 'carol');
    expect(late.status).toBe(4);
    const bad = await cli('rollout', 'start', 'not a workload', '--image', 'x:1');
    expect([bad.status, bad.stderr]).toEqual([2, 'opsctl: "not a workload": expected <namespace>/<workload>, e.g. shop/api\n']);
  });

  it('opens a critical incident with both causes when the rollback fails too', async () => {
    const handle = await start('doomed', { image: `${REPO}:1.4.9-broken` });
    await progressWhen(handle, 'rolling-out');
    // The phase is set just before the image is: delete only once the change is made, or nothing is there to roll back.
    await waitFor('the new image to be set', async () => (await handle.query(rolloutProgressQuery)).steps.some((entry) => entry.step === 'image-set'), 20_000);
    // Someone deletes the Deployment mid-rollout: the rollout fails, and so does putting the old image back.
    await kubeConfig().makeApiClient(AppsV1Api).deleteNamespacedDeployment({ namespace, name: 'doomed' });
    const cause = await failureOf(handle);
    expect(cause.message).toMatch(new RegExp(`^rollout of ${REPO}:1\\.4\\.9-broken to Deployment ${namespace}/doomed failed \\(Deployment ${namespace}/doomed does not exist\\) and its rollback failed too \\(restore-image: Deployment ${namespace}/doomed does not exist\\)$`));
    const progress = await handle.query(rolloutProgressQuery);
    expect(progress.phase).toBe('rollback-failed');
    expect(progress.steps.map((entry) => entry.step)).toEqual(['checked', 'scanned', 'image-set', 'failed', 'rollback-failed']);
    const incident = await statusWhen(clients.client.workflow.getHandle(`incident-rollout-failed-${namespace}-doomed`), (status) => status.alerts.length === 1);
    expect(incident).toMatchObject({ severity: 'critical', service: 'doomed' });
    const description = incident.alerts[0]!.annotations.description!;
    expect(description).toBe(`rollout: Deployment ${namespace}/doomed does not exist; rollback: restore-image: Deployment ${namespace}/doomed does not exist`);
  });

  it('rolls back an image that never becomes ready to the one it replaced, and opens an incident', async () => {
    const handle = await start('bad', { image: `${REPO}:1.4.9-broken` });
    const cause = await failureOf(handle);
    expect(cause.message).toMatch(new RegExp(`^rollout of ${REPO}:1\\.4\\.9-broken to Deployment ${namespace}/bad rolled back to ${REPO}:1\\.4\\.1: rollout of Deployment ${namespace}/bad failed: .*timed out progressing`));
    expect(await deploymentImage(namespace, 'bad')).toBe(`${REPO}:1.4.1`);
    const progress = await handle.query(rolloutProgressQuery);
    expect(progress.phase).toBe('rolled-back');
    expect(progress.steps.map((entry) => entry.step)).toEqual(['checked', 'scanned', 'image-set', 'failed', 'restore-image']);
    // Two changes, as the Deployment controller's history has them: the broken revision, scaled to nothing, and the old template back as revision 3.
    expect(await replicaSetHistory(namespace, 'bad')).toEqual([
      { revision: 2, image: pinned(`${REPO}:1.4.9-broken`), replicas: 0 },
      { revision: 3, image: `${REPO}:1.4.1`, replicas: 3 },
    ]);
    const incident = await statusWhen(clients.client.workflow.getHandle(`incident-rollout-failed-${namespace}-bad`), (status) => status.alerts.length === 1);
    expect(incident).toMatchObject({ severity: 'high', service: 'bad', title: `Rollout of ${REPO}:1.4.9-broken to ${namespace}/bad was rolled back` });
  });

  it('freezes on the new image and pages instead of rolling back, when asked to (onFailure: freeze)', async () => {
    const handle = await start('migration', { image: `${REPO}:1.4.9-broken`, onFailure: 'freeze' });
    const cause = await failureOf(handle);
    expect(cause.message).toMatch(new RegExp(`^rollout of ${REPO}:1\\.4\\.9-broken to Deployment ${namespace}/migration failed, frozen on the new image: rollout of Deployment ${namespace}/migration failed: `));
    expect(await workloadOnCluster(namespace, 'migration')).toMatchObject({ image: pinned(`${REPO}:1.4.9-broken`), generation: 2 });
    expect((await handle.query(rolloutProgressQuery)).phase).toBe('frozen');
    const incident = await statusWhen(clients.client.workflow.getHandle(`incident-rollout-failed-${namespace}-migration`), (status) => status.alerts.length === 1);
    expect(incident.alerts[0]!.labels.alertname).toBe('RolloutFrozen');
  });
});
