import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, RbacAuthorizationV1Api, KubernetesObjectApi, loadYaml, PatchStrategy, type KubernetesObject, type V1ClusterRole, type V1Deployment } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { createKubernetesActivities, type WorkloadState } from '../../activities/kubernetes.js';
import { parsePolicy } from '../../src/config/policy.js';
import { waitFor } from '../../scripts/stack/net.js';
import { actingAs, deployOnCluster, ensureNamespace, shippedClusterRole } from '../support/kubernetes.js';
import { quietSdkLogger } from '../support/quiet-log.js';
import { connectStack, kubeConfig, type StackClients } from '../support/stack.js';

/**
 * deploy/helm/ops-automation: linted, rendered with default and full values,
 * and the full rendering applied to the embedded control plane with
 * server-side apply, where its Deployments roll out on kwok nodes, KEDA's own
 * CRD accepts its ScaledObjects, and its ServiceAccount may do what the
 * shipped Role allows in the namespaces it is bound in, and nothing elsewhere.
 */
const CHART = fileURLToPath(new URL('../../deploy/helm/ops-automation', import.meta.url));
const FULL_VALUES = join(CHART, 'ci', 'full-values.yaml');
const EXAMPLE_POLICY = fileURLToPath(new URL('../../deploy/policy.example.yaml', import.meta.url));

type Rendered = KubernetesObject & { spec?: Record<string, unknown>; data?: Record<string, string>; rules?: unknown };

describe('Helm chart', () => {
  const { helm, scaledObjectCrd } = inject('helm');
  // helm keeps its caches and repositories here, not in the user's home.
  const helmHome = mkdtempSync(join(tmpdir(), 'ops-helm-'));
  const id = Date.now().toString(36);
  const release = `chart-${id}`;
  const namespace = `ops-${id}`;
  const acted = `acted-${id}`;
  const fullname = `${release}-ops-automation`;
  let clients: StackClients;

  const runHelm = (args: string[]) =>
    spawnSync(helm, args, { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: helmHome, HELM_CONFIG_HOME: helmHome, HELM_DATA_HOME: helmHome } });
  const documents = (...args: string[]) => {
    const result = runHelm(['template', release, CHART, '--namespace', namespace, '--kube-version', 'v1.37.2', ...args]);
    expect(result.status, result.stderr).toBe(0);
    return parseAllDocuments(result.stdout).filter((document) => document.contents !== null);
  };
  /** As the API server's JSON has them. */
  const render = (...args: string[]): Rendered[] => documents(...args).map((document) => document.toJS() as Rendered);
  const fullValues = ['-f', FULL_VALUES, '--set-file', `policy.content=${EXAMPLE_POLICY}`, '--set', `rbac.namespaces={${acted}}`];
  const full = () => render(...fullValues);
  const find = (objects: Rendered[], kind: string, name: string) => objects.find((object) => object.kind === kind && object.metadata?.name === name);
  const container = (deployment: Rendered | V1Deployment | undefined) => (deployment as V1Deployment).spec!.template.spec!.containers[0]!;

  beforeAll(async () => {
    clients = await connectStack();
    await Promise.all([ensureNamespace(namespace), ensureNamespace(acted)]);
  });

  afterAll(async () => {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    for (const name of [namespace, acted]) await core.deleteNamespace({ name }).catch(() => undefined);
    await kubeConfig().makeApiClient(RbacAuthorizationV1Api).deleteClusterRole({ name: fullname }).catch(() => undefined);
    await clients?.close();
  });

  it('passes helm lint, strict, with default and with full values', () => {
    for (const args of [[], ['-f', FULL_VALUES, '--set-file', `policy.content=${EXAMPLE_POLICY}`]]) {
      const result = runHelm(['lint', CHART, '--strict', '--kube-version', 'v1.37.2', ...args]);
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
      expect(result.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('renders the default values: worker, data worker, webhook server with its Service, probes and PodDisruptionBudget, and the shipped Role', () => {
    const objects = render();
    expect(objects.map((object) => `${object.kind}/${object.metadata!.name}`).sort()).toEqual(
      [
        `ClusterRole/${fullname}`,
        `ConfigMap/${fullname}-env`,
        `Deployment/${fullname}-data-worker`,
        `Deployment/${fullname}-webhooks`,
        `Deployment/${fullname}-worker`,
        `PodDisruptionBudget/${fullname}-webhooks`,
        `Service/${fullname}-webhooks`,
        `ServiceAccount/${fullname}`,
      ].sort(),
    );
    // The chart's ClusterRole is exactly deploy/kubernetes/rbac.yaml's.
    expect((find(objects, 'ClusterRole', fullname) as V1ClusterRole).rules).toEqual(shippedClusterRole().rules);
    const webhooks = container(find(objects, 'Deployment', `${fullname}-webhooks`));
    expect(webhooks.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(webhooks.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect((find(objects, 'Deployment', `${fullname}-webhooks`) as V1Deployment).spec!.template.spec!.automountServiceAccountToken).toBe(false);
    expect(find(objects, 'Service', `${fullname}-webhooks`)!.metadata!.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080' });
    expect(container(find(objects, 'Deployment', `${fullname}-worker`)).command).toEqual(['node', '--max-old-space-size=307', '--max-semi-space-size=16', '--heap-growing-percent=100', 'dist/workers/main.js']);
    expect(find(objects, 'ConfigMap', `${fullname}-env`)!.data).toEqual({
      TEMPORAL_ADDRESS: 'temporal-frontend.temporal.svc.cluster.local:7233',
      TEMPORAL_NAMESPACE: 'default',
      OPS_TASK_QUEUE: 'ops',
      OPS_DATA_TASK_QUEUE: 'ops-data',
      OPS_STATE_DIR: '/var/lib/ops-automation',
    });
  });

  it('keeps secrets out of ConfigMaps: a secret given as a plain setting is refused, naming it', () => {
    const result = runHelm(['template', release, CHART, '--set', 'env.DATABASE_URL=postgres://ops:hunter2@db/ops']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/env\.DATABASE_URL is a secret: put it in the Secret named by secrets\.existingSecret or in secrets\.refs/);
    expect(result.stderr).not.toContain('hunter2');
  });

  it('renders full values: policy as a ConfigMap the worker accepts, secrets by reference, KEDA ScaledObjects on both task queues, no fixed replicas', () => {
    const objects = full();
    const policy = find(objects, 'ConfigMap', `${fullname}-policy`)!.data!['policy.yaml']!;
    expect(policy).toBe(readFileSync(EXAMPLE_POLICY, 'utf8').trimEnd() + '\n');
    expect(() => parsePolicy(parse(policy), 'policy.yaml')).not.toThrow();
    const worker = find(objects, 'Deployment', `${fullname}-worker`) as V1Deployment;
    expect(worker.spec!.replicas).toBeUndefined();
    expect(container(worker).envFrom).toEqual([{ configMapRef: { name: `${fullname}-env` } }, { secretRef: { name: 'ops-automation' } }]);
    expect(container(worker).env).toContainEqual({ name: 'TEMPORAL_API_KEY', valueFrom: { secretKeyRef: { name: 'temporal-cloud', key: 'api-key' } } });
    expect(container(worker).volumeMounts).toContainEqual({ name: 'policy', mountPath: '/etc/ops-automation', readOnly: true });
    // The data worker's OPS_STATE_DIR holds the WAL archive's spool: a volume of its own, as the values give it.
    const dataWorker = find(objects, 'Deployment', `${fullname}-data-worker`) as V1Deployment;
    expect(container(dataWorker).volumeMounts).toContainEqual({ name: 'state', mountPath: '/var/lib/ops-automation' });
    expect(dataWorker.spec!.template.spec!.volumes).toContainEqual({ name: 'state', emptyDir: { sizeLimit: '20Gi' } });
    expect(find(objects, 'ConfigMap', `${fullname}-env`)!.data).toMatchObject({ OPS_CONFIG: '/etc/ops-automation/policy.yaml', S3_BUCKET: 'ops-automation-backups', TEMPORAL_TLS: 'true' });
    for (const [component, queue] of [['worker', 'ops'], ['data-worker', 'ops-data']] as const) {
      const scaled = find(objects, 'ScaledObject', `${fullname}-${component}`)!;
      expect(scaled.spec).toMatchObject({
        scaleTargetRef: { name: `${fullname}-${component}` },
        triggers: [{ type: 'temporal', metadata: { endpoint: 'ops.a1b2c.tmprl.cloud:7233', namespace: 'ops.a1b2c', taskQueue: queue }, authenticationRef: { name: 'temporal-cloud' } }],
      });
    }
    const binding = find(objects, 'RoleBinding', fullname)!;
    expect(binding.metadata!.namespace).toBe(acted);
  });

  it('applied to the embedded control plane with server-side apply: the Deployments roll out, and its ServiceAccount may act where it is bound, nowhere else', async () => {
    const admin = kubeConfig();
    const objectApi = KubernetesObjectApi.makeApiClient(admin);
    const apply = (object: KubernetesObject) => objectApi.patch(object, undefined, undefined, 'ops-automation-test', true, PatchStrategy.ServerSideApply);
    // KEDA's own CRD, so the ScaledObjects meet the schema a real KEDA installs.
    // Through the client's own YAML loader: it maps fields like x-kubernetes-int-or-string to its models, which a plain object would lose.
    const crd = loadYaml<KubernetesObject>(readFileSync(scaledObjectCrd, 'utf8'));
    await apply(crd);
    const extensions = admin.makeApiClient(ApiextensionsV1Api);
    await waitFor('the ScaledObject CRD to be established', async () => {
      const found = await extensions.readCustomResourceDefinition({ name: crd.metadata!.name! });
      return found.status?.conditions?.some((condition) => condition.type === 'Established' && condition.status === 'True') ?? false;
    }, 20_000);

    for (const document of documents(...fullValues)) await apply(loadYaml<KubernetesObject>(String(document)));

    const apps = admin.makeApiClient(AppsV1Api);
    for (const name of [`${fullname}-worker`, `${fullname}-data-worker`, `${fullname}-webhooks`]) {
      await waitFor(`${name} to roll out on the kwok nodes`, async () => {
        const deployment = await apps.readNamespacedDeployment({ namespace, name });
        const wanted = deployment.spec?.replicas ?? 1;
        return (deployment.status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1) && (deployment.status?.availableReplicas ?? 0) === wanted && (deployment.status?.updatedReplicas ?? 0) === wanted;
      }, 30_000);
    }
    const pods = await admin.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${release}` });
    expect(pods.items.length).toBe(4);
    expect(pods.items.every((pod) => pod.spec?.nodeName?.startsWith('kwok-node-') && pod.status?.phase === 'Running')).toBe(true);
    // The API server kept what the chart says: the ScaledObject as KEDA's schema has it.
    const stored = await objectApi.read({ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: `${fullname}-worker`, namespace } });
    expect((stored as Rendered).spec).toMatchObject({ maxReplicaCount: 4, triggers: [{ type: 'temporal', metadata: { taskQueue: 'ops', targetQueueSize: '10' } }] });

    // The chart's ServiceAccount, with a token as its pods get one.
    const asChart = await actingAs(namespace, fullname);
    await deployOnCluster(acted, 'api', { image: 'api:1.0.0', replicas: 1 });
    const environment = new MockActivityEnvironment(undefined, { logger: quietSdkLogger });
    const activities = createKubernetesActivities({ kube: () => asChart, pool: clients.pool });
    const state = (await environment.run(activities.readWorkload, { namespace: acted, name: 'api', withAutoscaler: true })) as WorkloadState;
    expect(state).toMatchObject({ name: 'api', replicas: 1, rolledOut: true });
    // Its own namespace is not bound: refused, finally, naming verb and resource.
    const refused = await environment.run(activities.readWorkload, { namespace, name: `${fullname}-worker` }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect((refused as ApplicationFailure).nonRetryable).toBe(true);
    expect((refused as ApplicationFailure).message).toMatch(new RegExp(`cannot get resource "deployments" in API group "apps" in the namespace "${namespace}"`));
  }, 90_000);
});
