import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { instantQuery } from '../../activities/prometheus.js';
import { waitFor } from '../../scripts/stack/net.js';
import { createPgPool } from '../../src/clients/postgres.js';
import { parsePolicy } from '../../src/config/policy.js';
import { migrate } from '../../src/db/migrate.js';
import { failureMessage } from '../../src/domain/failures.js';
import { createLogger } from '../../src/logging/logger.js';
import { buildWebhookServer, type WebhookServer } from '../../src/webhooks/server.js';
import { deploymentMonitorWorkflow, type DeploymentMonitorInput, type DeploymentMonitorResult } from '../../workflows/deployment-monitor.js';
import { deployOnCluster, ensureNamespace, serviceAccountKubeConfig } from '../support/kubernetes.js';
import { closeServer, listenOnLoopback } from '../support/loopback.js';
import { opsctlAsync } from '../support/opsctl.js';
import { TestExporter, TestPrometheus } from '../support/prometheus.js';
import { connectStack, kubeConfig, seededDatabase, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * deploymentMonitorWorkflow against the embedded Kubernetes, a real
 * Prometheus scraping CPU and memory series the test sets, and probe URLs the
 * test serves (fast and slow): each deployment's score as the README's formula
 * gives it, per environment (namespaces, a label selector), on /metrics, and
 * through opsctl monitor once and report; as ops-automation's ServiceAccount
 * with the shipped role.
 */
describe('deployment monitor', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let pool: pg.Pool;
  let databaseUrl: string;
  let app: WebhookServer;
  let probes: Server;
  let probeBase = '';
  const exporter = new TestExporter();
  let prometheus: TestPrometheus;
  const taskQueue = uniqueTaskQueue('monitor');
  const tag = taskQueue.slice(-6);
  const production = `prod-${tag}`;
  const staging = `stage-${tag}`;
  let run = 0;

  const check = (input: DeploymentMonitorInput) => clients.client.workflow.execute(deploymentMonitorWorkflow, { taskQueue, workflowId: `deployment-monitor-${tag}-${(run += 1)}`, args: [input] });
  const byName = (result: DeploymentMonitorResult) => Object.fromEntries(result.environments.flatMap((environment) => environment.deployments).map((health) => [health.deployment, health]));
  const env = () => ({ OPS_TASK_QUEUE: taskQueue, DATABASE_URL: databaseUrl });

  beforeAll(async () => {
    clients = await connectStack();
    databaseUrl = await seededDatabase(`monitor_${tag.replace(/-/g, '_')}`, 'SELECT 1');
    pool = createPgPool(databaseUrl, 'ops-monitor-test');
    await migrate(pool);

    // The probes: / answers at once, /slow after 1.2 s (the threshold is 0.5 s, so it costs every response point).
    probes = createServer((request, response) => setTimeout(() => response.end('ok'), request.url === '/slow' ? 1200 : 0));
    probeBase = `http://127.0.0.1:${await listenOnLoopback(probes)}`;

    const limits = { limits: { cpu: '500m', memory: '256Mi' } };
    await Promise.all([ensureNamespace(production), ensureNamespace(staging)]);
    await Promise.all([
      deployOnCluster(production, 'api', { image: 'registry.test/shop/api:1.0.0', replicas: 2, resources: limits }),
      deployOnCluster(production, 'slow', { image: 'registry.test/shop/slow:1.0.0', replicas: 2, resources: limits }),
      deployOnCluster(production, 'down', { image: 'registry.test/shop/down:1.0.0-never-ready', replicas: 2, waitAvailable: false }),
      deployOnCluster(production, 'idle', { image: 'registry.test/shop/idle:1.0.0', replicas: 0 }),
      deployOnCluster(staging, 'web', { image: 'registry.test/shop/web:1.0.0', replicas: 1, labels: { tier: 'web' } }),
      deployOnCluster(staging, 'worker', { image: 'registry.test/shop/worker:1.0.0', replicas: 1 }),
    ]);

    // CPU cores and memory bytes in use: api at 20% and 25% of its limits, slow's CPU at 90%.
    for (const [name, cpu] of [
      ['api', 0.2],
      ['slow', 0.9],
    ] as const) {
      exporter.set('workload_cpu_cores', { namespace: production, deployment: name }, cpu);
      exporter.set('workload_memory_bytes', { namespace: production, deployment: name }, 128 * 1024 * 1024);
    }
    await exporter.start();
    prometheus = new TestPrometheus(mkdtempSync(join(tmpdir(), 'ops-monitor-prom-')), exporter.port);
    await prometheus.start();
    await waitFor('the CPU series in Prometheus', async () => (await instantQuery(prometheus.url, 'workload_cpu_cores')).length === 2, 30_000);

    // The monitor acts as ops-automation's ServiceAccount, bound to the shipped ClusterRole in both namespaces.
    const asOps: KubeConfig = await serviceAccountKubeConfig(production);
    await kubeConfig()
      .makeApiClient(RbacAuthorizationV1Api)
      .createNamespacedRoleBinding({
        namespace: staging,
        body: {
          metadata: { name: 'ops-automation' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ops-automation' },
          subjects: [{ kind: 'ServiceAccount', name: 'ops-automation', namespace: production }],
        },
      });

    const queries = { cpu: 'workload_cpu_cores{namespace="$namespace",deployment="$deployment"}', memory: 'workload_memory_bytes{namespace="$namespace",deployment="$deployment"}' };
    const policy = parsePolicy(
      {
        environments: {
          production: { namespaces: [production], thresholds: { responseSeconds: 0.5 }, probes: { [`${production}/api`]: `${probeBase}/`, [`${production}/slow`]: `${probeBase}/slow` }, queries },
          staging: { namespaces: [staging], selector: 'tier=web', interval: '5m', retention: '7d' },
        },
      },
      'test',
    );
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ pool, policy, taskQueue, prometheusUrl: prometheus.url, kube: () => asOps })));
    app = buildWebhookServer({ temporal: clients.client, temporalConnection: clients.connection, logger: createLogger({ level: 'silent' }), opsState: { pool, schedulePrefix: `ops-m${tag}-` } });
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await prometheus?.stop();
    await exporter.stop();
    await closeServer(probes);
    await pool?.end();
    await clients?.close();
  });

  it('scores each deployment of an environment from readiness, restarts, response time, CPU and memory', async () => {
    const result = await check({ environment: 'production' });
    expect(result.environments.map((environment) => [environment.environment, environment.recorded])).toEqual([['production', true]]);
    const { api, slow, down, idle } = byName(result);
    expect(api).toMatchObject({ desired: 2, ready: 2, restarts: 0, cpuRatio: 0.2, memoryRatio: 0.25, score: 100, state: 'healthy', reasons: [] });
    expect(api!.responseSeconds).toBeLessThan(0.5);
    // slow: no response points (1.2 s is over twice 0.5 s) and half its CPU points (90% against 80%): 75.
    expect(slow).toMatchObject({ score: 75, state: 'healthy', cpuRatio: 0.9 });
    expect(slow!.reasons).toEqual([expect.stringMatching(/^responded in 1\.\d{3}s \(threshold 0\.5s\)$/), 'cpu at 90% of its limit (threshold 80%)']);
    // down: none ready; only readiness and restarts are measured: 20 of 60 points.
    expect(down).toMatchObject({ desired: 2, ready: 0, score: 33, state: 'down', reasons: ['0/2 ready'] });
    expect(down).not.toHaveProperty('cpuRatio');
    expect(idle).toMatchObject({ desired: 0, score: 100, state: 'healthy' });

    // /metrics exports the newest check.
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body.split('\n');
    const sample = (name: string, deployment: string, state?: string) =>
      metrics.find((entry) => entry.startsWith(`${name}{`) && entry.includes(`deployment="${deployment}"`) && entry.includes('environment="production"') && (!state || entry.includes(`state="${state}"`)))?.split(' ')[1];
    expect([sample('ops_deployment_health_score', 'api'), sample('ops_deployment_health_score', 'slow'), sample('ops_deployment_health_score', 'down')]).toEqual(['100', '75', '33']);
    expect(['desired', 'ready', 'available', 'unavailable'].map((state) => sample('ops_deployment_replicas', 'down', state))).toEqual(['2', '0', '0', '2']);
    expect(Number(sample('ops_deployment_response_seconds', 'slow'))).toBeGreaterThanOrEqual(1.2);
    expect(sample('ops_deployment_response_seconds', 'down')).toBeUndefined();
  });

  it('takes an environment by namespace and label selector, with its own thresholds', async () => {
    const result = await check({ environment: 'staging' });
    expect(Object.keys(byName(result))).toEqual(['web']);
    expect(byName(result).web).toMatchObject({ environment: 'staging', namespace: staging, score: 100, state: 'healthy' });
    const error = await check({ environment: 'nope' }).catch((caught: unknown) => caught);
    expect(failureMessage(error)).toBe('no environment "nope" in the policy\'s environments (production, staging)');
  });

  it('is run by opsctl monitor once (a dry run records nothing) and summed up by opsctl monitor report', async () => {
    const before = (await pool.query<{ count: number }>('SELECT count(*)::int AS count FROM deployment_checks')).rows[0]!.count;
    const once = await opsctlAsync(['monitor', 'once', '--environment', 'production', '--dry-run', '--by', 'carol'], env());
    // A deployment down: exit 1, and the table says why.
    expect(once.status, once.stderr).toBe(1);
    const downLine = once.stdout.split('\n').find((entry) => entry.includes(`${production}/down`));
    expect(downLine).toMatch(/production\s+\S+\/down\s+0\/2\s+0\s+-\s+-\s+-\s+33\s+down\s+0\/2 ready/);
    expect(once.stdout.trim().split('\n').at(-1)).toBe('deployments=4 unhealthy=1 (dry run: nothing recorded)');
    expect((await pool.query<{ count: number }>('SELECT count(*)::int AS count FROM deployment_checks')).rows[0]!.count).toBe(before);

    const report = await opsctlAsync(['--json', 'monitor', 'report', '--since', '1h', '--environment', 'production'], env());
    expect(report.status, report.stderr).toBe(0);
    const { deployments } = JSON.parse(report.stdout) as { deployments: Array<{ deployment: string; checks: number; healthyRatio: number; minReadyRatio: number; lastState: string; averageScore: number }> };
    expect(deployments.map(({ deployment, checks, healthyRatio, minReadyRatio, lastState, averageScore }) => [deployment, checks, healthyRatio, minReadyRatio, lastState, averageScore])).toEqual([
      ['api', 1, 1, 1, 'healthy', 100],
      ['down', 1, 0, 0, 'down', 33],
      ['idle', 1, 1, 1, 'healthy', 100],
      ['slow', 1, 1, 1, 'healthy', 75],
    ]);
    const table = await opsctlAsync(['monitor', 'report', '--since', '24h'], env());
    expect(table.stdout.trim().split('\n').at(-1)).toMatch(/^since \S+: deployments=5 checks=5$/);
    const bad = await opsctlAsync(['monitor', 'report', '--since', 'yesterday'], env());
    expect([bad.status, bad.stderr]).toEqual([2, 'opsctl: --since "yesterday": expected a duration such as 24h or 7d\n']);
  });
});
