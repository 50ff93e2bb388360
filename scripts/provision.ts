import { ensureKubernetesTools } from './stack/kubernetes-tools.js';
import { ensureHelmTools } from './stack/helm-tools.js';
import { ensureTemporalServer, ensureTemporalUi } from './stack/temporal-cluster-tools.js';
import { ensureTool, toolVersion } from './stack/tools.js';

/** `npm run provision`: builds the stack's tools ahead of time (CI caches .ops/bin). */
for (const name of ['temporal', 'minio'] as const) {
  const path = await ensureTool(name);
  console.log(`${name}: ${path} (${toolVersion(path)})`);
}
const server = await ensureTemporalServer();
console.log(`temporal server: ${server.server}, schema tool ${server.sqlTool}, Web UI ${await ensureTemporalUi()}`);
const kubernetes = await ensureKubernetesTools();
console.log(`kubernetes: ${kubernetes.apiserver} (${toolVersion(kubernetes.apiserver)}), etcd ${kubernetes.etcd}, kwok ${kubernetes.kwok}`);
const helm = await ensureHelmTools();
console.log(`helm: ${helm.helm}, KEDA CRD ${helm.scaledObjectCrd}`);
