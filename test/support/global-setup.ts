import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEphemeralStack } from '../../scripts/stack/ephemeral-stack.js';
import { ensureHelmTools } from '../../scripts/stack/helm-tools.js';
import { startEmbeddedKubernetes } from '../../scripts/stack/kubernetes.js';
import { OPS_DIR } from '../../scripts/stack/paths.js';
import { ensureTemporalServer } from '../../scripts/stack/temporal-cluster-tools.js';

/**
 * Starts the real stack and the embedded Kubernetes control plane once per
 * test run, side by side, and hands them to every test file as
 * `inject('stack')` and `inject('kubernetes')`; helm (built once) as `inject('helm')`.
 */
export default async function setup(project: TestProject) {
  const started = Date.now();
  const say = (line: string) => process.stdout.write(`[stack] ${line}\n`);
  const kubernetesDir = join(OPS_DIR, 'test-kubernetes', `${Date.now().toString(36)}${process.pid.toString(36)}`);
  // The Temporal server is the cluster project's (whose setup runs after this one); building it
  // here, beside Kubernetes, keeps a cold first run from building the two one after the other.
  const [stack, kubernetes, helm, temporalServer] = await Promise.allSettled([
    startEphemeralStack('test', say),
    startEmbeddedKubernetes({ dir: kubernetesDir, say }),
    ensureHelmTools(say),
    ensureTemporalServer(say),
  ]);
  if (stack.status === 'rejected' || kubernetes.status === 'rejected' || helm.status === 'rejected' || temporalServer.status === 'rejected') {
    if (stack.status === 'fulfilled') await stack.value.stop();
    if (kubernetes.status === 'fulfilled') await kubernetes.value.stop();
    throw [stack, kubernetes, helm, temporalServer].find((result): result is PromiseRejectedResult => result.status === 'rejected')!.reason;
  }
  project.provide('helm', helm.value);
  project.provide('stack', stack.value.stack);
  const { kubeconfig, server, caFile, token, nodes, stop: stopKubernetes } = kubernetes.value;
  const cluster = { kubeconfig, server, caFile, token, nodes };
  project.provide('kubernetes', cluster);
  process.stdout.write(`[stack] ready in ${((Date.now() - started) / 1000).toFixed(1)}s (Kubernetes ${cluster.server}, ${cluster.nodes.length} kwok nodes)\n`);
  return async () => {
    await Promise.all([stack.value.stop(), stopKubernetes()]);
  };
}
