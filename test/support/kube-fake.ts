import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { closeServer, listenOnLoopback } from './loopback.js';

/**
 * A local Kubernetes API server for the objects rollouts and health checks
 * use, speaking the real REST wire format to the real @kubernetes/client-node:
 * Deployments and StatefulSets (GET, PATCH with strategic-merge, merge and JSON
 * patch types, the scale subresource), Pods (list with label and field
 * selectors, DELETE). It simulates rollouts over time: pods of a good image
 * become ready one by one; pods of an image marked bad never do, so the
 * Progressing condition times out after progressDeadlineSeconds.
 */

type Json = Record<string, unknown>;
type Kind = 'Deployment' | 'StatefulSet';

interface Workload {
  kind: Kind;
  object: Json & { metadata: Json & { name: string; namespace: string; annotations: Record<string, string>; generation: number; labels: Record<string, string> }; spec: Json };
  /** The image of the last rollout that completed: old pods run it. */
  stableImages: Record<string, string>;
  /** The pod template of the last rollout that completed; any other template is rolling out. */
  stableTemplate: string;
  /** When the current template started rolling out. */
  rolloutStartedAt: number;
  revision: number;
}

export interface RecordedKubeRequest {
  method: string;
  path: string;
  contentType?: string;
  body?: unknown;
}

const containersOf = (object: Workload['object']) =>
  ((object.spec.template as Json).spec as { containers: { name: string; image: string }[] }).containers;

function strategicMerge(target: unknown, patch: unknown, strategic: boolean): unknown {
  if (patch === null) return undefined;
  if (Array.isArray(patch)) {
    if (strategic && Array.isArray(target) && patch.every((item) => item && typeof item === 'object' && 'name' in item)) {
      const merged = target.map((item) => ({ ...(item as Json) }));
      for (const item of patch as Json[]) {
        const index = merged.findIndex((existing) => existing.name === item.name);
        if (index >= 0) merged[index] = strategicMerge(merged[index], item, strategic) as Json;
        else merged.push(item);
      }
      return merged;
    }
    return patch;
  }
  if (typeof patch !== 'object' || typeof target !== 'object' || target === null || Array.isArray(target)) return patch;
  const result: Json = { ...(target as Json) };
  for (const [key, value] of Object.entries(patch as Json)) {
    const merged = strategicMerge(result[key], value, strategic);
    if (merged === undefined) delete result[key];
    else result[key] = merged;
  }
  return result;
}

function applyJsonPatch(target: Json, operations: { op: string; path: string; value?: unknown }[]): Json {
  const copy = structuredClone(target);
  for (const operation of operations) {
    const parts = operation.path.split('/').slice(1).map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = parts.pop()!;
    let node: Record<string, unknown> | unknown[] = copy;
    for (const part of parts) node = (node as Record<string, unknown>)[part] as Record<string, unknown>;
    if (operation.op === 'replace' || operation.op === 'add') (node as Record<string, unknown>)[last] = operation.value;
    else if (operation.op === 'remove') delete (node as Record<string, unknown>)[last];
  }
  return copy;
}

function selectorMatches(selector: string | null, labels: Record<string, string>): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=');
    return labels[key!] === value;
  });
}

export class FakeKubernetes {
  private server: Server | undefined;
  private readonly workloads = new Map<string, Workload>();
  private readonly deletedPods = new Set<string>();
  /** Pods the test made unready, with when they stopped being ready. */
  private readonly unreadyPods = new Map<string, { since: Date; reason: string }>();
  readonly requests: RecordedKubeRequest[] = [];
  /** Images whose pods never become ready (by repo:tag; a pinned reference of one is bad too). */
  readonly badImages = new Set<string>();
  /** How long each new pod takes to become ready. */
  podReadyMs = 300;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => void this.handle(request, response));
    this.url = `http://127.0.0.1:${await listenOnLoopback(this.server)}`;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }

  /** A KubeConfig pointing the real client at this server. */
  kubeConfig(): KubeConfig {
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester', namespace: 'default' }],
      currentContext: 'fake',
    });
    return config;
  }

  /** The same as a kubeconfig file, for a worker process (KUBECONFIG). */
  writeKubeconfig(path: string): string {
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `  - name: fake\n    cluster:\n      server: ${this.url}\n      insecure-skip-tls-verify: true`,
        'users:',
        '  - name: tester\n    user:\n      token: fake-token',
        'contexts:',
        '  - name: fake\n    context:\n      cluster: fake\n      user: tester',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return path;
  }

  addWorkload(kind: Kind, namespace: string, name: string, options: { image: string; replicas?: number; container?: string; progressDeadlineSeconds?: number }): void {
    this.createSettled(kind, namespace, name, options);
    const workload = this.workloads.get(`${kind}/${namespace}/${name}`)!;
    workload.stableTemplate = JSON.stringify(workload.object.spec.template);
  }

  private createSettled(kind: Kind, namespace: string, name: string, options: { image: string; replicas?: number; container?: string; progressDeadlineSeconds?: number }): void {
    const container = options.container ?? 'app';
    const labels = { app: name };
    this.workloads.set(`${kind}/${namespace}/${name}`, {
      kind,
      object: {
        apiVersion: 'apps/v1',
        kind,
        metadata: { name, namespace, uid: `${name}-uid`, generation: 1, labels, annotations: { 'deployment.kubernetes.io/revision': '1' }, resourceVersion: '1' },
        spec: {
          replicas: options.replicas ?? 3,
          selector: { matchLabels: labels },
          ...(kind === 'Deployment' ? { progressDeadlineSeconds: options.progressDeadlineSeconds ?? 3, strategy: { type: 'RollingUpdate' } } : { serviceName: name }),
          template: { metadata: { labels }, spec: { containers: [{ name: container, image: options.image }] } },
        },
      },
      stableImages: { [container]: options.image },
      stableTemplate: '',
      rolloutStartedAt: Date.now() - 60_000,
      revision: 1,
    });
  }

  /** The workload as the API would return it, with its status computed for now. */
  workload(kind: Kind, namespace: string, name: string): Json | undefined {
    const workload = this.workloads.get(`${kind}/${namespace}/${name}`);
    return workload ? this.withStatus(workload) : undefined;
  }

  image(kind: Kind, namespace: string, name: string, container = 'app'): string | undefined {
    const workload = this.workloads.get(`${kind}/${namespace}/${name}`);
    return workload ? containersOf(workload.object).find((entry) => entry.name === container)?.image : undefined;
  }

  /** Makes a pod (for example `api-old-0`) report Ready=False since `since`, its container waiting for `reason`. */
  markPodUnready(namespace: string, pod: string, since: Date, reason = 'CrashLoopBackOff'): void {
    this.unreadyPods.set(`${namespace}/${pod}`, { since, reason });
  }

  /** The names of the pods the API lists now in `namespace`. */
  podNames(namespace: string): string[] {
    return [...this.workloads.values()]
      .filter((workload) => workload.object.metadata.namespace === namespace)
      .flatMap((workload) => this.pods(workload).map((pod) => (pod.metadata as Json).name as string));
  }

  exists(kind: Kind, namespace: string, name: string): boolean {
    return this.workloads.has(`${kind}/${namespace}/${name}`);
  }

  private isBad(image: string): boolean {
    return this.badImages.has(image) || this.badImages.has(image.split('@')[0]!);
  }

  /** Pod readiness of the current template: how many new pods are ready, and whether it failed. */
  private progress(workload: Workload) {
    const replicas = Number(workload.object.spec.replicas ?? 1);
    const images = containersOf(workload.object);
    const template = JSON.stringify(workload.object.spec.template);
    const changed = workload.stableTemplate !== template;
    const bad = images.some((container) => this.isBad(container.image));
    const elapsed = Date.now() - workload.rolloutStartedAt;
    if (!changed) return { replicas, updated: replicas, ready: replicas, failed: false, complete: true };
    if (bad) {
      const deadline = Number(workload.object.spec.progressDeadlineSeconds ?? 600) * 1000;
      return { replicas, updated: 1, ready: 0, failed: elapsed > deadline, complete: false };
    }
    const ready = Math.min(replicas, Math.floor(elapsed / this.podReadyMs));
    if (ready >= replicas) {
      // The rollout completed: the new template is now the stable one.
      for (const container of images) workload.stableImages[container.name] = container.image;
      workload.stableTemplate = template;
      return { replicas, updated: replicas, ready: replicas, failed: false, complete: true };
    }
    return { replicas, updated: Math.min(replicas, ready + 1), ready, failed: false, complete: false };
  }

  private withStatus(workload: Workload): Json {
    const progress = this.progress(workload);
    const generation = workload.object.metadata.generation;
    const now = new Date().toISOString();
    const oldAvailable = progress.complete ? 0 : progress.replicas - progress.ready;
    const status =
      workload.kind === 'Deployment'
        ? {
            observedGeneration: generation,
            replicas: progress.complete ? progress.replicas : progress.replicas + 1,
            updatedReplicas: progress.updated,
            readyReplicas: progress.ready + oldAvailable,
            availableReplicas: progress.ready + oldAvailable,
            ...(progress.complete ? {} : { unavailableReplicas: progress.updated - progress.ready }),
            conditions: [
              { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', lastUpdateTime: now, lastTransitionTime: now },
              progress.failed
                ? { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${workload.object.metadata.name}-${workload.revision}" has timed out progressing.`, lastUpdateTime: now, lastTransitionTime: now }
                : { type: 'Progressing', status: 'True', reason: progress.complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated', lastUpdateTime: now, lastTransitionTime: now },
            ],
          }
        : {
            observedGeneration: generation,
            replicas: progress.replicas,
            updatedReplicas: progress.updated,
            readyReplicas: progress.ready + oldAvailable,
            availableReplicas: progress.ready + oldAvailable,
            currentRevision: progress.complete ? `${workload.object.metadata.name}-${workload.revision}` : `${workload.object.metadata.name}-${workload.revision - 1}`,
            updateRevision: `${workload.object.metadata.name}-${workload.revision}`,
          };
    return { ...structuredClone(workload.object), status };
  }

  private pods(workload: Workload): Json[] {
    const progress = this.progress(workload);
    const { name, namespace } = workload.object.metadata;
    const images = containersOf(workload.object);
    const pod = (id: string, image: Record<string, string>, healthy: boolean, waiting?: string): Json => {
      const podName = `${name}-${id}`;
      const unready = this.unreadyPods.get(`${namespace}/${podName}`);
      const ready = healthy && !unready;
      const reason = waiting ?? unready?.reason;
      const since = new Date(unready?.since ?? workload.rolloutStartedAt).toISOString();
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: podName, namespace, labels: workload.object.metadata.labels, ownerReferences: [{ kind: workload.kind === 'Deployment' ? 'ReplicaSet' : 'StatefulSet', name: `${name}-${workload.revision}` }] },
        spec: { containers: Object.entries(image).map(([container, ref]) => ({ name: container, image: ref })) },
        status: {
          phase: ready || unready ? 'Running' : 'Pending',
          startTime: new Date(workload.rolloutStartedAt).toISOString(),
          conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: since }],
          containerStatuses: Object.entries(image).map(([container, ref]) => ({ name: container, image: ref, ready, restartCount: reason ? 4 : 0, ...(reason ? { state: { waiting: { reason } } } : { state: { running: {} } }) })),
        },
      };
    };
    const current = Object.fromEntries(images.map((container) => [container.name, container.image]));
    const list: Json[] = [];
    for (let index = 0; index < progress.replicas - (progress.complete ? 0 : progress.ready); index += 1) {
      list.push(pod(`old-${index}`, progress.complete ? current : workload.stableImages, true));
    }
    if (!progress.complete) {
      for (let index = 0; index < progress.updated; index += 1) {
        const ready = index < progress.ready;
        list.push(pod(`new-${workload.revision}-${index}`, current, ready, ready ? undefined : progress.updated === 1 && this.badImages.size > 0 && images.some((container) => this.isBad(container.image)) ? 'CrashLoopBackOff' : undefined));
      }
    }
    return list.filter((entry) => !this.deletedPods.has(`${namespace}/${(entry.metadata as Json).name as string}`));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of request) raw += (chunk as Buffer).toString();
    const url = new URL(request.url ?? '/', 'http://fake');
    const contentType = request.headers['content-type'];
    const body = raw ? (JSON.parse(raw) as unknown) : undefined;
    this.requests.push({ method: request.method ?? 'GET', path: url.pathname + url.search, ...(contentType ? { contentType } : {}), ...(body === undefined ? {} : { body }) });
    const send = (status: number, payload: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(payload));
    };
    const notFound = (what: string) =>
      send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `${what} not found`, reason: 'NotFound', code: 404 });

    const collectionMatch = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments$/.exec(url.pathname);
    if (collectionMatch && request.method === 'POST') {
      const created = body as Workload['object'];
      const namespace = collectionMatch[1]!;
      const name = created.metadata.name;
      if (this.workloads.has(`Deployment/${namespace}/${name}`)) {
        return send(409, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `deployments.apps "${name}" already exists`, reason: 'AlreadyExists', code: 409 });
      }
      const containers = containersOf(created);
      const workload: Workload = {
        kind: 'Deployment',
        object: {
          ...created,
          metadata: { ...created.metadata, namespace, generation: 1, annotations: { ...(created.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': '1' }, labels: created.metadata.labels ?? {} },
          spec: { progressDeadlineSeconds: 600, ...created.spec },
        },
        // A new Deployment rolls out from nothing: no stable image yet.
        stableImages: Object.fromEntries(containers.map((container) => [container.name, ''])),
        stableTemplate: '',
        rolloutStartedAt: Date.now(),
        revision: 1,
      };
      this.workloads.set(`Deployment/${namespace}/${name}`, workload);
      return send(201, this.withStatus(workload));
    }

    const workloadMatch = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|statefulsets)\/([^/]+)(\/scale)?$/.exec(url.pathname);
    if (workloadMatch) {
      const [, namespace, plural, name, scale] = workloadMatch as unknown as [string, string, string, string, string | undefined];
      const kind: Kind = plural === 'deployments' ? 'Deployment' : 'StatefulSet';
      const workload = this.workloads.get(`${kind}/${namespace}/${name}`);
      if (!workload) return notFound(`${plural}.apps "${name}"`);
      if (request.method === 'DELETE' && !scale) {
        this.workloads.delete(`${kind}/${namespace}/${name}`);
        return send(200, { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name, group: 'apps', kind: plural } });
      }
      if (request.method === 'PATCH' || request.method === 'PUT') {
        const before = JSON.stringify(workload.object.spec.template);
        const patch = body as Json;
        if (scale) {
          const replicas = ((patch.spec as Json | undefined)?.replicas ?? replicasFromJsonPatch(patch)) as number;
          workload.object.spec.replicas = replicas;
        } else if (contentType === 'application/json-patch+json') {
          workload.object = applyJsonPatch(workload.object, body as { op: string; path: string; value?: unknown }[]) as Workload['object'];
        } else {
          workload.object = strategicMerge(workload.object, patch, contentType !== 'application/merge-patch+json') as Workload['object'];
        }
        // A changed pod template (image, restart annotation) is a new revision that rolls out.
        if (JSON.stringify(workload.object.spec.template) !== before) {
          workload.object.metadata.generation += 1;
          workload.revision += 1;
          workload.rolloutStartedAt = Date.now();
          workload.object.metadata.annotations = { ...workload.object.metadata.annotations, 'deployment.kubernetes.io/revision': String(workload.revision) };
        }
      }
      if (scale) {
        const replicas = Number(workload.object.spec.replicas);
        return send(200, { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name, namespace }, spec: { replicas }, status: { replicas, selector: `app=${name}` } });
      }
      return send(200, this.withStatus(workload));
    }

    const podsMatch = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+)(\/eviction)?)?$/.exec(url.pathname);
    if (podsMatch) {
      const [, namespace, podName, eviction] = podsMatch as unknown as [string, string, string | undefined, string | undefined];
      const all = [...this.workloads.values()].filter((workload) => workload.object.metadata.namespace === namespace).flatMap((workload) => this.pods(workload));
      if (!podName && request.method === 'GET') {
        const selector = url.searchParams.get('labelSelector');
        const field = url.searchParams.get('fieldSelector');
        const items = all.filter(
          (pod) =>
            selectorMatches(selector, (pod.metadata as Json).labels as Record<string, string>) &&
            (!field || field.split(',').every((term) => term !== 'status.phase=Running' || (pod.status as Json).phase === 'Running')),
        );
        return send(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items });
      }
      const pod = all.find((candidate) => (candidate.metadata as Json).name === podName);
      if (!pod) return notFound(`pods "${podName}"`);
      if (request.method === 'DELETE' || (eviction && request.method === 'POST')) {
        this.deletedPods.add(`${namespace}/${podName}`);
        return eviction ? send(201, { kind: 'Status', apiVersion: 'v1', status: 'Success' }) : send(200, pod);
      }
      return send(200, pod);
    }
    notFound(url.pathname);
  }
}

function replicasFromJsonPatch(patch: unknown): number | undefined {
  if (!Array.isArray(patch)) return undefined;
  return (patch as { path: string; value: number }[]).find((operation) => operation.path === '/spec/replicas')?.value;
}
