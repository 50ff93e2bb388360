import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import type { HealthDecision } from '../../src/domain/health-check.js';
import { healthCheckWorkflow, type HealthCheckInput } from '../../workflows/health-check.js';
import { statusQuery } from '../../workflows/incident.js';
import { AppsV1Api, AutoscalingV2Api } from '@kubernetes/client-node';
import { deployOnCluster, ensureNamespace, markPodUnready, podNames, workloadOnCluster } from '../support/kubernetes.js';
import { waitFor } from '../../scripts/stack/net.js';
import { opsctlAsync } from '../support/opsctl.js';
import { TestExporter, TestPrometheus } from '../support/prometheus.js';
import { connectStack, kubeConfig, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * healthCheckWorkflow against the embedded Kubernetes and a real Prometheus
 * scraping series the test sets: each rule on both sides of its threshold,
 * the guardrails that bound it, a dry run, and the incident raised when
 * self-healing runs out of attempts.
 */
const MINUTE = 60_000;
const WINDOW = '10s';

describe('health check', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  // Pod names are the ReplicaSets' own: the test marks the first ones, in the order the API server lists them.
  const pods: Record<string, string[]> = {};
  const replicasOf = async (name: string) => (await kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeploymentScale({ namespace, name })).spec?.replicas;
  const exporter = new TestExporter();
  let prometheus: TestPrometheus;
  const taskQueue = uniqueTaskQueue('health');
  const namespace = `shop-${taskQueue.slice(-6)}`;
  const t0 = Date.now();
  let run = 0;

  // name: [replicas, cpu ratio of requests, memory bytes growth per second]; hot and leaky come
  // last, so the run right after the full one finds their cooldowns still running.
  const workloads: Record<string, [number, number | undefined, number | undefined]> = {
    stuck: [3, 0.5, 0],
    crashing: [5, 0.5, 0],
    warm: [3, 0.7, 0],
    cold: [3, 0.2, 0],
    cool: [3, 0.35, 0],
    'hot-max': [4, 0.95, 0],
    'cold-min': [2, 0.1, 0],
    slow: [2, 0.5, 1000],
    'leaky-again': [2, 0.5, 100_000],
    dark: [2, undefined, undefined],
    autoscaled: [2, 0.9, 0],
    hot: [3, 0.9, 0],
    leaky: [2, 0.5, 100_000],
  };

  const check = (input: HealthCheckInput = {}) =>
    clients.client.workflow.execute(healthCheckWorkflow, { taskQueue, workflowId: `health-check-${taskQueue.slice(-6)}-${(run += 1)}`, args: [input] });
  const of = (decisions: HealthDecision[], name: string, rule: HealthDecision['rule']) =>
    decisions.filter((decision) => decision.target === `${namespace}/${name}` && decision.rule === rule).map(({ action, taken, reason, pod, to }) => ({ action, taken, reason, ...(pod ? { pod } : {}), ...(to ? { to } : {}) }));

  beforeAll(async () => {
    clients = await connectStack();
    await ensureNamespace(namespace);
    await Promise.all(Object.entries(workloads).map(([name, [replicas]]) => deployOnCluster(namespace, name, { image: 'registry.test/shop/app:1.0.0', replicas })));
    for (const name of ['stuck', 'crashing']) pods[name] = await podNames(namespace, name);
    // An autoscaler owns autoscaled's replica count (2-6, within which the HPA controller leaves it be).
    await kubeConfig().makeApiClient(AutoscalingV2Api).createNamespacedHorizontalPodAutoscaler({
      namespace,
      body: { metadata: { name: 'autoscaled-cpu' }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'autoscaled' }, minReplicas: 2, maxReplicas: 6 } },
    });
    for (const [name, [, cpu, growth]] of Object.entries(workloads)) {
      if (cpu !== undefined) exporter.set('workload_cpu_request_ratio', { namespace, deployment: name }, cpu);
      if (growth !== undefined) exporter.set('workload_memory_bytes', { namespace, deployment: name }, () => 400e6 + (growth * (Date.now() - t0)) / 1000);
    }
    await markPodUnready(namespace, pods.stuck![0]!, new Date(Date.now() - 6 * MINUTE));
    await markPodUnready(namespace, pods.stuck![1]!, new Date(Date.now() - 4 * MINUTE), 'ImagePullBackOff');
    for (const name of pods.crashing!) await markPodUnready(namespace, name, new Date(Date.now() - 7 * MINUTE));
    await exporter.start();
    prometheus = new TestPrometheus(mkdtempSync(join(tmpdir(), 'ops-health-prom-')), exporter.port);
    await prometheus.start();
    const policy = parsePolicy(
      {
        healthCheck: {
          targets: Object.keys(workloads).map((deployment) => ({ namespace, deployment, ...(deployment === 'hot-max' ? { maxReplicas: 4 } : {}) })),
          cpu: { query: 'workload_cpu_request_ratio{namespace="$namespace",deployment="$workload"}', scaleUpFor: WINDOW, scaleDownFor: WINDOW, maxReplicas: 5 },
          memory: { query: 'workload_memory_bytes{namespace="$namespace",deployment="$workload"}', over: WINDOW },
        },
      },
      'test',
    );
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ policy, taskQueue, kube: () => kubeConfig(), prometheusUrl: prometheus.url })));
    // Two restarts of leaky-again earlier today: its third is over the daily limit.
    for (const hoursAgo of [5, 3]) {
      await clients.pool.query(
        `INSERT INTO remediation_actions (guard_key, taken_at, workflow_id, idempotency_key) VALUES ($1, now() - make_interval(hours => $2), 'earlier', $3)`,
        [`memory-restart:k8s/${namespace}/deployment/leaky-again`, hoursAgo, `earlier-${namespace}-${hoursAgo}`],
      );
    }
    // Every window needs a full ten seconds of samples.
    await new Promise((resolve) => setTimeout(resolve, 11_000));
  }, 60_000);

  afterAll(async () => {
    await worker?.stop();
    await prometheus?.stop();
    await exporter.stop();
    await clients?.close();
  });

  it('a dry run decides everything and changes nothing', async () => {
    const result = await check({ dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(result.incidents).toEqual([]);
    const [stuck] = pods.stuck!;
    expect(of(result.decisions, 'stuck', 'pods')).toEqual([{ action: 'delete-pod', taken: false, pod: stuck, reason: expect.stringMatching(new RegExp(`^pod ${stuck} not ready for 3\\d\\ds; would delete it$`)) }]);
    expect(of(result.decisions, 'hot', 'cpu')).toEqual([expect.objectContaining({ action: 'scale-up', taken: false, to: 4, reason: expect.stringMatching(/; would scale 3 -> 4$/) })]);
    // Nothing changed: every Deployment at its first generation, the stuck pods all still there.
    expect(await Promise.all(Object.keys(workloads).map(async (name) => (await workloadOnCluster(namespace, name)).generation))).toEqual(Object.keys(workloads).map(() => 1));
    expect(await podNames(namespace, 'stuck')).toEqual(pods.stuck);
    const reserved = await clients.pool.query(`SELECT count(*)::int AS n FROM remediation_actions WHERE guard_key LIKE $1`, [`%k8s/${namespace}/%`]);
    expect(reserved.rows[0].n).toBe(2);
  });

  it('opsctl health check runs it, here as a dry run of one workload', async () => {
    const result = await opsctlAsync(['--json', 'health', 'check', '--dry-run', '--only', `${namespace}/stuck`], { OPS_TASK_QUEUE: taskQueue });
    expect(result.status, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout) as { targets: number; decisions: HealthDecision[] };
    expect(parsed.targets).toBe(1);
    expect(parsed.decisions.map((decision) => [decision.rule, decision.action, decision.taken])).toEqual([
      ['pods', 'delete-pod', false],
      ['cpu', 'none', false],
      ['memory', 'none', false],
    ]);
  });

  it('takes each rule on the right side of its threshold, within its guardrails, and raises an incident when out of attempts', async () => {
    const result = await check();
    const { decisions } = result;

    // Pods: not ready for 6 minutes is deleted, for 4 minutes is left alone.
    const [stuck, waiting, fine] = pods.stuck!;
    expect(of(decisions, 'stuck', 'pods')).toEqual([{ action: 'delete-pod', taken: true, pod: stuck, reason: expect.stringMatching(new RegExp(`^pod ${stuck} not ready for 3\\d\\ds$`)) }]);
    // The deleted pod is gone and its ReplicaSet made a new one; the one stuck for 4 minutes is left alone.
    await waitFor('the replacement of the deleted pod', async () => {
      const now = await podNames(namespace, 'stuck');
      return now.length === 3 && !now.includes(stuck!);
    }, 15_000);
    expect((await podNames(namespace, 'stuck')).filter((name) => pods.stuck!.includes(name)).sort()).toEqual([waiting, fine].sort());
    // Five stuck pods of one owner: three deleted, then the guardrail holds.
    const crashing = of(decisions, 'crashing', 'pods');
    const [c0, c1, c2, c3, c4] = pods.crashing!;
    expect(crashing.filter((decision) => decision.taken).map((decision) => decision.pod)).toEqual([c0, c1, c2]);
    expect(crashing.filter((decision) => !decision.taken)).toEqual(
      [c3, c4].map((pod) => ({ action: 'delete-pod', taken: false, pod, reason: expect.stringMatching(new RegExp(`^pod ${pod} not ready for 4\\d\\ds; refused: guardrail: 3 of at most 3 actions on this target in the last 10m$`)) })),
    );

    // CPU: above 80% scales up one, below 30% down one, in between nothing, and the bounds hold.
    expect(of(decisions, 'hot', 'cpu')).toEqual([{ action: 'scale-up', taken: true, to: 4, reason: 'CPU above 80% of requests for 10s (lowest 90%)' }]);
    expect(of(decisions, 'warm', 'cpu')).toEqual([{ action: 'none', taken: false, reason: 'CPU within bounds: lowest 70% over 10s (scale up above 80%); highest 70% over 10s (scale down below 30%)' }]);
    expect(of(decisions, 'cold', 'cpu')).toEqual([{ action: 'scale-down', taken: true, to: 2, reason: 'CPU below 30% of requests for 10s (highest 20%)' }]);
    expect(of(decisions, 'cool', 'cpu')).toEqual([expect.objectContaining({ action: 'none' })]);
    expect(of(decisions, 'hot-max', 'cpu')).toEqual([{ action: 'scale-up', taken: false, reason: 'CPU above 80% of requests for 10s (lowest 95%); refused: already at the maximum of 4 replicas' }]);
    expect(of(decisions, 'cold-min', 'cpu')).toEqual([{ action: 'scale-down', taken: false, reason: 'CPU below 30% of requests for 10s (highest 10%); refused: already at the minimum of 2 replicas' }]);
    expect(of(decisions, 'dark', 'cpu')).toEqual([{ action: 'none', taken: false, reason: 'no data: Prometheus has no CPU figures for the whole window' }]);
    // An HorizontalPodAutoscaler owns autoscaled's count: reported, not fought.
    expect(of(decisions, 'autoscaled', 'cpu')).toEqual([
      { action: 'scale-up', taken: false, to: 3, reason: 'CPU above 80% of requests for 10s (lowest 90%); not scaled: HorizontalPodAutoscaler autoscaled-cpu owns its replica count (2-6)' },
    ]);
    expect(await replicasOf('autoscaled')).toBe(2);
    expect(await replicasOf('hot')).toBe(4);
    expect(await replicasOf('cold')).toBe(2);

    // Memory: 360 MB/h restarts, 3.6 MB/h does not, and a third restart in a day is refused.
    expect(of(decisions, 'leaky', 'memory')).toEqual([{ action: 'rolling-restart', taken: true, reason: expect.stringMatching(/^memory grew 3[56]\d(\.\d)? MB\/h over 10s \(limit 10 MB\/h\)$/) }]);
    expect(of(decisions, 'slow', 'memory')).toEqual([{ action: 'none', taken: false, reason: expect.stringMatching(/^memory growth 3\.\d MB\/h within 10 MB\/h$/) }]);
    expect(of(decisions, 'leaky-again', 'memory')).toEqual([
      { action: 'rolling-restart', taken: false, reason: expect.stringMatching(/ MB\/h over 10s \(limit 10 MB\/h\); refused: guardrail: 2 of at most 2 actions on this target in the last 1440m$/) },
    ]);
    // One rolling restart of leaky: one template change.
    expect((await workloadOnCluster(namespace, 'leaky')).generation).toBe(2);

    // Out of attempts: pods of crashing, no room for hot-max, restarts of leaky-again.
    expect(result.incidents.sort()).toEqual([`incident-self-healing-${namespace}-crashing`, `incident-self-healing-${namespace}-hot-max`, `incident-self-healing-${namespace}-leaky-again`].sort());
    const incident = await clients.client.workflow.getHandle(`incident-self-healing-${namespace}-crashing`).query(statusQuery);
    expect(incident.alerts[0]!.annotations.description).toMatch(
      new RegExp(`^pod ${c3} not ready for 4\\d\\ds, and pods of ReplicaSet/crashing-[a-z0-9]+ were deleted 3 times already; pod ${c4} not ready for 4\\d\\ds, and pods of ReplicaSet/crashing-[a-z0-9]+ were deleted 3 times already$`),
    );

    // Every action is audited.
    const audit = await clients.pool.query(`SELECT action, target FROM audit_events WHERE workflow_id = $1 ORDER BY id`, [`health-check-${taskQueue.slice(-6)}-${run}`]);
    expect(audit.rows.map((row: { action: string }) => row.action).sort()).toEqual(
      ['kubernetes.delete-pod', 'kubernetes.delete-pod', 'kubernetes.delete-pod', 'kubernetes.delete-pod', 'kubernetes.scale', 'kubernetes.scale', 'kubernetes.restart'].sort(),
    );
    for (const id of result.incidents) await clients.client.workflow.getHandle(id).executeUpdate('resolve', { args: [{ by: 'alice' }] });
  });

  it('a second run right after changes nothing it just changed: the scale and restart cooldowns hold', async () => {
    const result = await check({ only: [`${namespace}/hot`, `${namespace}/leaky`] });
    expect(of(result.decisions, 'hot', 'cpu')).toEqual([expect.objectContaining({ action: 'scale-up', taken: false, reason: expect.stringMatching(/refused: guardrail: 1 of at most 1 actions on this target in the last 10s$/) })]);
    expect(of(result.decisions, 'leaky', 'memory')).toEqual([expect.objectContaining({ action: 'rolling-restart', taken: false, reason: expect.stringMatching(/refused: guardrail: cooldown of 10s/) })]);
    expect(result.incidents).toEqual([]);
  });
});
