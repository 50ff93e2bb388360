import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { waitFor } from '../../scripts/stack/net.js';
import {
  abortUpdate,
  approveUpdate,
  rejectUpdate,
  rollbackUpdate,
  rolloutProgressQuery,
  securityRolloutWorkflow,
  type RolloutProgress,
  type SecurityRolloutInput,
} from '../../workflows/security-rollout.js';
import { statusWhen } from '../support/incidents.js';
import { FakeKubernetes } from '../support/kube-fake.js';
import { opsctlAsync } from '../support/opsctl.js';
import { TestExporter, TestPrometheus } from '../support/prometheus.js';
import { connectStack, stackEnv, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * securityRolloutWorkflow on the real Temporal server and the real
 * Kubernetes client, against the Kubernetes fake that rolls pods out over
 * time: a clean patch, a blocked scan, a major bump approved, rejected and
 * timed out, and a bad image that never becomes ready and is rolled back.
 */
const FAKE_TRIVY = fileURLToPath(new URL('../support/fake-trivy.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REPO = 'registry.test/shop/api';
const old = { id: 'CVE-2024-0001', severity: 'HIGH', pkg: 'openssl' };

async function progressWhen(handle: WorkflowHandle, phase: string): Promise<RolloutProgress> {
  let last: RolloutProgress | undefined;
  await waitFor(`phase ${phase}`, async () => (last = await handle.query(rolloutProgressQuery)).phase === phase, 20_000);
  return last!;
}

async function failureOf(handle: WorkflowHandle) {
  const error = await handle.result().catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  return (error as WorkflowFailedError).cause!;
}

describe('security rollout', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  const kube = new FakeKubernetes();
  const taskQueue = uniqueTaskQueue('rollout');
  const namespace = `shop-${taskQueue.slice(-6)}`;

  const start = (name: string, input: Partial<SecurityRolloutInput> & { image: string }) =>
    clients.client.workflow.start(securityRolloutWorkflow, {
      taskQueue,
      workflowId: `rollout-${namespace}-${name}`,
      args: [{ namespace, deployment: name, requestedBy: 'alice', ...input }],
    });
  const patchesOf = (name: string) => kube.requests.filter((request) => request.method === 'PATCH' && request.path.includes(`/deployments/${name}`));

  beforeAll(async () => {
    clients = await connectStack();
    await kube.start();
    kube.podReadyMs = 150;
    for (const name of ['api', 'blocked', 'rejected', 'patient', 'bad', 'cli', 'cli-no']) kube.addWorkload('Deployment', namespace, name, { image: `${REPO}:1.4.1`, replicas: 3, progressDeadlineSeconds: 2 });
    kube.badImages.add(`${REPO}:1.4.9-broken`);
    const dir = mkdtempSync(join(tmpdir(), 'ops-rollout-'));
    const reports = join(dir, 'reports.json');
    writeFileSync(
      reports,
      JSON.stringify({
        [`${REPO}:1.4.1`]: [old, { id: 'CVE-2024-0002', severity: 'LOW', pkg: 'zlib' }],
        [`${REPO}:1.4.2`]: [old],
        [`${REPO}:1.4.3`]: [old, { id: 'CVE-2025-9999', severity: 'CRITICAL', pkg: 'libxml2' }, { id: 'CVE-2025-1111', severity: 'MEDIUM', pkg: 'curl' }],
        [`${REPO}:2.0.0`]: [],
        [`${REPO}:1.4.9-broken`]: [],
      }),
    );
    const policy = parsePolicy({ rollouts: { scanner: { command: [process.execPath, FAKE_TRIVY, reports] }, watchWindow: '1s', rolloutTimeout: '30s' } }, 'test');
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ policy, taskQueue, kube: () => kube.kubeConfig() })));
  });

  afterAll(async () => {
    await worker?.stop();
    await kube.stop();
    await clients.close();
  });

  it('rolls out a clean patch: scanned, set with its change cause, every replica updated, watched', async () => {
    const result = await (await start('api', { image: `${REPO}:1.4.2` })).result();
    expect(result).toMatchObject({ phase: 'succeeded', from: `${REPO}:1.4.1`, to: `${REPO}:1.4.2`, bump: 'patch' });
    expect(result.steps.map((entry) => entry.step)).toEqual(['checked', 'scanned', 'image-set', 'rolled-out', 'done']);
    expect(kube.image('Deployment', namespace, 'api')).toBe(`${REPO}:1.4.2`);
    const [patch] = patchesOf('api');
    expect(patch).toMatchObject({ contentType: 'application/strategic-merge-patch+json' });
    expect(patch!.body).toEqual({
      metadata: { annotations: { 'kubernetes.io/change-cause': `ops-automation rollout-${namespace}-api: ${REPO}:1.4.1 -> ${REPO}:1.4.2 (by alice)` } },
      spec: { template: { spec: { containers: [{ name: 'app', image: `${REPO}:1.4.2` }] } } },
    });
    const audit = await clients.pool.query(`SELECT actor, action, target FROM audit_events WHERE workflow_id = $1`, [`rollout-${namespace}-api`]);
    expect(audit.rows).toEqual([{ actor: 'alice', action: 'kubernetes.set-image', target: `k8s/${namespace}/deployment/api` }]);
  });

  it('refuses an image the scan blocks, and touches nothing', async () => {
    const cause = await failureOf(await start('blocked', { image: `${REPO}:1.4.3` }));
    expect(cause.message).toBe(`${REPO}:1.4.3 is blocked by the scan: CVE-2025-9999 (CRITICAL in libxml2) not in ${REPO}:1.4.1`);
    expect(patchesOf('blocked')).toEqual([]);
    expect(kube.image('Deployment', namespace, 'blocked')).toBe(`${REPO}:1.4.1`);
  });

  it('waits for approval of a major bump: approved proceeds, one rollout per workload', async () => {
    const handle = await start('api', { image: `${REPO}:2.0.0` });
    const waiting = await progressWhen(handle, 'awaiting-approval');
    expect(waiting.bump).toBe('major');
    await expect(start('api', { image: `${REPO}:2.0.0` })).rejects.toThrow(/already started/i);
    expect(patchesOf('api')).toHaveLength(1);
    const approved = await handle.executeUpdate(approveUpdate, { args: [{ by: 'carol' }] });
    expect(approved.approval).toMatchObject({ decision: 'approved', by: 'carol' });
    expect(await handle.result()).toMatchObject({ phase: 'succeeded', bump: 'major' });
    expect(kube.image('Deployment', namespace, 'api')).toBe(`${REPO}:2.0.0`);
  });

  it('stops a major bump that is rejected, or that nobody approves in time', async () => {
    const rejected = await start('rejected', { image: `${REPO}:2.0.0` });
    await progressWhen(rejected, 'awaiting-approval');
    await rejected.executeUpdate(rejectUpdate, { args: [{ by: 'bob', reason: 'release freeze' }] });
    expect((await failureOf(rejected)).message).toBe('rejected by bob: release freeze; nothing was changed');

    const patient = await start('patient', { image: `${REPO}:2.0.0`, approvalTimeout: '1s' });
    expect((await failureOf(patient)).message).toBe('no approval within 1s; nothing was changed');
    expect((await patient.query(rolloutProgressQuery)).phase).toBe('refused');
    expect([...patchesOf('rejected'), ...patchesOf('patient')]).toEqual([]);
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

  it('rolls back an image that never becomes ready to the one it replaced, and opens an incident', async () => {
    const handle = await start('bad', { image: `${REPO}:1.4.9-broken` });
    const cause = await failureOf(handle);
    expect(cause.message).toMatch(new RegExp(`^rollout of ${REPO}:1\\.4\\.9-broken to Deployment ${namespace}/bad rolled back to ${REPO}:1\\.4\\.1: rollout of Deployment ${namespace}/bad failed: .*timed out progressing`));
    expect(kube.image('Deployment', namespace, 'bad')).toBe(`${REPO}:1.4.1`);
    const progress = await handle.query(rolloutProgressQuery);
    expect(progress.phase).toBe('rolled-back');
    expect(progress.steps.map((entry) => entry.step)).toEqual(['checked', 'scanned', 'image-set', 'failed', 'restore-image']);
    expect(patchesOf('bad').map((patch) => (patch.body as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec.template.spec.containers[0]!.image)).toEqual([
      `${REPO}:1.4.9-broken`,
      `${REPO}:1.4.1`,
    ]);
    const incident = await statusWhen(clients.client.workflow.getHandle(`incident-rollout-failed-${namespace}-bad`), (status) => status.alerts.length === 1);
    expect(incident).toMatchObject({ severity: 'high', service: 'bad', title: `Rollout of ${REPO}:1.4.9-broken to ${namespace}/bad was rolled back` });
  });
});

describe('security rollout, steered and interrupted', () => {
  let clients: StackClients;
  const kube = new FakeKubernetes();
  const taskQueue = uniqueTaskQueue('rollout-steer');
  const namespace = `steer-${taskQueue.slice(-6)}`;
  let activities: ReturnType<typeof createActivities>;
  let policyFile: string;

  beforeAll(async () => {
    clients = await connectStack();
    await kube.start();
    for (const name of ['slow', 'aborted', 'regret']) kube.addWorkload('Deployment', namespace, name, { image: `${REPO}:1.4.1`, replicas: 4, progressDeadlineSeconds: 60 });
    const reports = join(mkdtempSync(join(tmpdir(), 'ops-rollout-')), 'reports.json');
    writeFileSync(reports, JSON.stringify({ [`${REPO}:1.4.1`]: [], [`${REPO}:1.4.2`]: [] }));
    const rollouts = { scanner: { command: [process.execPath, FAKE_TRIVY, reports] }, watchWindow: '1s' };
    policyFile = join(mkdtempSync(join(tmpdir(), 'ops-rollout-policy-')), 'policy.yaml');
    writeFileSync(policyFile, JSON.stringify({ rollouts }));
    activities = createActivities(clients.activityDeps({ policy: parsePolicy({ rollouts }, 'test'), taskQueue, kube: () => kube.kubeConfig() }));
  });

  afterAll(async () => {
    await kube.stop();
    await clients.close();
  });

  const start = (name: string, input: Partial<SecurityRolloutInput> = {}) =>
    clients.client.workflow.start(securityRolloutWorkflow, {
      taskQueue,
      workflowId: `rollout-${namespace}-${name}`,
      args: [{ namespace, deployment: name, image: `${REPO}:1.4.2`, requestedBy: 'alice', ...input }],
    });

  it('finishes correctly when its worker process is killed with SIGKILL in the middle of the rollout', async () => {
    kube.podReadyMs = 1500;
    const handle = await start('slow');
    const dir = mkdtempSync(join(tmpdir(), 'ops-rollout-kill-'));
    const env = {
      ...process.env,
      ...stackEnv(testStack()),
      OPS_TASK_QUEUE: taskQueue,
      OPS_CONFIG: policyFile,
      KUBECONFIG: kube.writeKubeconfig(join(dir, 'kubeconfig')),
      OPS_WORKFLOW_BUNDLE: testStack().workflowBundlePath,
      OPS_WORKER_METRICS_PORT: '0',
      OPS_LOG_LEVEL: 'warn',
    };
    const spawnWorker = () => spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], { cwd: ROOT, env, stdio: 'ignore' });
    const first = spawnWorker();
    try {
      await waitFor('the rollout to be under way', async () => kube.image('Deployment', namespace, 'slow') === `${REPO}:1.4.2` && (await handle.query(rolloutProgressQuery)).phase === 'rolling-out', 60_000).catch(async (error: unknown) => {
        throw new Error(`${(error as Error).message}; progress ${JSON.stringify(await handle.query(rolloutProgressQuery).catch((e: unknown) => String(e)))}; ${kube.requests.length} kube requests`);
      });
      first.kill('SIGKILL');
      await new Promise((resolve) => (first.exitCode !== null || first.signalCode !== null ? resolve(null) : first.once('exit', resolve)));
    } finally {
      first.kill('SIGKILL');
    }
    const second = spawnWorker();
    try {
      const result = await handle.result();
      expect(result.phase).toBe('succeeded');
      expect(result.steps.map((entry) => entry.step)).toEqual(['checked', 'scanned', 'image-set', 'rolled-out', 'done']);
      // The image was set once: the new worker carried on waiting instead of starting over.
      expect(kube.requests.filter((request) => request.method === 'PATCH' && request.path.includes('/deployments/slow'))).toHaveLength(1);
      expect(kube.image('Deployment', namespace, 'slow')).toBe(`${REPO}:1.4.2`);
    } finally {
      second.kill('SIGTERM');
    }
  }, 120_000);

  it('rolls back when an operator aborts mid-rollout, and when one asks for a rollback while watching', async () => {
    kube.podReadyMs = 1500;
    const worker = await startBackgroundWorker(taskQueue, activities);
    try {
      const aborted = await start('aborted');
      await waitFor('the rollout to be under way', async () => (await aborted.query(rolloutProgressQuery)).phase === 'rolling-out', 20_000);
      await aborted.executeUpdate(abortUpdate, { args: [{ by: 'dave', reason: 'wrong build' }] });
      const abortCause = await failureOf(aborted);
      expect(abortCause.message).toBe(`rollout of ${REPO}:1.4.2 to Deployment ${namespace}/aborted rolled back to ${REPO}:1.4.1: aborted by dave: wrong build`);
      expect(kube.image('Deployment', namespace, 'aborted')).toBe(`${REPO}:1.4.1`);

      kube.podReadyMs = 50;
      const regret = await start('regret', { watchWindow: '1m' });
      await waitFor('the watch window', async () => (await regret.query(rolloutProgressQuery)).phase === 'watching', 20_000);
      await regret.executeUpdate(rollbackUpdate, { args: [{ by: 'erin' }] });
      const regretCause = await failureOf(regret);
      expect(regretCause.message).toMatch(/rolled back to .*:1\.4\.1: rolled back by erin$/);
      expect(kube.image('Deployment', namespace, 'regret')).toBe(`${REPO}:1.4.1`);
      await expect(regret.executeUpdate(rollbackUpdate, { args: [{ by: 'erin' }] })).rejects.toThrow();
    } finally {
      await worker.stop();
    }
  });
});

describe('security rollout, analysed against Prometheus', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let prometheus: TestPrometheus;
  const exporter = new TestExporter();
  const kube = new FakeKubernetes();
  const taskQueue = uniqueTaskQueue('rollout-analysis');
  const namespace = `metrics-${taskQueue.slice(-6)}`;
  const figures = (workload: string, errorRatio: number, latency: number) => {
    exporter.set('test_error_ratio', { namespace, workload }, errorRatio);
    exporter.set('test_latency_p95_seconds', { namespace, workload }, latency);
  };

  beforeAll(async () => {
    clients = await connectStack();
    await Promise.all([kube.start(), exporter.start()]);
    kube.podReadyMs = 50;
    prometheus = new TestPrometheus(mkdtempSync(join(tmpdir(), 'ops-prometheus-')), exporter.port);
    for (const name of ['steady', 'regress', 'dark']) kube.addWorkload('Deployment', namespace, name, { image: `${REPO}:1.4.1`, replicas: 2 });
    figures('steady', 0.01, 0.2);
    figures('regress', 0.01, 0.2);
    await prometheus.start();
    // Both series scraped at least once before any rollout reads a baseline.
    await waitFor('the first scrape', async () => (await fetch(`${prometheus.url}/api/v1/query?query=test_error_ratio`).then((r) => r.json()) as { data: { result: unknown[] } }).data.result.length === 2, 20_000);
    const reports = join(mkdtempSync(join(tmpdir(), 'ops-rollout-')), 'reports.json');
    writeFileSync(reports, JSON.stringify({ [`${REPO}:1.4.1`]: [], [`${REPO}:1.4.2`]: [] }));
    const policy = parsePolicy(
      {
        rollouts: {
          scanner: { command: [process.execPath, FAKE_TRIVY, reports] },
          watchWindow: '3s',
          analysis: {
            errorRatioQuery: 'test_error_ratio{namespace="$namespace",workload="$workload"}',
            latencyP95Query: 'test_latency_p95_seconds{namespace="$namespace",workload="$workload"}',
          },
        },
      },
      'test',
    );
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ policy, taskQueue, prometheusUrl: prometheus.url, kube: () => kube.kubeConfig() })));
  }, 60_000);

  afterAll(async () => {
    await worker?.stop();
    await prometheus?.stop();
    await Promise.all([kube.stop(), exporter.stop()]);
    await clients.close();
  });

  const start = (name: string) =>
    clients.client.workflow.start(securityRolloutWorkflow, {
      taskQueue,
      workflowId: `rollout-${namespace}-${name}`,
      args: [{ namespace, deployment: name, image: `${REPO}:1.4.2`, requestedBy: 'alice' }],
    });

  it('passes a rollout whose error ratio and latency hold, recording both figures', async () => {
    const handle = await start('steady');
    await progressWhen(handle, 'watching');
    figures('steady', 0.02, 0.22);
    const result = await handle.result();
    expect(result.phase).toBe('succeeded');
    expect(result.analysis).toEqual({ baseline: { errorRatio: 0.01, latencyP95: 0.2 }, after: { errorRatio: 0.02, latencyP95: 0.22 } });
  });

  it('rolls back a ready image that raises the error ratio', async () => {
    const handle = await start('regress');
    await progressWhen(handle, 'watching');
    figures('regress', 0.12, 0.2);
    const cause = await failureOf(handle);
    expect(cause.message).toBe(
      `rollout of ${REPO}:1.4.2 to Deployment ${namespace}/regress rolled back to ${REPO}:1.4.1: analysis failed: the error ratio rose from 1.0% to 12.0% (limit +5.0 points)`,
    );
    expect(kube.image('Deployment', namespace, 'regress')).toBe(`${REPO}:1.4.1`);
  });

  it('refuses to change a workload Prometheus knows nothing about', async () => {
    const cause = await failureOf(await start('dark'));
    expect(cause.message).toBe(`no baseline for error ratio and p95 latency: Prometheus has no data for ${namespace}/dark; nothing was changed`);
    expect(kube.requests.filter((request) => request.method === 'PATCH' && request.path.includes('/deployments/dark'))).toEqual([]);
  });
});
