import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { waitFor } from '../../scripts/stack/net.js';
import { type SecurityRolloutInput } from '../../workflows/security-rollout.js';
import { deploymentImage, deployOnCluster, ensureNamespace, untilDeploymentGone, workloadOnCluster } from '../support/kubernetes.js';
import { TestExporter, TestPrometheus } from '../support/prometheus.js';
import { fakeScanner, REPO, failureOf, pinned, rolloutStarter, progressWhen } from '../support/rollouts.js';
import { connectStack, kubeConfig, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * securityRolloutWorkflow on the real Temporal server and the real
 * Kubernetes client, against the embedded control plane (real Deployment
 * controller, kwok nodes), with a real Prometheus scraping a test exporter: analysis against a
 * baseline, and the canary strategy.
 */

describe('security rollout, analysed against Prometheus', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let prometheus: TestPrometheus;
  const exporter = new TestExporter();
  const taskQueue = uniqueTaskQueue('rollout-analysis');
  const namespace = `metrics-${taskQueue.slice(-6)}`;
  const figures = (workload: string, errorRatio: number, latency: number) => {
    exporter.set('test_error_ratio', { namespace, workload }, errorRatio);
    exporter.set('test_latency_p95_seconds', { namespace, workload }, latency);
  };

  beforeAll(async () => {
    clients = await connectStack();
    await exporter.start();
    prometheus = new TestPrometheus(mkdtempSync(join(tmpdir(), 'ops-prometheus-')), exporter.port);
    await ensureNamespace(namespace);
    await Promise.all(['steady', 'regress', 'dark', 'cautious', 'doubtful', 'leftover'].map((name) => deployOnCluster(namespace, name, { image: `${REPO}:1.4.1`, replicas: 2 })));
    for (const name of ['steady', 'regress', 'cautious', 'doubtful', 'leftover']) figures(name, 0.01, 0.2);
    // The canaries' own series, as their pods would report them.
    figures('cautious-canary', 0.012, 0.21);
    figures('leftover-canary', 0.012, 0.21);
    figures('doubtful-canary', 0.3, 0.21);
    await prometheus.start();
    // Both series scraped at least once before any rollout reads a baseline.
    await waitFor('the first scrape', async () => (await fetch(`${prometheus.url}/api/v1/query?query=test_error_ratio`).then((r) => r.json()) as { data: { result: unknown[] } }).data.result.length === 8, 20_000);
    const scanner = fakeScanner({ [`${REPO}:1.4.1`]: [], [`${REPO}:1.4.2`]: [] });
    const policy = parsePolicy(
      {
        rollouts: {
          scanner: { command: scanner },
          watchWindow: '3s',
          analysis: {
            errorRatioQuery: 'test_error_ratio{namespace="$namespace",workload="$workload"}',
            latencyP95Query: 'test_latency_p95_seconds{namespace="$namespace",workload="$workload"}',
          },
        },
      },
      'test',
    );
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ policy, taskQueue, prometheusUrl: prometheus.url, kube: () => kubeConfig() })));
  }, 60_000);

  afterAll(async () => {
    await worker?.stop();
    await prometheus?.stop();
    await exporter.stop();
    await clients.close();
  });

  const start = (name: string, input: Partial<SecurityRolloutInput> = {}) => rolloutStarter(clients.client, taskQueue, namespace)(name, input);

  it('promotes a canary that passes its analysis, then removes it', async () => {
    const result = await (await start('cautious', { strategy: 'canary' })).result();
    expect(result.phase).toBe('succeeded');
    expect(result.steps.map((entry) => entry.step)).toEqual(['checked', 'scanned', 'baseline', 'canary-created', 'canary-ready', 'canary-analysed', 'promoted', 'rolled-out', 'canary-removed', 'analysed', 'done']);
    expect(await deploymentImage(namespace, 'cautious')).toBe(pinned(`${REPO}:1.4.2`));
    await untilDeploymentGone(namespace, 'cautious-canary');
    // The canary ran the new image beside the main Deployment (its create is audited with what it ran).
    const canary = await clients.pool.query(`SELECT details FROM audit_events WHERE action = 'kubernetes.create-canary' AND target = $1`, [`k8s/${namespace}/deployment/cautious-canary`]);
    expect(canary.rows).toEqual([{ details: { of: 'cautious', image: pinned(`${REPO}:1.4.2`) } }]);
  });

  it('replaces a leftover canary that runs another image before it judges anything', async () => {
    // A canary left behind (by a crashed run, or by hand) with an image nobody scanned.
    await deployOnCluster(namespace, 'leftover-canary', { image: `${REPO}:0.9.0-untested`, replicas: 1 });
    const result = await (await start('leftover', { strategy: 'canary' })).result();
    expect(result.phase).toBe('succeeded');
    expect(result.steps.find((entry) => entry.step === 'canary-replaced')?.detail).toBe(
      `a leftover leftover-canary (a Deployment not made by ops-automation running ${REPO}:0.9.0-untested) was replaced`,
    );
    const recreated = await clients.pool.query(`SELECT details FROM audit_events WHERE action = 'kubernetes.create-canary' AND target = $1`, [`k8s/${namespace}/deployment/leftover-canary`]);
    expect(recreated.rows).toEqual([{ details: { of: 'leftover', image: pinned(`${REPO}:1.4.2`), replaced: `a Deployment not made by ops-automation running ${REPO}:0.9.0-untested` } }]);
    expect(await deploymentImage(namespace, 'leftover')).toBe(pinned(`${REPO}:1.4.2`));
  });

  it('removes a canary that fails its analysis and never touches the main Deployment', async () => {
    const cause = await failureOf(await start('doubtful', { strategy: 'canary' }));
    expect(cause.message).toBe(
      `rollout of ${REPO}:1.4.2 to Deployment ${namespace}/doubtful stopped at the canary, which was removed; doubtful still runs ${REPO}:1.4.1: canary analysis failed: the error ratio rose from 1.0% to 30.0% (limit +5.0 points)`,
    );
    await untilDeploymentGone(namespace, 'doubtful-canary');
    expect(await workloadOnCluster(namespace, 'doubtful')).toMatchObject({ image: `${REPO}:1.4.1`, generation: 1 });
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
    expect(await deploymentImage(namespace, 'regress')).toBe(`${REPO}:1.4.1`);
  });

  it('refuses to change a workload Prometheus knows nothing about', async () => {
    const cause = await failureOf(await start('dark'));
    expect(cause.message).toBe(`no baseline for error ratio and p95 latency: Prometheus has no data for ${namespace}/dark; nothing was changed`);
    expect((await workloadOnCluster(namespace, 'dark')).generation).toBe(1);
  });
});
