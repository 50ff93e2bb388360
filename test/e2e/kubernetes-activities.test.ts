import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietSdkLogger } from '../support/quiet-log.js';
import { createKubernetesActivities, type PodState, type WorkloadState } from '../../activities/kubernetes.js';
import { waitFor } from '../../scripts/stack/net.js';
import { FakeKubernetes } from '../support/kube-fake.js';
import { connectStack, type StackClients } from '../support/stack.js';

/**
 * The Kubernetes activities the health checks and runbooks use, through the
 * real @kubernetes/client-node against the Kubernetes fake: scale through the
 * scale subresource, list pods by selector, delete a pod, restart a rollout.
 */
describe('Kubernetes activities', () => {
  let clients: StackClients;
  const kube = new FakeKubernetes();
  const environment = new MockActivityEnvironment(undefined, { logger: quietSdkLogger });
  let k8s: ReturnType<typeof createKubernetesActivities>;
  const namespace = `k8s-${Date.now().toString(36)}`;

  beforeAll(async () => {
    clients = await connectStack();
    await kube.start();
    kube.podReadyMs = 100;
    kube.addWorkload('Deployment', namespace, 'api', { image: 'api:1.0.0', replicas: 2 });
    kube.addWorkload('StatefulSet', namespace, 'db', { image: 'postgres:16.4', replicas: 1, container: 'postgres' });
    kube.badImages.add('api:1.0.1-broken');
    k8s = createKubernetesActivities({ kube: () => kube.kubeConfig(), pool: clients.pool });
  });

  afterAll(async () => {
    await kube.stop();
    await clients.close();
  });

  it('scales through the scale subresource, Deployments and StatefulSets alike', async () => {
    expect(await environment.run(k8s.scaleWorkload, { namespace, name: 'api', replicas: 4, requestedBy: 'healer', step: `${namespace}-scale-api` })).toEqual({ from: 2, to: 4 });
    expect(await environment.run(k8s.scaleWorkload, { namespace, name: 'db', kind: 'StatefulSet' as const, replicas: 3, requestedBy: 'healer', step: `${namespace}-scale-db` })).toEqual({ from: 1, to: 3 });
    const scales = kube.requests.filter((request) => request.path.includes('/scale'));
    expect(scales.map((request) => [request.method, request.contentType, request.body])).toEqual([
      ['PATCH', 'application/merge-patch+json', { spec: { replicas: 4 } }],
      ['PATCH', 'application/merge-patch+json', { spec: { replicas: 3 } }],
    ]);
    expect((kube.workload('Deployment', namespace, 'api')!.spec as { replicas: number }).replicas).toBe(4);
    const audit = await clients.pool.query(`SELECT action, target, details FROM audit_events WHERE target = $1`, [`k8s/${namespace}/deployment/api`]);
    expect(audit.rows).toEqual([{ action: 'kubernetes.scale', target: `k8s/${namespace}/deployment/api`, details: { from: 2, to: 4 } }]);
  });

  it('lists pods by label and field selector, sees one crash-looping, and deletes it', async () => {
    await environment.run(k8s.setImage, { namespace, name: 'api', container: 'app', image: 'api:1.0.1-broken', changeCause: 'test', requestedBy: 'test', step: `${namespace}-break` });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const pods: PodState[] = await environment.run(k8s.listPods, { namespace, labelSelector: 'app=api' });
    expect(pods.filter((pod) => pod.ready)).toHaveLength(4);
    const broken = pods.filter((pod) => !pod.ready);
    expect(broken).toEqual([expect.objectContaining({ phase: 'Pending', waitingReason: 'CrashLoopBackOff', restarts: 4 })]);
    const running: PodState[] = await environment.run(k8s.listPods, { namespace, labelSelector: 'app=api', fieldSelector: 'status.phase=Running' });
    expect(running).toHaveLength(4);
    expect(kube.requests.at(-1)!.path).toBe(`/api/v1/namespaces/${namespace}/pods?fieldSelector=status.phase%3DRunning&labelSelector=app%3Dapi`);

    expect(await environment.run(k8s.deletePod, { namespace, name: broken[0]!.name, reason: 'not ready for 5m', requestedBy: 'healer', step: `${namespace}-delete` })).toEqual({ deleted: true });
    expect(((await environment.run(k8s.listPods, { namespace, labelSelector: 'app=api' })) as PodState[]).map((pod) => pod.name)).not.toContain(broken[0]!.name);
    expect(await environment.run(k8s.deletePod, { namespace, name: 'gone', reason: 'test', requestedBy: 'healer', step: `${namespace}-delete-gone` })).toEqual({ deleted: false });
    await environment.run(k8s.setImage, { namespace, name: 'api', container: 'app', image: 'api:1.0.0', changeCause: 'test', requestedBy: 'test', step: `${namespace}-fix` });
  });

  it('restarts a rollout with a pod-template annotation, which rolls every pod', async () => {
    const at = new Date().toISOString();
    const state = await environment.run(k8s.restartWorkload, { namespace, name: 'db', kind: 'StatefulSet' as const, at, requestedBy: 'healer', step: `${namespace}-restart` });
    expect(state).toMatchObject({ kind: 'StatefulSet', container: 'postgres', rolledOut: false });
    const patch = kube.requests.filter((request) => request.method === 'PATCH' && request.path.includes('/statefulsets/db?')).at(-1);
    expect(patch).toMatchObject({ contentType: 'application/strategic-merge-patch+json', body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at } } } } } });
    await waitFor('the restart to roll out', async () => ((await environment.run(k8s.readWorkload, { namespace, name: 'db', kind: 'StatefulSet' as const })) as WorkloadState).rolledOut, 10_000);
  });

  it('names a missing workload, and a container that is not there', async () => {
    await expect(environment.run(k8s.readWorkload, { namespace, name: 'nope' })).rejects.toThrow(`Deployment ${namespace}/nope does not exist`);
    await expect(environment.run(k8s.readWorkload, { namespace, name: 'api', container: 'sidecar' })).rejects.toThrow(`Deployment ${namespace}/api has no container "sidecar" (it has app)`);
  });
});
