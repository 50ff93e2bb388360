import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { waitFor } from '../../scripts/stack/net.js';
import { abortUpdate, rollbackUpdate, rolloutProgressQuery, type SecurityRolloutInput } from '../../workflows/security-rollout.js';
import { deploymentImage, deployOnCluster, ensureNamespace, workloadOnCluster } from '../support/kubernetes.js';
import { fakeScanner, REPO, failureOf, pinned, rolloutStarter } from '../support/rollouts.js';
import { connectStack, kubeConfig, stackEnv, startBackgroundWorker, testKubernetes, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * securityRolloutWorkflow on the real Temporal server and the embedded
 * Kubernetes control plane, its pods made Ready 1.5 s after they are scheduled
 * so a rollout takes a while: a worker process killed mid-rollout, and
 * operators aborting or rolling back a running rollout.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('security rollout, steered and interrupted', () => {
  let clients: StackClients;
  const taskQueue = uniqueTaskQueue('rollout-steer');
  const namespace = `steer-${taskQueue.slice(-6)}`;
  let activities: ReturnType<typeof createActivities>;
  let policyFile: string;

  beforeAll(async () => {
    clients = await connectStack();
    await ensureNamespace(namespace);
    await Promise.all(
      ['slow', 'aborted', 'regret'].map((name) => deployOnCluster(namespace, name, { image: `${REPO}:1.4.1`, replicas: 4, progressDeadlineSeconds: 60, slowReady: name !== 'regret' })),
    );
    const scanner = fakeScanner({ [`${REPO}:1.4.1`]: [], [`${REPO}:1.4.2`]: [] });
    const rollouts = { scanner: { command: scanner }, watchWindow: '1s' };
    policyFile = join(mkdtempSync(join(tmpdir(), 'ops-rollout-policy-')), 'policy.yaml');
    writeFileSync(policyFile, JSON.stringify({ rollouts }));
    activities = createActivities(clients.activityDeps({ policy: parsePolicy({ rollouts }, 'test'), taskQueue, kube: () => kubeConfig() }));
  });

  afterAll(async () => {
    await clients.close();
  });

  const start = (name: string, input: Partial<SecurityRolloutInput> = {}) => rolloutStarter(clients.client, taskQueue, namespace)(name, input);

  it('finishes correctly when its worker process is killed with SIGKILL in the middle of the rollout', async () => {
    const handle = await start('slow');
    const env = {
      ...process.env,
      ...stackEnv(testStack()),
      OPS_TASK_QUEUE: taskQueue,
      OPS_CONFIG: policyFile,
      KUBECONFIG: testKubernetes().kubeconfig,
      OPS_WORKFLOW_BUNDLE: testStack().workflowBundlePath,
      OPS_WORKER_METRICS_PORT: '0',
      OPS_LOG_LEVEL: 'warn',
    };
    const spawnWorker = () => spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], { cwd: ROOT, env, stdio: 'ignore' });
    const first = spawnWorker();
    try {
      await waitFor('the rollout to be under way', async () => (await deploymentImage(namespace, 'slow')) === pinned(`${REPO}:1.4.2`) && (await handle.query(rolloutProgressQuery)).phase === 'rolling-out', 60_000).catch(async (error: unknown) => {
        throw new Error(`${(error as Error).message}; progress ${JSON.stringify(await handle.query(rolloutProgressQuery).catch((e: unknown) => String(e)))}`);
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
      expect(await workloadOnCluster(namespace, 'slow')).toMatchObject({ image: pinned(`${REPO}:1.4.2`), generation: 2 });
    } finally {
      second.kill('SIGTERM');
    }
  }, 120_000);

  it('rolls back when an operator aborts mid-rollout, and when one asks for a rollback while watching', async () => {
    const worker = await startBackgroundWorker(taskQueue, activities);
    try {
      const aborted = await start('aborted');
      await waitFor('the rollout to be under way', async () => (await aborted.query(rolloutProgressQuery)).phase === 'rolling-out', 20_000);
      await aborted.executeUpdate(abortUpdate, { args: [{ by: 'dave', reason: 'wrong build' }] });
      const abortCause = await failureOf(aborted);
      expect(abortCause.message).toBe(`rollout of ${REPO}:1.4.2 to Deployment ${namespace}/aborted rolled back to ${REPO}:1.4.1: aborted by dave: wrong build`);
      expect(await deploymentImage(namespace, 'aborted')).toBe(`${REPO}:1.4.1`);

      const regret = await start('regret', { watchWindow: '1m' });
      await waitFor('the watch window', async () => (await regret.query(rolloutProgressQuery)).phase === 'watching', 20_000);
      await regret.executeUpdate(rollbackUpdate, { args: [{ by: 'erin' }] });
      const regretCause = await failureOf(regret);
      expect(regretCause.message).toMatch(/rolled back to .*:1\.4\.1: rolled back by erin$/);
      expect(await deploymentImage(namespace, 'regret')).toBe(`${REPO}:1.4.1`);
      await expect(regret.executeUpdate(rollbackUpdate, { args: [{ by: 'erin' }] })).rejects.toThrow();
    } finally {
      await worker.stop();
    }
  });
});


describe('security rollout, inside rollout windows', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  const taskQueue = uniqueTaskQueue('rollout-window');
  const namespace = `window-${taskQueue.slice(-6)}`;
  let opensAt: Date;

  beforeAll(async () => {
    clients = await connectStack();
    await ensureNamespace(namespace);
    await Promise.all(['nightly', 'urgent'].map((name) => deployOnCluster(namespace, name, { image: `${REPO}:1.4.1`, replicas: 2 })));
    const scanner = fakeScanner({ [`${REPO}:1.4.1`]: [], [`${REPO}:1.4.2`]: [] });
    // The only window opens 12 s from now (whole seconds): time for the urgent rollout to finish before it.
    opensAt = new Date(Math.ceil((Date.now() + 12_000) / 1000) * 1000);
    const windows = [{ name: 'change-window', start: opensAt.toISOString(), end: new Date(opensAt.getTime() + 3_600_000).toISOString() }];
    const policy = parsePolicy({ rollouts: { scanner: { command: scanner }, watchWindow: '1s', windows } }, 'test');
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ policy, taskQueue, kube: () => kubeConfig() })));
  });

  afterAll(async () => {
    await worker?.stop();
    await clients.close();
  });

  const start = (name: string, input: Partial<SecurityRolloutInput> = {}) => rolloutStarter(clients.client, taskQueue, namespace)(name, input);

  it('waits for the window before changing anything, unless told the fix cannot wait', async () => {
    const urgent = await (await start('urgent', { ignoreWindows: true })).result();
    expect(urgent.steps.map((entry) => entry.step)).not.toContain('waiting-for-window');
    expect(Date.parse(urgent.steps.find((entry) => entry.step === 'image-set')!.at)).toBeLessThan(opensAt.getTime());

    const handle = await start('nightly');
    await waitFor('the wait for the window', async () => (await handle.query(rolloutProgressQuery)).phase === 'waiting-for-window', 20_000);
    expect(await workloadOnCluster(namespace, 'nightly')).toMatchObject({ image: `${REPO}:1.4.1`, generation: 1 });
    const result = await handle.result();
    expect(result.phase).toBe('succeeded');
    const waiting = result.steps.find((entry) => entry.step === 'waiting-for-window');
    expect(waiting?.detail).toBe(`no rollout window is open (change-window); waiting until ${opensAt.toISOString()}`);
    expect(await workloadOnCluster(namespace, 'nightly')).toMatchObject({ image: pinned(`${REPO}:1.4.2`), generation: 2 });
    expect(Date.parse(result.steps.find((entry) => entry.step === 'image-set')!.at)).toBeGreaterThanOrEqual(opensAt.getTime());
  });
});
