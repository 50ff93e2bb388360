import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiException, AppsV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api, type V1ClusterRole } from '@kubernetes/client-node';
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
  const issued = await core.createNamespacedServiceAccountToken({ namespace, name: 'ops-automation', body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const cluster = admin.getCurrentCluster()!;
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'ops-automation', token: issued.status!.token }],
    contexts: [{ name: 'ops-automation', cluster: cluster.name, user: 'ops-automation' }],
    currentContext: 'ops-automation',
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

/** A Deployment of `replicas` pods of one container `app`, labelled `app=<name>`, waited for until every pod is Ready. */
export async function deployOnCluster(namespace: string, name: string, options: { image: string; replicas: number }): Promise<void> {
  const apps = kubeConfig().makeApiClient(AppsV1Api);
  await ensureNamespace(namespace);
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name, labels: { app: name } },
      spec: { replicas: options.replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: options.image }] } } },
    },
  });
  await waitFor(`Deployment ${namespace}/${name} to be ready`, async () => {
    const deployment = await apps.readNamespacedDeployment({ namespace, name });
    return (deployment.status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1) && (deployment.status?.availableReplicas ?? 0) === options.replicas;
  }, 30_000);
}

/** The image of a Deployment's first container, as the API server has it. */
export async function deploymentImage(namespace: string, name: string): Promise<string | undefined> {
  const deployment = await kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace, name });
  return deployment.spec?.template.spec?.containers[0]?.image;
}
