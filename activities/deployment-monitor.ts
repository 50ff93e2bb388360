import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import type { KubeConfig, V1Deployment, V1PodSpec } from '@kubernetes/client-node';
import { kubernetesApi } from '../src/clients/kubernetes-api.js';
// The client's quantity parser alone: its module is small and does not load the client.
import { quantityToScalar } from '@kubernetes/client-node/dist/util.js';
import type { Policy } from '../src/config/policy.js';
import type { EnvironmentPolicy } from '../src/config/policy-environments.js';
import { recordChecks } from '../src/db/deployment-checks.js';
import { deploymentHealth, type DeploymentHealth, type DeploymentObservation } from '../src/domain/deployment-health.js';
import { ErrorType } from '../src/domain/errors.js';
import { bindDeps } from './bind-deps.js';
import { checkHttp } from './http-check.js';
import { kubeFailure, listPods, selectorOf } from './kubernetes.js';
import { instantQuery } from './prometheus.js';

/**
 * The deployment monitor's look at one environment: its Deployments (by
 * namespace and label selector), their replicas and their pods' restarts from
 * the API server, CPU and memory use from Prometheus against the pods' limits
 * (or requests), a timed GET of the URL the policy gives, then the health
 * score (src/domain/deployment-health.ts), recorded unless it is a dry run.
 */
export interface DeploymentMonitorDeps {
  /** The cluster's config; may be loaded on first use. */
  kube: () => KubeConfig | Promise<KubeConfig>;
  pool: pg.Pool;
  prometheusUrl: string;
  policy: Pick<Policy, 'environments'>;
}

export interface EnvironmentCheck {
  environment: string;
  checkedAt: string;
  deployments: DeploymentHealth[];
  recorded: boolean;
}

function environmentOf(deps: DeploymentMonitorDeps, name: string): EnvironmentPolicy {
  const environment = deps.policy.environments[name];
  if (!environment) {
    const known = Object.keys(deps.policy.environments);
    throw ApplicationFailure.nonRetryable(`no environment "${name}" in the policy's environments (${known.length > 0 ? known.join(', ') : 'none defined'})`, ErrorType.InvalidInput);
  }
  return environment;
}

/** The environments to check: the one named (refused when unknown), else all. */
export async function monitorEnvironments(deps: DeploymentMonitorDeps, input: { environment?: string }): Promise<string[]> {
  if (input.environment !== undefined) {
    environmentOf(deps, input.environment);
    return [input.environment];
  }
  return Object.keys(deps.policy.environments).sort();
}

async function listDeployments(deps: DeploymentMonitorDeps, environment: EnvironmentPolicy, name: string): Promise<V1Deployment[]> {
  const apps = (await deps.kube()).makeApiClient((await kubernetesApi()).AppsV1Api);
  const labelSelector = environment.selector;
  try {
    if (environment.namespaces.length === 0) return (await apps.listDeploymentForAllNamespaces({ ...(labelSelector ? { labelSelector } : {}) })).items;
    const lists = await Promise.all(environment.namespaces.map((namespace) => apps.listNamespacedDeployment({ namespace, ...(labelSelector ? { labelSelector } : {}) })));
    return lists.flatMap((list) => list.items);
  } catch (error) {
    throw kubeFailure(error, `the Deployments of environment ${name}`);
  }
}

/** What one pod may use of a resource: the sum of its containers' limits, else of their requests; undefined when a container has neither. */
function perPod(spec: V1PodSpec | undefined, resource: 'cpu' | 'memory'): number | undefined {
  let total = 0;
  for (const container of spec?.containers ?? []) {
    const quantity = container.resources?.limits?.[resource] ?? container.resources?.requests?.[resource];
    if (quantity === undefined) return undefined;
    total += Number(quantityToScalar(quantity));
  }
  return total > 0 ? total : undefined;
}

async function useRatio(deps: DeploymentMonitorDeps, query: string, capacity: number | undefined): Promise<number | undefined> {
  if (capacity === undefined || !deps.prometheusUrl) return undefined;
  let samples;
  try {
    samples = (await instantQuery(deps.prometheusUrl, query)).filter((sample) => Number.isFinite(sample.value));
  } catch (error) {
    // A query Prometheus refuses is the policy's mistake, said once; Prometheus being away only leaves the part out.
    if (error instanceof ApplicationFailure) throw error;
    return undefined;
  }
  if (samples.length === 0) return undefined;
  return samples.reduce((sum, sample) => sum + sample.value, 0) / capacity;
}

/** The probe: a timed GET (checkHttp); any answer under 400 counts, its time is the response time. */
async function probe(url: string, thresholdSeconds: number): Promise<Pick<DeploymentObservation, 'responseSeconds' | 'probeError'>> {
  const result = await checkHttp({ url, expectStatus: 200, timeoutMs: Math.max(1000, 4 * thresholdSeconds * 1000) });
  if (result.status === undefined) return { probeError: result.detail };
  return { responseSeconds: result.ms / 1000, ...(result.status >= 400 ? { probeError: `HTTP ${result.status}` } : {}) };
}

export async function checkEnvironment(deps: DeploymentMonitorDeps, input: { environment: string; checkedAt: string; dryRun?: boolean }): Promise<EnvironmentCheck> {
  const environment = environmentOf(deps, input.environment);
  const deployments = await listDeployments(deps, environment, input.environment);
  const fill = (query: string, namespace: string, deployment: string) => query.replaceAll('$namespace', namespace).replaceAll('$deployment', deployment);
  const results: DeploymentHealth[] = [];
  for (const deployment of deployments.sort((a, b) => `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`))) {
    const namespace = deployment.metadata?.namespace ?? '';
    const name = deployment.metadata?.name ?? '';
    const selector = selectorOf(deployment);
    const pods = selector ? (await listPods(deps, { namespace, labelSelector: selector })).filter((pod) => !pod.terminating) : [];
    const running = pods.filter((pod) => pod.phase === 'Running').length;
    const capacity = (resource: 'cpu' | 'memory') => {
      const each = perPod(deployment.spec?.template.spec, resource);
      return each === undefined || running === 0 ? undefined : each * running;
    };
    const [cpuRatio, memoryRatio] = await Promise.all([
      useRatio(deps, fill(environment.queries.cpu, namespace, name), capacity('cpu')),
      useRatio(deps, fill(environment.queries.memory, namespace, name), capacity('memory')),
    ]);
    const url = environment.probes[`${namespace}/${name}`];
    const observation: DeploymentObservation = {
      environment: input.environment,
      namespace,
      deployment: name,
      desired: deployment.spec?.replicas ?? 1,
      ready: deployment.status?.readyReplicas ?? 0,
      available: deployment.status?.availableReplicas ?? 0,
      updated: deployment.status?.updatedReplicas ?? 0,
      restarts: pods.reduce((sum, pod) => sum + pod.restarts, 0),
      ...(url ? await probe(url, environment.thresholds.responseSeconds) : {}),
      ...(cpuRatio !== undefined ? { cpuRatio } : {}),
      ...(memoryRatio !== undefined ? { memoryRatio } : {}),
    };
    results.push(deploymentHealth(observation, environment.thresholds));
  }
  if (!input.dryRun) await recordChecks(deps.pool, { environment: input.environment, checkedAt: input.checkedAt, deployments: results, retentionMs: environment.retention });
  return { environment: input.environment, checkedAt: input.checkedAt, deployments: results, recorded: !input.dryRun };
}

export function createDeploymentMonitorActivities(deps: DeploymentMonitorDeps) {
  return bindDeps(deps, { monitorEnvironments, checkEnvironment });
}
