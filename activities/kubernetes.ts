import type { KubeConfig, V1Deployment, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { asApiException, kubernetesApi } from '../src/clients/kubernetes-api.js';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type pg from 'pg';
import { ErrorType } from '../src/domain/errors.js';
import { writeAuditEvent } from '../src/db/audit.js';
import { bindDeps } from './bind-deps.js';

/**
 * Deployments and StatefulSets through @kubernetes/client-node: read a
 * workload and its rollout status, set a container's image (recording the
 * change cause), and wait for the rollout the way `kubectl rollout status`
 * does: observedGeneration caught up, every replica updated and available,
 * and the Progressing condition not past its deadline.
 */
export interface KubernetesDeps {
  /** The cluster's config; may be loaded on first use. */
  kube: () => KubeConfig | Promise<KubeConfig>;
  pool: pg.Pool;
}

export type WorkloadKind = 'Deployment' | 'StatefulSet';

export interface WorkloadRef {
  namespace: string;
  name: string;
  kind?: WorkloadKind;
}

export interface WorkloadState {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** The container the rollout concerns (the only one, unless named). */
  container: string;
  image: string;
  replicas: number;
  updatedReplicas: number;
  availableReplicas: number;
  generation: number;
  observedGeneration: number;
  revision: string;
  /** The pods' label selector (matchLabels), as `key=value,...`. */
  selector?: string;
  /** The rollout finished and every replica is available. */
  rolledOut: boolean;
  /** Why it is not rolled out, in words; absent when it is. */
  waitingFor?: string;
  /** Progressing=False: the rollout ran past its deadline. */
  failed?: string;
  /** The HorizontalPodAutoscaler that owns the replica count, when asked for (`withAutoscaler`) and there is one. */
  autoscaler?: { name: string; minReplicas: number; maxReplicas: number };
}

type Workload = V1Deployment | V1StatefulSet;

/** The API server's own explanation (a Status object's message), which names the verb, resource and namespace of a refusal. */
function serverMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() || undefined;
    }
  }
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && message ? message : undefined;
}

/** The HTTP status of a Kubernetes API error; undefined for anything else (a timeout, a refused connection). */
function statusOf(error: unknown): number | undefined {
  return asApiException(error)?.code;
}

/** A Kubernetes API error as a Temporal failure: final for what retrying cannot fix. */
export function kubeFailure(error: unknown, what: string): Error {
  const code = statusOf(error);
  if (code !== undefined) {
    const explained = serverMessage(asApiException(error)?.body);
    const detail = `${what}: Kubernetes answered ${code}${explained ? `: ${explained}` : ''}`;
    if (code === 404) return ApplicationFailure.nonRetryable(`${what} does not exist`, ErrorType.NotFound);
    // A missing permission is fixed in the Role (deploy/kubernetes/rbac.yaml), never by retrying.
    if (code === 401) return ApplicationFailure.nonRetryable(`${what}: not allowed: our credentials were refused (401)`, ErrorType.Unauthorized);
    if (code === 403) return ApplicationFailure.nonRetryable(`${what}: not allowed: ${explained ?? 'forbidden (403)'}`, ErrorType.Unauthorized);
    if (code === 400 || code === 422) return ApplicationFailure.nonRetryable(`${detail} (invalid)`, ErrorType.InvalidInput);
    return new Error(detail);
  }
  return error as Error;
}

/** A workload's pod selector (matchLabels) as `key=value,...`. */
export function selectorOf(workload: Workload): string {
  return Object.entries(workload.spec?.selector.matchLabels ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

function stateOf(kind: WorkloadKind, workload: Workload, containerName?: string): WorkloadState {
  const name = workload.metadata?.name ?? '';
  const namespace = workload.metadata?.namespace ?? '';
  const containers = workload.spec?.template.spec?.containers ?? [];
  const container = containerName ? containers.find((entry) => entry.name === containerName) : containers.length === 1 ? containers[0] : undefined;
  if (!container) {
    throw ApplicationFailure.nonRetryable(
      containerName
        ? `${kind} ${namespace}/${name} has no container "${containerName}" (it has ${containers.map((entry) => entry.name).join(', ')})`
        : `${kind} ${namespace}/${name} has ${containers.length} containers (${containers.map((entry) => entry.name).join(', ')}): name the one to update`,
      ErrorType.InvalidInput,
    );
  }
  const replicas = workload.spec?.replicas ?? 1;
  const status = workload.status;
  const generation = workload.metadata?.generation ?? 0;
  const observedGeneration = status?.observedGeneration ?? 0;
  const updatedReplicas = status?.updatedReplicas ?? 0;
  const availableReplicas = status?.availableReplicas ?? 0;
  const totalReplicas = status?.replicas ?? 0;
  const progressing = kind === 'Deployment' ? (workload as V1Deployment).status?.conditions?.find((condition) => condition.type === 'Progressing') : undefined;
  // As `kubectl rollout status`: the Progressing condition speaks for the template only once the controller has observed it;
  // right after a rollback the deadline the failed template ran past is still there.
  let failed =
    observedGeneration >= generation && progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded' ? progressing.message ?? 'progress deadline exceeded' : undefined;
  // A StatefulSet's partition keeps the pods below it on the old revision on purpose: the rollout is done once the rest are updated.
  const partition = kind === 'StatefulSet' ? ((workload as V1StatefulSet).spec?.updateStrategy?.rollingUpdate?.partition ?? 0) : 0;
  const toUpdate = Math.max(0, replicas - partition);
  let waitingFor: string | undefined;
  if (observedGeneration < generation) waitingFor = `the controller to observe generation ${generation}`;
  else if (updatedReplicas < toUpdate) waitingFor = `${updatedReplicas} of ${toUpdate} replicas updated${partition > 0 ? ` (partition ${partition})` : ''}`;
  else if (kind === 'Deployment' && totalReplicas > updatedReplicas) waitingFor = `${totalReplicas - updatedReplicas} old replicas pending termination`;
  else if (availableReplicas < replicas) waitingFor = `${availableReplicas} of ${replicas} replicas available`;
  else if (kind === 'StatefulSet' && partition === 0 && (workload as V1StatefulSet).status?.currentRevision !== (workload as V1StatefulSet).status?.updateRevision) waitingFor = 'the update revision to become current';
  // A paused Deployment never rolls out what it is waiting for; saying so beats waiting for the deadline.
  if (waitingFor && kind === 'Deployment' && (workload as V1Deployment).spec?.paused) failed ??= `the Deployment is paused, so its rollout cannot progress (kubectl rollout resume deployment/${name} -n ${namespace})`;
  const revision =
    kind === 'Deployment' ? workload.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? '' : (workload as V1StatefulSet).status?.updateRevision ?? '';
  return {
    kind,
    namespace,
    name,
    container: container.name,
    image: container.image ?? '',
    replicas,
    updatedReplicas,
    availableReplicas,
    generation,
    observedGeneration,
    revision,
    ...(selectorOf(workload) ? { selector: selectorOf(workload) } : {}),
    rolledOut: waitingFor === undefined,
    ...(waitingFor ? { waitingFor } : {}),
    ...(failed ? { failed } : {}),
  };
}

export interface PodState {
  name: string;
  phase: string;
  ready: boolean;
  restarts: number;
  /** Why a container waits (CrashLoopBackOff, ImagePullBackOff), when one does. */
  waitingReason?: string;
  owner?: string;
  startedAt?: string;
  /** When the pod last became not ready (its Ready condition's transition), or started if it never was. */
  notReadySince?: string;
  /** Being deleted (it has a deletionTimestamp); absent when not. */
  terminating?: true;
}

function podState(pod: V1Pod): PodState {
  const statuses = pod.status?.containerStatuses ?? [];
  const waiting = statuses.find((status) => status.state?.waiting?.reason)?.state?.waiting?.reason;
  const owner = pod.metadata?.ownerReferences?.[0];
  const readyCondition = pod.status?.conditions?.find((condition) => condition.type === 'Ready');
  const ready = readyCondition?.status === 'True';
  const since = readyCondition?.lastTransitionTime ?? pod.status?.startTime ?? pod.metadata?.creationTimestamp;
  return {
    name: pod.metadata?.name ?? '',
    phase: pod.status?.phase ?? 'Unknown',
    ready,
    restarts: statuses.reduce((sum, status) => sum + (status.restartCount ?? 0), 0),
    ...(waiting ? { waitingReason: waiting } : {}),
    ...(owner ? { owner: `${owner.kind}/${owner.name}` } : {}),
    ...(pod.status?.startTime ? { startedAt: new Date(pod.status.startTime).toISOString() } : {}),
    ...(!ready && since ? { notReadySince: new Date(since).toISOString() } : {}),
    ...(pod.metadata?.deletionTimestamp ? { terminating: true as const } : {}),
  };
}

const apps = async (deps: KubernetesDeps) => (await deps.kube()).makeApiClient((await kubernetesApi()).AppsV1Api);
const core = async (deps: KubernetesDeps) => (await deps.kube()).makeApiClient((await kubernetesApi()).CoreV1Api);
/** A patch request's content type, as the client sets it. */
const patchAs = async (strategy: 'StrategicMergePatch' | 'MergePatch') => {
  const api = await kubernetesApi();
  return api.setHeaderOptions('Content-Type', api.PatchStrategy[strategy]);
};
const audit = async (deps: KubernetesDeps, input: { requestedBy: string; step: string }, action: string, target: string, details: Record<string, unknown>) => {
  const execution = Context.current().info.workflowExecution;
  await writeAuditEvent(
    deps.pool,
    { actor: input.requestedBy, action, target, outcome: 'succeeded', details, idempotencyKey: `${execution?.workflowId ?? 'standalone'}:${execution?.runId ?? ''}:${input.step}` },
    execution,
  );
};
const label = (ref: WorkloadRef) => `${ref.kind ?? 'Deployment'} ${ref.namespace}/${ref.name}`;

/** A strategic-merge patch of a Deployment or StatefulSet, as our field manager. */
async function strategicPatch(deps: KubernetesDeps, ref: WorkloadRef, body: object): Promise<Workload> {
  const options = await patchAs('StrategicMergePatch');
  try {
    return (ref.kind ?? 'Deployment') === 'Deployment'
      ? await (await apps(deps)).patchNamespacedDeployment({ namespace: ref.namespace, name: ref.name, body, fieldManager: 'ops-automation' }, options)
      : await (await apps(deps)).patchNamespacedStatefulSet({ namespace: ref.namespace, name: ref.name, body, fieldManager: 'ops-automation' }, options);
  } catch (error) {
    throw kubeFailure(error, label(ref));
  }
}

async function read(deps: KubernetesDeps, ref: WorkloadRef): Promise<Workload> {
  try {
    return (ref.kind ?? 'Deployment') === 'Deployment'
      ? await (await apps(deps)).readNamespacedDeployment({ namespace: ref.namespace, name: ref.name })
      : await (await apps(deps)).readNamespacedStatefulSet({ namespace: ref.namespace, name: ref.name });
  } catch (error) {
    throw kubeFailure(error, label(ref));
  }
}

export async function readWorkload(deps: KubernetesDeps, input: WorkloadRef & { container?: string; withAutoscaler?: boolean }): Promise<WorkloadState> {
  const kind = input.kind ?? 'Deployment';
  const state = stateOf(kind, await read(deps, input), input.container);
  if (!input.withAutoscaler) return state;
  const autoscaler = await autoscalerOf(deps, { ...input, kind });
  return autoscaler ? { ...state, autoscaler } : state;
}

/** The HorizontalPodAutoscaler (KEDA's included) whose scaleTargetRef is the workload, if any. */
async function autoscalerOf(deps: KubernetesDeps, ref: Required<WorkloadRef>): Promise<WorkloadState['autoscaler']> {
  let list;
  try {
    list = await (await deps.kube()).makeApiClient((await kubernetesApi()).AutoscalingV2Api).listNamespacedHorizontalPodAutoscaler({ namespace: ref.namespace });
  } catch (error) {
    throw kubeFailure(error, `HorizontalPodAutoscalers of ${ref.namespace}`);
  }
  const owner = list.items.find((hpa) => hpa.spec?.scaleTargetRef.kind === ref.kind && hpa.spec.scaleTargetRef.name === ref.name);
  if (!owner) return undefined;
  return { name: owner.metadata?.name ?? '', minReplicas: owner.spec?.minReplicas ?? 1, maxReplicas: owner.spec?.maxReplicas ?? 0 };
}

/**
 * Sets one container's image with a strategic-merge patch (other
 * containers untouched) and records why in kubernetes.io/change-cause.
 * Setting the image it already has changes nothing, so a retry is safe.
 */
export async function setImage(deps: KubernetesDeps, input: WorkloadRef & { container: string; image: string; changeCause: string; requestedBy: string; step: string }): Promise<WorkloadState> {
  const kind = input.kind ?? 'Deployment';
  const body = {
    metadata: { annotations: { 'kubernetes.io/change-cause': input.changeCause } },
    spec: { template: { spec: { containers: [{ name: input.container, image: input.image }] } } },
  };
  const patched = await strategicPatch(deps, input, body);
  await audit(deps, input, 'kubernetes.set-image', `k8s/${input.namespace}/${kind.toLowerCase()}/${input.name}`, {
    container: input.container,
    image: input.image,
    changeCause: input.changeCause,
  });
  return stateOf(kind, patched, input.container);
}

/**
 * Sets the replica count through the scale subresource, written back on the
 * reading it started from (its resourceVersion), so a change made meanwhile
 * is never overwritten: the API server answers 409 and the retry reads again.
 * With `expected` (the count a decision was made on), a count that changed
 * since is left alone: a final Conflict naming both. Returns the count before and after.
 */
export async function scaleWorkload(
  deps: KubernetesDeps,
  input: WorkloadRef & { replicas: number; expected?: number; requestedBy: string; step: string },
): Promise<{ from: number; to: number }> {
  const kind = input.kind ?? 'Deployment';
  const { namespace, name } = input;
  let scale;
  try {
    scale = kind === 'Deployment' ? await (await apps(deps)).readNamespacedDeploymentScale({ namespace, name }) : await (await apps(deps)).readNamespacedStatefulSetScale({ namespace, name });
  } catch (error) {
    throw kubeFailure(error, label(input));
  }
  const from = scale.spec?.replicas ?? 0;
  if (input.expected !== undefined && from !== input.expected && from !== input.replicas) {
    throw ApplicationFailure.nonRetryable(
      `${label(input)} was not scaled to ${input.replicas}: its replica count changed from ${input.expected} to ${from} since that was decided (someone else scaled it)`,
      ErrorType.Conflict,
    );
  }
  const body = { metadata: { resourceVersion: scale.metadata?.resourceVersion }, spec: { replicas: input.replicas } };
  const options = await patchAs('MergePatch');
  try {
    if (kind === 'Deployment') await (await apps(deps)).patchNamespacedDeploymentScale({ namespace, name, body, fieldManager: 'ops-automation' }, options);
    else await (await apps(deps)).patchNamespacedStatefulSetScale({ namespace, name, body, fieldManager: 'ops-automation' }, options);
  } catch (error) {
    // Retryable: the next attempt reads the new state and decides again.
    if (statusOf(error) === 409) throw new Error(`${label(input)} changed while it was being scaled (409 Conflict on resourceVersion ${scale.metadata?.resourceVersion}); reading it again`);
    throw kubeFailure(error, label(input));
  }
  const before = input.expected ?? from;
  await audit(deps, input, 'kubernetes.scale', `k8s/${namespace}/${kind.toLowerCase()}/${name}`, { from: before, to: input.replicas });
  return { from: before, to: input.replicas };
}

/** The pods a label selector (and optional field selector) matches, with readiness and waiting reasons. */
export async function listPods(deps: KubernetesDeps, input: { namespace: string; labelSelector: string; fieldSelector?: string }): Promise<PodState[]> {
  try {
    const list = await (await core(deps)).listNamespacedPod({ namespace: input.namespace, labelSelector: input.labelSelector, ...(input.fieldSelector ? { fieldSelector: input.fieldSelector } : {}) });
    return list.items.map(podState);
  } catch (error) {
    throw kubeFailure(error, `pods ${input.labelSelector} in ${input.namespace}`);
  }
}

/**
 * Restarts a pod the way `kubectl drain` does: an eviction, so its controller
 * replaces it and a PodDisruptionBudget is respected. A budget that allows no
 * disruption now is a final refusal of this step (the next health check or
 * runbook run tries again); a pod already gone is fine.
 */
export async function deletePod(deps: KubernetesDeps, input: { namespace: string; name: string; reason: string; requestedBy: string; step: string }): Promise<{ deleted: boolean }> {
  let deleted = true;
  try {
    await (await core(deps)).createNamespacedPodEviction({
      namespace: input.namespace,
      name: input.name,
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: input.name, namespace: input.namespace } },
    });
  } catch (error) {
    const code = statusOf(error);
    if (code === 429) {
      const why = serverMessage(asApiException(error)?.body) ?? 'too many requests';
      throw ApplicationFailure.nonRetryable(`pod ${input.namespace}/${input.name} was not restarted: its PodDisruptionBudget allows no disruption now (${why})`, ErrorType.Conflict);
    }
    if (code !== 404) throw kubeFailure(error, `pod ${input.namespace}/${input.name}`);
    deleted = false;
  }
  await audit(deps, input, 'kubernetes.delete-pod', `k8s/${input.namespace}/pod/${input.name}`, { reason: input.reason, deleted });
  return { deleted };
}

/** `kubectl rollout restart`: a new pod-template annotation, so every pod is replaced by a rolling update. */
export async function restartWorkload(deps: KubernetesDeps, input: WorkloadRef & { container?: string; at: string; requestedBy: string; step: string }): Promise<WorkloadState> {
  const kind = input.kind ?? 'Deployment';
  const body = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': input.at } } } } };
  const patched = await strategicPatch(deps, input, body);
  await audit(deps, input, 'kubernetes.restart', `k8s/${input.namespace}/${kind.toLowerCase()}/${input.name}`, { restartedAt: input.at });
  return stateOf(kind, patched, input.container ?? patched.spec?.template.spec?.containers[0]?.name);
}

/**
 * Creates `<name>-canary`: the Deployment's pod template with the new
 * image, its own `track: canary` label and `replicas` (default 1). It
 * sits beside the main Deployment, which is not touched. One that already
 * exists is kept when it is ours with this image (a retry), and replaced
 * otherwise (a leftover of another rollout, or not ours).
 */
export async function createCanary(deps: KubernetesDeps, input: { namespace: string; name: string; container: string; image: string; replicas?: number; requestedBy: string; step: string }): Promise<{ name: string; replaced?: string }> {
  const main = (await read(deps, { namespace: input.namespace, name: input.name })) as V1Deployment;
  const canaryName = `${input.name}-canary`;
  const labels = { ...(main.spec?.template.metadata?.labels ?? {}), track: 'canary' };
  const template = structuredClone(main.spec!.template);
  template.metadata = { ...template.metadata, labels };
  template.spec!.containers = template.spec!.containers.map((container) => (container.name === input.container ? { ...container, image: input.image } : container));
  const body = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: canaryName, namespace: input.namespace, labels: { ...(main.metadata?.labels ?? {}), track: 'canary' }, annotations: { 'ops-automation/canary-of': input.name } },
    spec: { replicas: input.replicas ?? 1, selector: { matchLabels: labels }, template, ...(main.spec?.progressDeadlineSeconds ? { progressDeadlineSeconds: main.spec.progressDeadlineSeconds } : {}) },
  };
  const create = async () => (await apps(deps)).createNamespacedDeployment({ namespace: input.namespace, body, fieldManager: 'ops-automation' });
  const context = Context.current();
  // An earlier attempt that replaced a leftover said so in its heartbeat: the result still says it.
  let replaced = (context.info.heartbeatDetails as { replaced?: string } | undefined)?.replaced;
  try {
    await create();
  } catch (error) {
    if (statusOf(error) !== 409) throw kubeFailure(error, `Deployment ${input.namespace}/${canaryName}`);
    // One is there already: ours from an earlier attempt (same image, our annotation) is kept; anything else is replaced.
    const existing = (await read(deps, { namespace: input.namespace, name: canaryName })) as V1Deployment;
    const image = existing.spec?.template.spec?.containers.find((container) => container.name === input.container)?.image;
    const ours = existing.metadata?.annotations?.['ops-automation/canary-of'] === input.name;
    const deleting = existing.metadata?.deletionTimestamp !== undefined;
    if (!ours || image !== input.image || deleting) {
      if (!deleting) {
        replaced = `${ours ? 'a canary of ours' : 'a Deployment not made by ops-automation'} running ${image ?? 'another container'}`;
        context.heartbeat({ replaced });
        await (await apps(deps)).deleteNamespacedDeployment({ namespace: input.namespace, name: canaryName, propagationPolicy: 'Foreground' });
      }
      // A real cluster deletes in the background (foreground: its ReplicaSet and pods first): wait here for it.
      await untilGone(deps, { namespace: input.namespace, name: canaryName }, 15_000, replaced ? { replaced } : undefined);
      try {
        await create();
      } catch (again) {
        throw ApplicationFailure.retryable(`waiting for the leftover ${canaryName} (${replaced ?? 'being deleted'}) to be deleted: ${(again as Error).message}`, 'LeftoverCanary');
      }
    }
  }
  await audit(deps, input, 'kubernetes.create-canary', `k8s/${input.namespace}/deployment/${canaryName}`, { of: input.name, image: input.image, ...(replaced ? { replaced } : {}) });
  return { name: canaryName, ...(replaced ? { replaced } : {}) };
}

/** Waits (heartbeating `details`, which a retry reads back) until a Deployment is gone, at most `timeoutMs`. */
async function untilGone(deps: KubernetesDeps, ref: WorkloadRef, timeoutMs: number, details?: unknown): Promise<void> {
  const context = Context.current();
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    try {
      await (await apps(deps)).readNamespacedDeployment({ namespace: ref.namespace, name: ref.name });
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw kubeFailure(error, label(ref));
    }
    context.heartbeat(details);
    await context.sleep(250);
  }
}

/** Deletes the canary Deployment; one already gone is fine. */
export async function deleteCanary(deps: KubernetesDeps, input: { namespace: string; name: string; requestedBy: string; step: string }): Promise<void> {
  const canaryName = `${input.name}-canary`;
  try {
    await (await apps(deps)).deleteNamespacedDeployment({ namespace: input.namespace, name: canaryName, propagationPolicy: 'Foreground' });
  } catch (error) {
    if (statusOf(error) !== 404) throw kubeFailure(error, `Deployment ${input.namespace}/${canaryName}`);
  }
  await audit(deps, input, 'kubernetes.delete-canary', `k8s/${input.namespace}/deployment/${canaryName}`, { of: input.name });
}

/**
 * Waits until the rollout completes, heartbeating what it waits for. A
 * Progressing condition past its deadline, or `timeoutMs` without
 * completing, is a final RolloutFailed failure.
 */
export async function waitForRollout(deps: KubernetesDeps, input: WorkloadRef & { container: string; timeoutMs: number; pollMs?: number }): Promise<WorkloadState> {
  const context = Context.current();
  const deadline = Date.now() + input.timeoutMs;
  for (;;) {
    const state = stateOf(input.kind ?? 'Deployment', await read(deps, input), input.container);
    context.heartbeat({ waitingFor: state.waitingFor ?? 'nothing' });
    if (state.failed) throw ApplicationFailure.nonRetryable(`rollout of ${label(input)} failed: ${state.failed}`, ErrorType.RolloutFailed);
    if (state.rolledOut) return state;
    if (Date.now() > deadline) {
      throw ApplicationFailure.nonRetryable(
        `rollout of ${label(input)} did not complete within ${Math.round(input.timeoutMs / 1000)}s (waiting for ${state.waitingFor})`,
        ErrorType.RolloutFailed,
      );
    }
    await context.sleep(input.pollMs ?? 1000);
  }
}

export function createKubernetesActivities(deps: KubernetesDeps) {
  return bindDeps(deps, { readWorkload, setImage, scaleWorkload, listPods, deletePod, restartWorkload, createCanary, deleteCanary, waitForRollout });
}
