import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { waitFor } from '../../scripts/stack/net.js';
import { type SecurityRolloutInput } from '../../workflows/security-rollout.js';
import { FakeKubernetes } from '../support/kube-fake.js';
import { TestExporter, TestPrometheus } from '../support/prometheus.js';
import { fakeScanner, REPO, failureOf, pinned, rolloutStarter, progressWhen } from '../support/rollouts.js';
import { connectStack, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * securityRolloutWorkflow on the real Temporal server and the real
 * Kubernetes client, against the Kubernetes fake that rolls pods out over
 * time, with a real Prometheus scraping a test exporter: analysis against a
 * baseline, and the canary strategy.
 */

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
    for (const name of ['steady', 'regress', 'dark', 'cautious', 'doubtful', 'leftover']) kube.addWorkload('Deployment', namespace, name, { image: `${REPO}:1.4.1`, replicas: 2 });
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
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ policy, taskQueue, prometheusUrl: prometheus.url, kube: () => kube.kubeConfig() })));
  }, 60_000);

  afterAll(async () => {
    await worker?.stop();
    await prometheus?.stop();
    await Promise.all([kube.stop(), exporter.stop()]);
    await clients.close();
  });

  const start = (name: string, input: Partial<SecurityRolloutInput> = {}) => rolloutStarter(clients.client, taskQueue, namespace)(name, input);

  it('promotes a canary that passes its analysis, then removes it', async () => {
    const result = await (await start('cautious', { strategy: 'canary' })).result();
    expect(result.phase).toBe('succeeded');
    expect(result.steps.map((entry) => entry.step)).toEqual(['checked', 'scanned', 'baseline', 'canary-created', 'canary-ready', 'canary-analysed', 'promoted', 'rolled-out', 'canary-removed', 'analysed', 'done']);
    expect(kube.image('Deployment', namespace, 'cautious')).toBe(pinned(`${REPO}:1.4.2`));
    expect(kube.exists('Deployment', namespace, 'cautious-canary')).toBe(false);
    const created = kube.requests.find((request) => request.method === 'POST' && request.path.startsWith(`/apis/apps/v1/namespaces/${namespace}/deployments?`));
    expect(created?.body).toMatchObject({
      metadata: { name: 'cautious-canary', labels: { track: 'canary' } },
      spec: { replicas: 1, selector: { matchLabels: { app: 'cautious', track: 'canary' } }, template: { spec: { containers: [{ name: 'app', image: pinned(`${REPO}:1.4.2`) }] } } },
    });
  });

  it('replaces a leftover canary that runs another image before it judges anything', async () => {
    // A canary left behind (by a crashed run, or by hand) with an image nobody scanned.
    kube.addWorkload('Deployment', namespace, 'leftover-canary', { image: `${REPO}:0.9.0-untested`, replicas: 1 });
    const result = await (await start('leftover', { strategy: 'canary' })).result();
    expect(result.phase).toBe('succeeded');
    expect(result.steps.find((entry) => entry.step === 'canary-replaced')?.detail).toBe(
      `a leftover leftover-canary (a Deployment not made by ops-automation running ${REPO}:0.9.0-untested) was replaced`,
    );
    const recreated = kube.requests.filter((request) => request.method === 'POST' && (request.body as { metadata?: { name?: string } } | undefined)?.metadata?.name === 'leftover-canary');
    expect(recreated.at(-1)?.body).toMatchObject({ spec: { template: { spec: { containers: [{ image: pinned(`${REPO}:1.4.2`) }] } } } });
    expect(kube.image('Deployment', namespace, 'leftover')).toBe(pinned(`${REPO}:1.4.2`));
  });

  it('removes a canary that fails its analysis and never touches the main Deployment', async () => {
    const cause = await failureOf(await start('doubtful', { strategy: 'canary' }));
    expect(cause.message).toBe(
      `rollout of ${REPO}:1.4.2 to Deployment ${namespace}/doubtful stopped at the canary, which was removed; doubtful still runs ${REPO}:1.4.1: canary analysis failed: the error ratio rose from 1.0% to 30.0% (limit +5.0 points)`,
    );
    expect(kube.exists('Deployment', namespace, 'doubtful-canary')).toBe(false);
    expect(kube.requests.filter((request) => request.method === 'PATCH' && request.path.includes('/deployments/doubtful'))).toEqual([]);
    expect(kube.image('Deployment', namespace, 'doubtful')).toBe(`${REPO}:1.4.1`);
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
