import { AppsV1Api, AutoscalingV2Api, CoreV1Api, PatchStrategy, PolicyV1Api, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietSdkLogger } from '../support/quiet-log.js';
import { createKubernetesActivities, type PodState, type WorkloadState } from '../../activities/kubernetes.js';
import { waitFor } from '../../scripts/stack/net.js';
import { deployOnCluster, ensureNamespace, interposedKubeConfig, serviceAccountKubeConfig } from '../support/kubernetes.js';
import { connectStack, kubeConfig, type StackClients } from '../support/stack.js';

/**
 * The Kubernetes activities the health checks and runbooks use, through the
 * real @kubernetes/client-node against the embedded control plane (a real API
 * server, the Deployment, ReplicaSet and StatefulSet controllers, kwok nodes):
 * scale through the scale subresource, list pods by selector, delete a pod
 * (which its ReplicaSet replaces), restart a rollout; all of it as our
 * ServiceAccount under the Role shipped in deploy/kubernetes/rbac.yaml.
 */
describe('Kubernetes activities', () => {
  let clients: StackClients;
  const environment = new MockActivityEnvironment(undefined, { logger: quietSdkLogger });
  const config = kubeConfig();
  const apps = config.makeApiClient(AppsV1Api);
  const core = config.makeApiClient(CoreV1Api);
  const policy = config.makeApiClient(PolicyV1Api);
  // The activities act as our ServiceAccount under the shipped Role; the test sets up as the admin.
  let serviceAccount: KubeConfig;
  const k8s = () => createKubernetesActivities({ kube: () => serviceAccount, pool: clients.pool });
  const namespace = `k8s-${Date.now().toString(36)}`;
  const labels = (app: string) => ({ app });
  const pods = async (selector = 'app=api') => (await environment.run(k8s().listPods, { namespace, labelSelector: selector })) as PodState[];
  const rolledOut = (name: string, kind: 'Deployment' | 'StatefulSet' = 'Deployment') =>
    waitFor(`${kind} ${name} to roll out`, async () => ((await environment.run(k8s().readWorkload, { namespace, name, kind })) as WorkloadState).rolledOut, 30_000);

  beforeAll(async () => {
    clients = await connectStack();
    await Promise.all([ensureNamespace(namespace), ensureNamespace(`${namespace}-unbound`)]);
    serviceAccount = await serviceAccountKubeConfig(namespace);
    await Promise.all([
      deployOnCluster(namespace, 'api', { image: 'api:1.0.0', replicas: 2 }),
      deployOnCluster(`${namespace}-unbound`, 'api', { image: 'api:1.0.0', replicas: 2 }),
      deployOnCluster(namespace, 'db', { kind: 'StatefulSet', image: 'postgres:16.4', replicas: 1, container: 'postgres' }),
      deployOnCluster(namespace, 'race', { image: 'race:1.0.0', replicas: 2 }),
    ]);
  });

  afterAll(async () => {
    for (const name of [namespace, `${namespace}-unbound`]) await core.deleteNamespace({ name }).catch(() => undefined);
    await clients.close();
  });

  it('scales through the scale subresource, Deployments and StatefulSets alike', async () => {
    expect(await environment.run(k8s().scaleWorkload, { namespace, name: 'api', replicas: 4, requestedBy: 'healer', step: `${namespace}-scale-api` })).toEqual({ from: 2, to: 4 });
    expect(await environment.run(k8s().scaleWorkload, { namespace, name: 'db', kind: 'StatefulSet' as const, replicas: 3, requestedBy: 'healer', step: `${namespace}-scale-db` })).toEqual({ from: 1, to: 3 });
    expect((await apps.readNamespacedDeploymentScale({ namespace, name: 'api' })).spec?.replicas).toBe(4);
    expect((await apps.readNamespacedStatefulSetScale({ namespace, name: 'db' })).spec?.replicas).toBe(3);
    // The controllers act on it: four pods of the Deployment and three of the StatefulSet become Ready.
    await Promise.all([rolledOut('api'), rolledOut('db', 'StatefulSet')]);
    expect((await pods()).filter((pod) => pod.ready)).toHaveLength(4);
    const audit = await clients.pool.query(`SELECT action, target, details FROM audit_events WHERE target = $1`, [`k8s/${namespace}/deployment/api`]);
    expect(audit.rows).toEqual([{ action: 'kubernetes.scale', target: `k8s/${namespace}/deployment/api`, details: { from: 2, to: 4 } }]);
  });

  it('writes a scale on the reading it started from: a change made in between gets 409 and the retry decides again', async () => {
    // Someone else's write lands between our read of the scale and our write of it.
    let meddle: (() => Promise<unknown>) | undefined;
    const hop = await interposedKubeConfig(serviceAccount, async ({ method, path }) => {
      if (method !== 'PATCH' || !path.includes('/deployments/race/scale') || !meddle) return;
      const change = meddle;
      meddle = undefined;
      await change();
    });
    const scale = (replicas: number, expected: number, step: string) =>
      environment
        .run(createKubernetesActivities({ kube: () => hop.config, pool: clients.pool }).scaleWorkload, { namespace, name: 'race', replicas, expected, requestedBy: 'healer', step: `${namespace}-${step}` })
        .catch((error: unknown) => error);
    const replicas = async () => (await apps.readNamespacedDeploymentScale({ namespace, name: 'race' })).spec?.replicas;
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    try {
      // An annotation only: the API server refuses our stale write (409), retryably; nothing was scaled.
      meddle = () => apps.patchNamespacedDeployment({ namespace, name: 'race', body: { metadata: { annotations: { 'team.example/owner': 'payments' } } } }, merge);
      const stale = await scale(3, 2, 'race-1');
      expect(stale).toBeInstanceOf(Error);
      expect(stale).not.toBeInstanceOf(ApplicationFailure);
      expect((stale as Error).message).toMatch(/^Deployment .+\/race changed while it was being scaled \(409 Conflict on resourceVersion \d+\); reading it again$/);
      expect(await replicas()).toBe(2);
      // The retry reads again: still the 2 replicas the decision was made on, so it scales.
      expect(await scale(3, 2, 'race-1')).toEqual({ from: 2, to: 3 });
      expect(await replicas()).toBe(3);
      // Someone scales it to 5 meanwhile: our write is refused, and the retry leaves their 5 alone, finally.
      meddle = () => apps.patchNamespacedDeploymentScale({ namespace, name: 'race', body: { spec: { replicas: 5 } } }, merge);
      expect(await scale(4, 3, 'race-2')).toMatchObject({ message: expect.stringContaining('409 Conflict') });
      const refused = await scale(4, 3, 'race-2');
      expect(refused).toBeInstanceOf(ApplicationFailure);
      expect(refused).toMatchObject({ type: 'Conflict', nonRetryable: true });
      expect((refused as Error).message).toBe(`Deployment ${namespace}/race was not scaled to 4: its replica count changed from 3 to 5 since that was decided (someone else scaled it)`);
      expect(await replicas()).toBe(5);
    } finally {
      await hop.close();
    }
  });

  it('names the HorizontalPodAutoscaler that owns a replica count, when asked', async () => {
    await config.makeApiClient(AutoscalingV2Api).createNamespacedHorizontalPodAutoscaler({
      namespace,
      body: {
        metadata: { name: 'db-cpu' },
        spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' }, minReplicas: 1, maxReplicas: 6, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }] },
      },
    });
    const owned = (await environment.run(k8s().readWorkload, { namespace, name: 'db', kind: 'StatefulSet' as const, withAutoscaler: true })) as WorkloadState;
    expect(owned.autoscaler).toEqual({ name: 'db-cpu', minReplicas: 1, maxReplicas: 6 });
    // An autoscaler of another workload is not this one's.
    expect(((await environment.run(k8s().readWorkload, { namespace, name: 'api', withAutoscaler: true })) as WorkloadState).autoscaler).toBeUndefined();
    await config.makeApiClient(AutoscalingV2Api).deleteNamespacedHorizontalPodAutoscaler({ namespace, name: 'db-cpu' });
  });

  it('sees the pods of a bad release crash-looping (Running, not Ready), deletes one, and counts the replacement its ReplicaSet makes', async () => {
    await environment.run(k8s().setImage, { namespace, name: 'api', container: 'app', image: 'api:1.0.1-broken', changeCause: 'test', requestedBy: 'test', step: `${namespace}-break` });
    // maxUnavailable 25% of 4: the Deployment controller keeps 3 old pods Ready while the new ones fail.
    await waitFor('the new pods to crash-loop', async () => (await pods()).filter((pod) => pod.waitingReason === 'CrashLoopBackOff').length >= 2, 30_000);
    const all = await pods();
    expect(all.filter((pod) => pod.ready)).toHaveLength(3);
    const broken = all.filter((pod) => !pod.ready);
    expect(broken.length).toBeGreaterThanOrEqual(2);
    for (const pod of broken) expect(pod).toMatchObject({ phase: 'Running', waitingReason: 'CrashLoopBackOff', restarts: 4, owner: expect.stringMatching(/^ReplicaSet\/api-/) });
    // A crash-looping pod is Running as far as the phase goes: a field selector on the phase cannot find it.
    const running = (await environment.run(k8s().listPods, { namespace, labelSelector: 'app=api', fieldSelector: 'status.phase=Running' })) as PodState[];
    expect(running.map((pod) => pod.name).sort()).toEqual(all.map((pod) => pod.name).sort());

    const victim = broken[0]!;
    expect(await environment.run(k8s().deletePod, { namespace, name: victim.name, reason: 'not ready for 5m', requestedBy: 'healer', step: `${namespace}-delete` })).toEqual({ deleted: true });
    await waitFor('the deleted pod to be gone and replaced', async () => {
      const now = await pods();
      return !now.some((pod) => pod.name === victim.name) && now.filter((pod) => pod.owner === victim.owner).length === broken.filter((pod) => pod.owner === victim.owner).length;
    }, 30_000);
    expect(await environment.run(k8s().deletePod, { namespace, name: 'gone', reason: 'test', requestedBy: 'healer', step: `${namespace}-delete-gone` })).toEqual({ deleted: false });

    await environment.run(k8s().setImage, { namespace, name: 'api', container: 'app', image: 'api:1.0.0', changeCause: 'test', requestedBy: 'test', step: `${namespace}-fix` });
    await rolledOut('api');
    expect((await pods()).every((pod) => pod.ready)).toBe(true);
  });

  it('restarts a rollout with a pod-template annotation, which rolls every pod', async () => {
    const before = (await environment.run(k8s().readWorkload, { namespace, name: 'db', kind: 'StatefulSet' as const })) as WorkloadState;
    const at = new Date().toISOString();
    const state = await environment.run(k8s().restartWorkload, { namespace, name: 'db', kind: 'StatefulSet' as const, at, requestedBy: 'healer', step: `${namespace}-restart` });
    expect(state).toMatchObject({ kind: 'StatefulSet', container: 'postgres' });
    const read = await apps.readNamespacedStatefulSet({ namespace, name: 'db' });
    expect(read.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBe(at);
    await rolledOut('db', 'StatefulSet');
    const after = (await environment.run(k8s().readWorkload, { namespace, name: 'db', kind: 'StatefulSet' as const })) as WorkloadState;
    expect(after.revision).not.toBe(before.revision);
  });

  it('turns a permission the Role does not grant into a final error naming the verb and the resource', async () => {
    const refused = await environment.run(k8s().readWorkload, { namespace: `${namespace}-unbound`, name: 'api' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect(refused).toMatchObject({ type: 'Unauthorized', nonRetryable: true });
    expect((refused as Error).message).toContain(`Deployment ${namespace}-unbound/api: not allowed:`);
    expect((refused as Error).message).toContain('cannot get resource "deployments" in API group "apps"');
    // And verbs the Role leaves out, in the namespace it is bound in: pods are listed and evicted, never created or plainly deleted.
    const asUs = serviceAccount.makeApiClient(CoreV1Api);
    const created = await asUs.createNamespacedPod({ namespace, body: { metadata: { name: 'intruder' }, spec: { containers: [{ name: 'x', image: 'x' }] } } }).catch((error: unknown) => error);
    expect(created).toMatchObject({ code: 403 });
    const [pod] = await pods('app=db');
    expect(await asUs.deleteNamespacedPod({ namespace, name: pod!.name }).catch((error: unknown) => error)).toMatchObject({ code: 403 });
  });

  it('restarts pods through the Eviction API: a PodDisruptionBudget that allows no disruption refuses it, and the pod stays', async () => {
    await policy.createNamespacedPodDisruptionBudget({ namespace, body: { metadata: { name: 'db' }, spec: { maxUnavailable: 0, selector: { matchLabels: labels('db') } } } });
    // The disruption controller must have looked at the budget before the API server can judge an eviction by it.
    await waitFor('the budget to be observed', async () => ((await policy.readNamespacedPodDisruptionBudget({ namespace, name: 'db' })).status?.observedGeneration ?? 0) >= 1, 30_000);
    const [pod] = await pods('app=db');
    const refused = await environment.run(k8s().deletePod, { namespace, name: pod!.name, reason: 'stuck', requestedBy: 'healer', step: `${namespace}-evict-db` }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ type: 'Conflict', nonRetryable: true });
    expect((refused as Error).message).toContain(`pod ${namespace}/${pod!.name} was not restarted: its PodDisruptionBudget allows no disruption now`);
    expect((await pods('app=db')).map((entry) => entry.name)).toContain(pod!.name);
    await policy.deleteNamespacedPodDisruptionBudget({ namespace, name: 'db' });
  });

  it("sees the Deployment controller's lag: right after a patch, the new generation is not observed yet", async () => {
    const patched = (await environment.run(k8s().setImage, { namespace, name: 'api', container: 'app', image: 'api:1.0.2', changeCause: 'lag', requestedBy: 'test', step: `${namespace}-lag` })) as WorkloadState;
    expect(patched.observedGeneration).toBeLessThan(patched.generation);
    expect(patched).toMatchObject({ rolledOut: false, waitingFor: `the controller to observe generation ${patched.generation}` });
    const done = (await environment.run(k8s().waitForRollout, { namespace, name: 'api', container: 'app', timeoutMs: 30_000, pollMs: 200 })) as WorkloadState;
    expect(done).toMatchObject({ rolledOut: true, image: 'api:1.0.2', observedGeneration: patched.generation });
  });

  it('fails a rollout of a paused Deployment at once, saying it is paused, instead of waiting for its deadline', async () => {
    await deployOnCluster(namespace, 'held', { image: 'held:1', replicas: 1 });
    await apps.patchNamespacedDeployment({ namespace, name: 'held', body: { spec: { paused: true } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await environment.run(k8s().setImage, { namespace, name: 'held', container: 'app', image: 'held:2', changeCause: 'test', requestedBy: 'test', step: `${namespace}-held` });
    const started = Date.now();
    const failed = await environment.run(k8s().waitForRollout, { namespace, name: 'held', container: 'app', timeoutMs: 60_000, pollMs: 200 }).catch((error: unknown) => error);
    expect(failed).toMatchObject({ type: 'RolloutFailed', nonRetryable: true });
    expect((failed as Error).message).toContain(`the Deployment is paused, so its rollout cannot progress (kubectl rollout resume deployment/held -n ${namespace})`);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("rolls a StatefulSet out to its partition: the pods below it keep the old revision, and that is done", async () => {
    await apps.createNamespacedStatefulSet({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 3,
          serviceName: 'web',
          selector: { matchLabels: labels('web') },
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } },
          template: { metadata: { labels: labels('web') }, spec: { containers: [{ name: 'app', image: 'web:1' }] } },
        },
      },
    });
    await rolledOut('web', 'StatefulSet');
    await environment.run(k8s().setImage, { namespace, name: 'web', kind: 'StatefulSet' as const, container: 'app', image: 'web:2', changeCause: 'canary ordinal', requestedBy: 'test', step: `${namespace}-web` });
    const done = (await environment.run(k8s().waitForRollout, { namespace, name: 'web', kind: 'StatefulSet' as const, container: 'app', timeoutMs: 30_000, pollMs: 200 })) as WorkloadState;
    expect(done).toMatchObject({ rolledOut: true, updatedReplicas: 1, replicas: 3 });
    const images = Object.fromEntries((await core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items.map((pod) => [pod.metadata!.name, pod.spec!.containers[0]!.image]));
    expect(images).toEqual({ 'web-0': 'web:1', 'web-1': 'web:1', 'web-2': 'web:2' });
  });

  it('replaces a leftover canary that is not ours, waiting while the real cluster deletes it (its ReplicaSet and pods first)', async () => {
    await deployOnCluster(namespace, 'api-canary', { image: 'stray:0', replicas: 1 });
    let created: { name: string; replaced?: string } | undefined;
    // Attempts as Temporal makes them: a retry sees the last heartbeat of the attempt before it.
    let heartbeatDetails: unknown;
    await waitFor('the canary to be created', async () => {
      const attempt = new MockActivityEnvironment({ heartbeatDetails }, { logger: quietSdkLogger });
      attempt.on('heartbeat', (details: unknown) => (heartbeatDetails = details ?? heartbeatDetails));
      try {
        created = (await attempt.run(k8s().createCanary, { namespace, name: 'api', container: 'app', image: 'api:1.1.0', requestedBy: 'test', step: `${namespace}-canary` })) as typeof created;
        return true;
      } catch (error) {
        // Only the documented wait is retried; anything else fails the test.
        if (!(error instanceof ApplicationFailure) || error.type !== 'LeftoverCanary') throw error;
        return false;
      }
    }, 90_000, 500);
    expect(created).toEqual({ name: 'api-canary', replaced: 'a Deployment not made by ops-automation running stray:0' });
    const canary = await apps.readNamespacedDeployment({ namespace, name: 'api-canary' });
    expect(canary.spec?.template.spec?.containers[0]?.image).toBe('api:1.1.0');
    expect(canary.spec?.selector.matchLabels).toEqual({ app: 'api', track: 'canary' });
    await environment.run(k8s().deleteCanary, { namespace, name: 'api', requestedBy: 'test', step: `${namespace}-canary-gone` });
  });

  it('names a missing workload, and a container that is not there', async () => {
    await expect(environment.run(k8s().readWorkload, { namespace, name: 'nope' })).rejects.toThrow(`Deployment ${namespace}/nope does not exist`);
    await expect(environment.run(k8s().readWorkload, { namespace, name: 'api', container: 'sidecar' })).rejects.toThrow(`Deployment ${namespace}/api has no container "sidecar" (it has app)`);
  });
});
