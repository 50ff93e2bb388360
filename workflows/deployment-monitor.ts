import { proxyActivities, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { createDeploymentMonitorActivities, EnvironmentCheck } from '../activities/deployment-monitor.js';
import { OpsKind, OpsStatus } from '../src/domain/search-attributes.js';
import { quickApiCall } from './activity-profiles.js';

/**
 * deploymentMonitorWorkflow (every `interval` of each environment, from its
 * schedule): checks the Deployments of one environment of the policy's
 * `environments` (or all of them) and gives each a health score from
 * readiness, restarts, response time, CPU and memory against that
 * environment's thresholds. The checks are recorded (unless a dry run) and
 * exported on /metrics, where the DeploymentDown and DeploymentHealthDegraded
 * rules alert on them.
 *   temporal workflow start --type deploymentMonitorWorkflow --task-queue ops --input '{"environment": "production", "dryRun": true}'
 */
export interface DeploymentMonitorInput {
  /** Default: every environment of the policy. */
  environment?: string;
  /** Check and report; record nothing. */
  dryRun?: boolean;
  requestedBy?: string;
}

export interface DeploymentMonitorResult {
  dryRun: boolean;
  checkedAt: string;
  environments: EnvironmentCheck[];
}

const monitor = proxyActivities<ReturnType<typeof createDeploymentMonitorActivities>>({ ...quickApiCall, startToCloseTimeout: '2m' });

export async function deploymentMonitorWorkflow(input: DeploymentMonitorInput = {}): Promise<DeploymentMonitorResult> {
  const dryRun = input.dryRun === true;
  const checkedAt = new Date().toISOString();
  upsertSearchAttributes([
    { key: OpsKind, value: 'deployment-monitor' },
    { key: OpsStatus, value: 'running' },
  ]);
  const names = await monitor.monitorEnvironments({ ...(input.environment !== undefined ? { environment: input.environment } : {}) });
  const environments: EnvironmentCheck[] = [];
  for (const environment of names) environments.push(await monitor.checkEnvironment({ environment, checkedAt, dryRun }));
  const all = environments.flatMap((check) => check.deployments);
  const unhealthy = all.filter((deployment) => deployment.state !== 'healthy');
  upsertSearchAttributes([{ key: OpsStatus, value: unhealthy.length > 0 ? 'unhealthy' : 'succeeded' }]);
  upsertMemo({ summary: `${all.length} deployments in ${names.join(', ') || 'no environments'}: ${unhealthy.length} not healthy${dryRun ? ' (dry run)' : ''}` });
  return { dryRun, checkedAt, environments };
}
