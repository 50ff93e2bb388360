import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ApiException, AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type V1ClusterRole } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { waitFor } from '../../scripts/stack/net.js';
import { kubeConfig } from './stack.js';

const RBAC = fileURLToPath(new URL('../../deploy/kubernetes/rbac.yaml', import.meta.url));

/** The ClusterRole we ship, exactly as deploy/kubernetes/rbac.yaml has it. */
export function shippedClusterRole(): V1ClusterRole {
  const documents = parseAllDocuments(readFileSync(RBAC, 'utf8')).map((document) => document.toJS() as { kind: string });
  return documents.find((document) => document.kind === 'ClusterRole') as V1ClusterRole;
}

const conflict = (error: unknown) => error instanceof ApiException && (error as ApiException<unknown>).code === 409;

/**
 * A kubeconfig that acts as ops-automation's ServiceAccount would in a
 * cluster: a ServiceAccount in `namespace`, bound there (and only there) to
 * the shipped ClusterRole, with a token from the TokenRequest API.
 */
export async function serviceAccountKubeConfig(namespace: string): Promise<KubeConfig> {
  const admin = kubeConfig();
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const core = admin.makeApiClient(CoreV1Api);
  const role = shippedClusterRole();
  try {
    await rbac.createClusterRole({ body: role });
  } catch (error) {
    if (!conflict(error)) throw error;
    await rbac.replaceClusterRole({ name: role.metadata!.name!, body: role });
  }
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'ops-automation' } } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'ops-automation' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata!.name! },
      subjects: [{ kind: 'ServiceAccount', name: 'ops-automation', namespace }],
    },
  });
  return actingAs(namespace, 'ops-automation');
}

/** A kubeconfig acting as an existing ServiceAccount, with a token from the TokenRequest API (as its pods get one). */
export async function actingAs(namespace: string, serviceAccount: string): Promise<KubeConfig> {
  const admin = kubeConfig();
  const issued = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({ namespace, name: serviceAccount, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const cluster = admin.getCurrentCluster()!;
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [cluster],
    users: [{ name: serviceAccount, token: issued.status!.token }],
    contexts: [{ name: serviceAccount, cluster: cluster.name, user: serviceAccount }],
    currentContext: serviceAccount,
  });
  return config;
}

/** A namespace on the embedded control plane (one that exists already is fine). */
export async function ensureNamespace(name: string): Promise<void> {
  try {
    await kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  } catch (error) {
    if (!conflict(error)) throw error;
  }
}

/**
 * A Deployment (or StatefulSet) of `replicas` pods of one container (`app`
 * unless named), labelled `app=<name>`, in a namespace that exists
 * (ensureNamespace), waited for until every pod is Ready.
 */
export async function deployOnCluster(
  namespace: string,
  name: string,
  options: {
    image: string;
    replicas: number;
    kind?: 'Deployment' | 'StatefulSet';
    container?: string;
    progressDeadlineSeconds?: number;
    /** Its pods become Ready 1.5 s after they are scheduled, not at once (deploy/kwok/failure-stages.yaml). */
    slowReady?: boolean;
    /** More labels on the workload itself (not its selector). */
    labels?: Record<string, string>;
    /** The container's resources (`{ limits: { cpu: '500m', memory: '256Mi' } }`). */
    resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
    /** Wait for every replica to be available (default); false for a workload that never will be. */
    waitAvailable?: boolean;
  },
): Promise<void> {
  const apps = kubeConfig().makeApiClient(AppsV1Api);
  const labels = { app: name };
  const template = {
    metadata: { labels, ...(options.slowReady ? { annotations: { 'ops-automation.test/slow-ready': 'true' } } : {}) },
    spec: { containers: [{ name: options.container ?? 'app', image: options.image, ...(options.resources ? { resources: options.resources } : {}) }] },
  };
  const metadata = { name, labels: { ...labels, ...options.labels } };
  if (options.kind === 'StatefulSet') {
    await apps.createNamespacedStatefulSet({ namespace, body: { metadata, spec: { replicas: options.replicas, serviceName: name, selector: { matchLabels: labels }, template } } });
  } else {
    await apps.createNamespacedDeployment({
      namespace,
      body: { metadata, spec: { replicas: options.replicas, selector: { matchLabels: labels }, template, ...(options.progressDeadlineSeconds ? { progressDeadlineSeconds: options.progressDeadlineSeconds } : {}) } },
    });
  }
  if (options.waitAvailable === false) return;
  await waitFor(`${options.kind ?? 'Deployment'} ${namespace}/${name} to be ready`, async () => {
    const workload = options.kind === 'StatefulSet' ? await apps.readNamespacedStatefulSet({ namespace, name }) : await apps.readNamespacedDeployment({ namespace, name });
    return (workload.status?.observedGeneration ?? 0) >= (workload.metadata?.generation ?? 1) && (workload.status?.availableReplicas ?? 0) === options.replicas;
  }, 30_000);
}

/** A workload's spec as the API server has it: its first (or named) container's image, its generation and annotations. */
export async function workloadOnCluster(namespace: string, name: string, kind: 'Deployment' | 'StatefulSet' = 'Deployment', container?: string) {
  const apps = kubeConfig().makeApiClient(AppsV1Api);
  const workload = kind === 'StatefulSet' ? await apps.readNamespacedStatefulSet({ namespace, name }) : await apps.readNamespacedDeployment({ namespace, name });
  const containers = workload.spec?.template.spec?.containers ?? [];
  return {
    image: (container ? containers.find((entry) => entry.name === container) : containers[0])?.image,
    generation: workload.metadata?.generation ?? 0,
    annotations: workload.metadata?.annotations ?? {},
  };
}

/** The image of a Deployment's first container, as the API server has it. */
export async function deploymentImage(namespace: string, name: string): Promise<string | undefined> {
  return (await workloadOnCluster(namespace, name)).image;
}

/** A Deployment's ReplicaSets by revision: the history the Deployment controller keeps of every template it rolled out. */
export async function replicaSetHistory(namespace: string, name: string): Promise<Array<{ revision: number; image: string | undefined; replicas: number }>> {
  const list = await kubeConfig().makeApiClient(AppsV1Api).listNamespacedReplicaSet({ namespace, labelSelector: `app=${name}` });
  return list.items
    .filter((set) => set.metadata?.ownerReferences?.some((owner) => owner.kind === 'Deployment' && owner.name === name))
    .map((set) => ({
      revision: Number(set.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0),
      image: set.spec?.template?.spec?.containers[0]?.image,
      replicas: set.spec?.replicas ?? 0,
    }))
    .sort((a, b) => a.revision - b.revision);
}

/** Until a Deployment is gone from the API server (a foreground deletion removes its ReplicaSets and pods first). */
export async function untilDeploymentGone(namespace: string, name: string): Promise<void> {
  const apps = kubeConfig().makeApiClient(AppsV1Api);
  await waitFor(`Deployment ${namespace}/${name} to be gone`, async () => {
    try {
      await apps.readNamespacedDeployment({ namespace, name });
      return false;
    } catch (error) {
      if (error instanceof ApiException && (error as ApiException<unknown>).code === 404) return true;
      throw error;
    }
  }, 30_000);
}

/** The names of a workload's pods (label `app=<name>`), in the order the API server lists them. */
export async function podNames(namespace: string, app: string): Promise<string[]> {
  const list = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector: `app=${app}` });
  return list.items.filter((pod) => !pod.metadata?.deletionTimestamp).map((pod) => pod.metadata!.name!);
}

/**
 * What a kubelet reports for a pod whose container stopped passing its
 * readiness probe at `since` (a status patch, as the kubelet writes it; kwok
 * leaves a Running pod's status alone afterwards).
 */
export async function markPodUnready(namespace: string, name: string, since: Date, reason = 'CrashLoopBackOff'): Promise<void> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  const pod = await core.readNamespacedPod({ namespace, name });
  const at = since.toISOString();
  await core.patchNamespacedPodStatus(
    {
      namespace,
      name,
      body: {
        status: {
          conditions: [
            { type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: at },
            { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: at },
          ],
          containerStatuses: (pod.spec?.containers ?? []).map((container) => ({
            name: container.name,
            image: container.image,
            imageID: '',
            ready: false,
            restartCount: 3,
            state: { running: null, waiting: { reason } },
          })),
        },
      },
    },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
}

/**
 * A loopback HTTP hop in front of the API server for a token-authenticated
 * kubeconfig: every request is forwarded as it is, after `before` (which may
 * change the cluster meanwhile) has run for it. How a test puts someone
 * else's write between our read and our write, against the real server.
 */
export async function interposedKubeConfig(
  through: KubeConfig,
  before: (request: { method: string; path: string }) => Promise<void> | void,
): Promise<{ config: KubeConfig; close(): Promise<void> }> {
  const cluster = through.getCurrentCluster()!;
  const user = through.getCurrentUser()!;
  const upstream = new URL(cluster.server);
  const ca = cluster.caData ? Buffer.from(cluster.caData, 'base64') : cluster.caFile ? readFileSync(cluster.caFile) : undefined;
  const server = createServer((request, response) => {
    void (async () => {
      await before({ method: request.method ?? 'GET', path: request.url ?? '/' });
      const forwarded = httpsRequest(
        { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: { ...request.headers, host: upstream.host }, ca },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      forwarded.on('error', (error) => response.destroy(error));
      request.pipe(forwarded);
    })().catch((error: Error) => response.destroy(error));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const config = new KubeConfig();
  config.loadFromOptions({
    // Plain HTTP on loopback only; the client insists on skipTLSVerify for it.
    clusters: [{ name: 'interposed', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: user.name, token: user.token }],
    contexts: [{ name: 'interposed', cluster: 'interposed', user: user.name }],
    currentContext: 'interposed',
  });
  return { config, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
