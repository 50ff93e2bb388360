import { ActivityFailure, proxyActivities, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { createGuardrailActivities } from '../activities/guardrails.js';
import type { createKubernetesActivities, WorkloadState } from '../activities/kubernetes.js';
import type { createPrometheusActivities } from '../activities/prometheus.js';
import type { createRemediationSettingsActivities, HealthCheckSettings } from '../activities/remediation-settings.js';
import { failureMessage } from '../src/domain/failures.js';
import { cpuDecision, memoryDecision, selfHealingDedupKey, stuckPods, windowQueries, type HealthDecision } from '../src/domain/health-check.js';
import { guardKey } from '../src/domain/remediation.js';
import { renderQuery } from '../src/domain/rollout.js';
import { OpsKind, OpsStatus } from '../src/domain/search-attributes.js';
import { quickApiCall } from './activity-profiles.js';
import { ownIncident } from './own-incident.js';

/**
 * healthCheckWorkflow (every 5 minutes from its schedule): for each workload
 * in the policy's `healthCheck.targets`, deletes pods stuck not ready (at
 * most `maxDeletes` per pod owner per window), scales by one replica on CPU
 * held above or below its marks for a whole window, and restarts a workload
 * whose memory keeps growing (at most twice a day). Every decision, taken or
 * not, comes back with its reason; self-healing that runs out of attempts
 * opens the incident `self-healing-<namespace>-<deployment>`.
 *   temporal workflow start --type healthCheckWorkflow --task-queue ops --input '{"dryRun": true}'
 */
export interface HealthCheckInput {
  /** Decide and report, change nothing (guardrails are asked, not used). */
  dryRun?: boolean;
  /** Only these of the policy's targets (`<namespace>/<deployment>`); default all. */
  only?: string[];
  requestedBy?: string;
}

export interface HealthCheckResult {
  dryRun: boolean;
  targets: number;
  decisions: HealthDecision[];
  /** Incidents opened because self-healing ran out of attempts. */
  incidents: string[];
}

const settingsOf = proxyActivities<ReturnType<typeof createRemediationSettingsActivities>>(quickApiCall);
const kubernetes = proxyActivities<ReturnType<typeof createKubernetesActivities>>(quickApiCall);
const prometheus = proxyActivities<ReturnType<typeof createPrometheusActivities>>(quickApiCall);
const guardrails = proxyActivities<ReturnType<typeof createGuardrailActivities>>(quickApiCall);

type Target = HealthCheckSettings['targets'][number];

export async function healthCheckWorkflow(input: HealthCheckInput = {}): Promise<HealthCheckResult> {
  const dryRun = input.dryRun === true;
  const requestedBy = input.requestedBy?.trim() || 'system';
  upsertSearchAttributes([
    { key: OpsKind, value: 'health-check' },
    { key: OpsStatus, value: 'running' },
  ]);
  const settings = await settingsOf.healthCheckSettings();
  const targets = input.only ? settings.targets.filter((target) => input.only!.includes(`${target.namespace}/${target.deployment}`)) : settings.targets;
  const decisions: HealthDecision[] = [];
  const incidents: string[] = [];

  for (const target of targets) {
    const label = `${target.namespace}/${target.deployment}`;
    const ran: HealthDecision[] = [];
    let outOfAttempts: string[] = [];
    try {
      ({ outOfAttempts } = await checkTarget(target, settings, dryRun, requestedBy, ran));
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      ran.push({ target: label, rule: 'pods', action: 'none', taken: false, reason: `could not check: ${failureMessage(error)}` });
    }
    decisions.push(...ran);
    if (dryRun) continue;
    const exhausted = ownIncident({
      dedupKey: selfHealingDedupKey(target.namespace, target.deployment),
      labels: { alertname: 'SelfHealingExhausted', namespace: target.namespace, deployment: target.deployment, service: target.deployment, severity: 'high' },
    });
    if (outOfAttempts.length > 0) {
      incidents.push(await exhausted.raise({ summary: `Self-healing of ${label} ran out of attempts`, description: outOfAttempts.join('; ') }));
    } else if (ran.every((decision) => decision.action === 'none' || decision.taken)) {
      await exhausted.clear(`Self-healing of ${label} is keeping up`);
    }
  }

  const taken = decisions.filter((decision) => decision.taken).length;
  upsertSearchAttributes([{ key: OpsStatus, value: incidents.length > 0 ? 'exhausted' : 'succeeded' }]);
  upsertMemo({ summary: `${dryRun ? 'Dry run: ' : ''}${targets.length} workloads checked, ${taken} actions taken, ${incidents.length} incidents` });
  return { dryRun, targets: targets.length, decisions, incidents };
}

/** Every rule for one workload; appends its decisions to `ran` and says which ran out of attempts. */
async function checkTarget(target: Target, settings: HealthCheckSettings, dryRun: boolean, requestedBy: string, ran: HealthDecision[]): Promise<{ outOfAttempts: string[] }> {
  const label = `${target.namespace}/${target.deployment}`;
  const ref = { namespace: target.namespace, name: target.deployment };
  const resource = `k8s/${target.namespace}/deployment/${target.deployment}`;
  const step = (name: string) => `${label}:${name}`;
  const outOfAttempts: string[] = [];
  const workload: WorkloadState = await kubernetes.readWorkload({ ...ref, withAutoscaler: true });

  // Pods stuck not ready: deleted so their controller replaces them.
  const pods = await kubernetes.listPods({ namespace: target.namespace, labelSelector: workload.selector ?? `app=${target.deployment}` });
  const stuck = stuckPods(pods, Date.now(), settings.pods.notReadyForMs);
  if (stuck.length === 0) {
    const unready = pods.filter((pod) => !(pod.ready && pod.phase === 'Running')).length;
    ran.push({ target: label, rule: 'pods', action: 'none', taken: false, reason: `${pods.length} pods, ${unready} not ready, none for over ${Math.round(settings.pods.notReadyForMs / 1000)}s` });
  }
  for (const pod of stuck) {
    const reason = `pod ${pod.name} not ready for ${Math.round(pod.forMs / 1000)}s`;
    const decision = await guardrails.reserveAction({
      guardKey: guardKey('pod-delete', `k8s/${target.namespace}/${pod.owner ?? target.deployment}`),
      guardrail: { maxActions: settings.pods.maxDeletes, windowMs: settings.pods.windowMs, cooldownMs: 0 },
      step: step(`delete:${pod.name}`),
      dryRun,
    });
    if (!decision.granted) {
      ran.push({ target: label, rule: 'pods', action: 'delete-pod', pod: pod.name, taken: false, reason: `${reason}; refused: ${decision.reason}` });
      if (decision.exhausted) outOfAttempts.push(`${reason}, and pods of ${pod.owner ?? label} were deleted ${settings.pods.maxDeletes} times already`);
      continue;
    }
    if (!dryRun) await kubernetes.deletePod({ namespace: target.namespace, name: pod.name, reason, requestedBy, step: step(`delete:${pod.name}`) });
    ran.push({ target: label, rule: 'pods', action: 'delete-pod', pod: pod.name, taken: !dryRun, reason: dryRun ? `${reason}; would delete it` : reason });
  }

  const values = { namespace: target.namespace, workload: target.deployment };
  if (settings.cpu.query) {
    const query = renderQuery(settings.cpu.query, values);
    const up = windowQueries(query, settings.cpu.scaleUpFor);
    const down = windowQueries(query, settings.cpu.scaleDownFor);
    const figures = await prometheus.queryValues({ queries: { upMin: up.min, upSamples: up.count, downMax: down.max, downSamples: down.count } });
    const decision = cpuDecision(label, workload.replicas, figures, { ...settings.cpu, minReplicas: target.minReplicas, maxReplicas: target.maxReplicas });
    const { refused, ...entry } = decision;
    if (decision.action === 'none') ran.push({ ...entry, taken: false });
    else if (workload.autoscaler) {
      // Scaling beside an autoscaler would fight it: it would undo ours, or we its. Report only.
      const { name, minReplicas, maxReplicas } = workload.autoscaler;
      ran.push({ ...entry, taken: false, reason: `${decision.reason}; not scaled: HorizontalPodAutoscaler ${name} owns its replica count (${minReplicas}-${maxReplicas})` });
    } else if (refused) {
      ran.push({ ...entry, taken: false, reason: `${decision.reason}; refused: ${refused}` });
      if (decision.action === 'scale-up') outOfAttempts.push(`${decision.reason}, and it is ${refused}`);
    } else {
      // One change per window: the next decision must see a whole window of the new replica count.
      const window = decision.action === 'scale-up' ? settings.cpu.scaleUpFor : settings.cpu.scaleDownFor;
      const guard = await guardrails.reserveAction({ guardKey: guardKey('autoscale', resource), guardrail: { maxActions: 1, windowMs: window, cooldownMs: 0 }, step: step('scale'), dryRun });
      if (!guard.granted) ran.push({ ...entry, taken: false, reason: `${decision.reason}; refused: ${guard.reason}` });
      else {
        if (!dryRun) await kubernetes.scaleWorkload({ ...ref, replicas: decision.to!, expected: decision.from, requestedBy, step: step('scale') });
        ran.push({ ...entry, taken: !dryRun, reason: dryRun ? `${decision.reason}; would scale ${decision.from} -> ${decision.to}` : decision.reason });
      }
    }
  }

  if (settings.memory.query) {
    const window = windowQueries(renderQuery(settings.memory.query, values), settings.memory.over);
    const figures = await prometheus.queryValues({ queries: { slope: window.deriv, samples: window.count } });
    const decision = memoryDecision(label, figures.slope, figures.samples, settings.memory);
    if (decision.action === 'none') ran.push({ ...decision, taken: false });
    else {
      const guard = await guardrails.reserveAction({
        guardKey: guardKey('memory-restart', resource),
        guardrail: { maxActions: settings.memory.maxRestarts, windowMs: settings.memory.windowMs, cooldownMs: settings.memory.over },
        step: step('memory-restart'),
        dryRun,
      });
      if (!guard.granted) {
        ran.push({ ...decision, taken: false, reason: `${decision.reason}; refused: ${guard.reason}` });
        if (guard.exhausted) outOfAttempts.push(`${decision.reason}, and it was restarted ${settings.memory.maxRestarts} times already`);
      } else {
        if (!dryRun) await kubernetes.restartWorkload({ ...ref, at: new Date().toISOString(), requestedBy, step: step('memory-restart') });
        ran.push({ ...decision, taken: !dryRun, reason: dryRun ? `${decision.reason}; would restart it` : decision.reason });
      }
    }
  }
  return { outOfAttempts };
}
