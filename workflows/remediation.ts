import { ActivityFailure, ChildWorkflowFailure, executeChild, getExternalWorkflowHandle, proxyActivities, setHandler, sleep, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { createAuditActivities } from '../activities/audit.js';
import type { createGuardrailActivities } from '../activities/guardrails.js';
import type { createHttpCheckActivities } from '../activities/http-check.js';
import type { createIncidentStatusActivities } from '../activities/incident-status.js';
import type { createKubernetesActivities } from '../activities/kubernetes.js';
import type { createNotifyActivities } from '../activities/notify.js';
import type { createPostgresActivities } from '../activities/postgres.js';
import type { createRemediationSettingsActivities } from '../activities/remediation-settings.js';
import { failureMessage } from '../src/domain/failures.js';
import type { Labels } from '../src/domain/matchers.js';
import {
  describeStep,
  type Guardrail,
  guardKey,
  remediationFailedDedupKey,
  scaleTarget,
  stepTarget,
  type RemediationOutcome,
  type RemediationProgress,
  type Runbook,
  type RunbookStep,
  type StepResult,
} from '../src/domain/remediation.js';
import { OpsKind, OpsService, OpsStatus } from '../src/domain/search-attributes.js';
import { runbookMaintenanceWorkflowId } from '../src/domain/workflow-ids.js';
import { longJob, notification, quickApiCall } from './activity-profiles.js';
import { ownIncident } from './own-incident.js';
import { databaseMaintenanceWorkflow } from './database-maintenance.js';
import { remediationProgressSignal, remediationStatusQuery, type RemediationStatus } from './remediation-signals.js';

/**
 * remediationWorkflow: runs one runbook from the policy, step by step, each
 * action within its guardrail (refused = a timeline event, not an error),
 * then verifies: the incident's alerts resolved and the runbook's check
 * passes. Started by an incident whose alert the runbook matches (the
 * incident holds its escalation meanwhile), or by hand:
 *   temporal workflow start --type remediationWorkflow --task-queue ops \
 *     --workflow-id remediation-restart-api --input '{"runbook": "restart-api", "dryRun": true}'
 * When it did not help, the incident escalates at once; run by hand, it
 * opens the incident `remediation-failed-<runbook>`.
 */
export interface RemediationInput {
  runbook: string;
  /** The alert's labels, filling `{{ $labels.x }}` in the runbook's steps. */
  labels?: Labels;
  /** The incident it answers; it gets every step in its timeline. */
  incidentWorkflowId?: string;
  /** Report what every step would do, and do nothing. */
  dryRun?: boolean;
  requestedBy?: string;
}

export interface RemediationResult {
  runbook: string;
  outcome: RemediationOutcome;
  steps: StepResult[];
  verification: { passed: boolean; detail: string; attempts: number };
  /** The incident opened because a hand-started remediation did not help. */
  incident?: string;
}

const settings = proxyActivities<ReturnType<typeof createRemediationSettingsActivities>>(quickApiCall);
const guardrails = proxyActivities<ReturnType<typeof createGuardrailActivities>>(quickApiCall);
const kubernetes = proxyActivities<ReturnType<typeof createKubernetesActivities>>(quickApiCall);
const rollouts = proxyActivities<ReturnType<typeof createKubernetesActivities>>(longJob);
const postgres = proxyActivities<ReturnType<typeof createPostgresActivities>>(quickApiCall);
const checks = proxyActivities<ReturnType<typeof createHttpCheckActivities>>({ ...quickApiCall, startToCloseTimeout: '2m', retry: { ...quickApiCall.retry, maximumAttempts: 3 } });
const slack = proxyActivities<ReturnType<typeof createNotifyActivities>>(notification);
const audit = proxyActivities<ReturnType<typeof createAuditActivities>>(quickApiCall);
const incidentStatus = proxyActivities<ReturnType<typeof createIncidentStatusActivities>>(quickApiCall);

const now = () => new Date().toISOString();

type Outcome = Pick<StepResult, 'outcome' | 'detail'>;
type GuardedStep = Extract<RunbookStep, { guardrail: Guardrail }>;

export async function remediationWorkflow(input: RemediationInput): Promise<RemediationResult> {
  const info = workflowInfo();
  const requestedBy = input.requestedBy?.trim() || 'system';
  const status: RemediationStatus = { runbook: input.runbook, phase: 'starting', steps: [] };
  setHandler(remediationStatusQuery, () => status);
  upsertSearchAttributes([
    { key: OpsKind, value: 'remediation' },
    { key: OpsStatus, value: 'running' },
    ...(input.labels?.service ? [{ key: OpsService, value: input.labels.service }] : []),
  ]);
  upsertMemo({ summary: `Runbook ${input.runbook}${input.dryRun ? ' (dry run)' : ''}${input.incidentWorkflowId ? ` for ${input.incidentWorkflowId}` : ''}` });

  const tell = async (progress: RemediationProgress) => {
    if (!input.incidentWorkflowId) return;
    try {
      await getExternalWorkflowHandle(input.incidentWorkflowId).signal(remediationProgressSignal, progress);
    } catch {
      // The incident has closed: nothing is left to tell.
    }
  };

  const runbook = await settings.loadRunbook({ name: input.runbook, labels: input.labels ?? {} });
  const dryRun = input.dryRun === true || runbook.dryRun;
  status.phase = 'running';

  for (const step of runbook.steps) {
    const stepDry = dryRun || step.dryRun;
    let outcome: Outcome;
    try {
      outcome = await runStep(step, stepDry, requestedBy);
    } catch (error) {
      if (!(error instanceof ActivityFailure || error instanceof ChildWorkflowFailure)) throw error;
      outcome = { outcome: 'failed', detail: failureMessage(error) };
    }
    const result: StepResult = { step: step.name, action: step.action, target: stepTarget(step), ...outcome, at: now() };
    status.steps.push(result);
    await audit.recordAudit({
      actor: requestedBy,
      action: `remediation.${step.action}`,
      target: result.target,
      outcome: result.outcome === 'done' ? 'succeeded' : result.outcome,
      details: { runbook: runbook.name, step: step.name, detail: result.detail, ...(input.incidentWorkflowId ? { incident: input.incidentWorkflowId } : {}) },
      idempotencyKey: `${info.workflowId}:${info.runId}:remediation:${step.name}`,
    });
    await tell({ kind: 'step', workflowId: info.workflowId, runbook: runbook.name, result });
  }

  let outcome: RemediationOutcome;
  let verification: RemediationResult['verification'];
  if (dryRun) {
    outcome = 'dry-run';
    verification = { passed: false, detail: 'dry run: nothing to verify', attempts: 0 };
  } else {
    status.phase = 'verifying';
    verification = await verify(runbook, input.incidentWorkflowId, status.steps);
    outcome = verification.passed ? 'resolved' : 'not-helped';
  }
  status.phase = outcome;

  let incident: string | undefined;
  const detail = outcome === 'not-helped' ? `did not help: ${verification.detail}` : verification.detail;
  await tell({ kind: 'finished', workflowId: info.workflowId, runbook: runbook.name, outcome, escalate: outcome === 'not-helped', detail });
  if (outcome === 'not-helped' && !input.incidentWorkflowId) {
    incident = await ownIncident({
      dedupKey: remediationFailedDedupKey(runbook.name),
      labels: { alertname: 'RemediationDidNotHelp', runbook: runbook.name, severity: 'high', ...(input.labels?.service ? { service: input.labels.service } : {}) },
    }).raise({ summary: `Runbook ${runbook.name} did not help`, description: verification.detail });
  }
  upsertSearchAttributes([{ key: OpsStatus, value: outcome }]);
  upsertMemo({ summary: `Runbook ${runbook.name}: ${outcome} (${status.steps.map((step) => `${step.step} ${step.outcome}`).join(', ')})` });
  return { runbook: runbook.name, outcome, steps: status.steps, verification, ...(incident ? { incident } : {}) };
}

/** Takes one guarded action slot, or says why not; a dry run only asks. */
async function reserve(step: GuardedStep, dryRun: boolean, suffix = '') {
  return guardrails.reserveAction({
    guardKey: guardKey(step.action, stepTarget(step)),
    guardrail: step.guardrail,
    step: `${step.name}${suffix}`,
    dryRun,
  });
}

async function runStep(step: RunbookStep, dryRun: boolean, requestedBy: string): Promise<Outcome> {
  const would = (extra = '') => ({ outcome: 'dry-run' as const, detail: `would ${describeStep(step)}${extra}` });
  const refusedNow = (decision: { granted: boolean; reason?: string }) => (decision.granted ? '' : ` (refused now: ${decision.reason})`);
  switch (step.action) {
    case 'restart-pods': {
      const pods = await kubernetes.listPods({ namespace: step.namespace, labelSelector: step.selector });
      const chosen = step.onlyUnready ? pods.filter((pod) => !(pod.ready && pod.phase === 'Running')) : pods;
      if (chosen.length === 0) return { outcome: 'done', detail: `no ${step.onlyUnready ? 'unready ' : ''}pod matches ${step.selector} in ${step.namespace}` };
      if (dryRun) return would(`: ${chosen.map((pod) => pod.name).join(', ')}${refusedNow(await reserve(step, true))}`);
      const deleted: string[] = [];
      let refusal: string | undefined;
      for (const pod of chosen) {
        const decision = await reserve(step, false, `:${pod.name}`);
        if (!decision.granted) {
          refusal = decision.reason;
          break;
        }
        await kubernetes.deletePod({ namespace: step.namespace, name: pod.name, reason: `runbook step ${step.name}`, requestedBy, step: `${step.name}:${pod.name}` });
        deleted.push(pod.name);
      }
      if (deleted.length === 0) return { outcome: 'refused', detail: refusal! };
      return { outcome: 'done', detail: `deleted ${deleted.join(', ')}${refusal ? `; ${chosen.length - deleted.length} left: ${refusal}` : ''}` };
    }
    case 'rolling-restart': {
      const decision = await reserve(step, dryRun);
      if (dryRun) return would(refusedNow(decision));
      if (!decision.granted) return { outcome: 'refused', detail: decision.reason };
      const ref = { namespace: step.namespace, name: step.deployment, kind: step.kind };
      const restarted = await kubernetes.restartWorkload({ ...ref, at: now(), requestedBy, step: step.name });
      const state = await rollouts.waitForRollout({ ...ref, container: restarted.container, timeoutMs: step.timeoutMs });
      return { outcome: 'done', detail: `restarted ${step.kind} ${step.namespace}/${step.deployment}: ${state.availableReplicas} of ${state.replicas} replicas available` };
    }
    case 'scale': {
      const current = await kubernetes.readWorkload({ namespace: step.namespace, name: step.deployment, kind: step.kind, withAutoscaler: true });
      if (current.autoscaler) {
        const owner = `HorizontalPodAutoscaler ${current.autoscaler.name} owns the replica count of ${step.kind} ${step.namespace}/${step.deployment} (${current.autoscaler.minReplicas}-${current.autoscaler.maxReplicas}): not scaled`;
        return { outcome: dryRun ? 'dry-run' : 'refused', detail: owner };
      }
      const aim = scaleTarget(current.replicas, step);
      if ('refused' in aim) return { outcome: dryRun ? 'dry-run' : 'refused', detail: aim.refused };
      const decision = await reserve(step, dryRun);
      if (dryRun) return would(`: ${current.replicas} -> ${aim.to}${refusedNow(decision)}`);
      if (!decision.granted) return { outcome: 'refused', detail: decision.reason };
      const scaled = await kubernetes.scaleWorkload({ namespace: step.namespace, name: step.deployment, kind: step.kind, replicas: aim.to, expected: current.replicas, requestedBy, step: step.name });
      return { outcome: 'done', detail: `scaled ${step.kind} ${step.namespace}/${step.deployment} from ${scaled.from} to ${scaled.to} replicas` };
    }
    case 'terminate-idle-connections': {
      const decision = await reserve(step, dryRun);
      if (dryRun) return would(refusedNow(decision));
      if (!decision.granted) return { outcome: 'refused', detail: decision.reason };
      const action = await postgres.terminateIdleConnections({ database: step.database, idleConnectionTimeoutMs: step.idleForMs, requestedBy });
      return { outcome: 'done', detail: `terminated ${action.rows ?? 0} idle connections to ${step.database}` };
    }
    case 'database-maintenance': {
      const decision = await reserve(step, dryRun);
      if (!dryRun && !decision.granted) return { outcome: 'refused', detail: decision.reason };
      const result = await executeChild(databaseMaintenanceWorkflow, {
        workflowId: runbookMaintenanceWorkflowId(workflowInfo().workflowId, step.database),
        args: [{ database: step.database, dryRun, requestedBy }],
      });
      const deleted = result.actions.filter((action) => action.action === 'delete-expired').reduce((sum, action) => sum + (action.rows ?? 0), 0);
      const summary = `${deleted} expired rows, ${result.plan.vacuum.length} tables vacuumed, ${result.health.breaches.length} health breaches`;
      return dryRun ? would(`: ${summary}${refusedNow(decision)}`) : { outcome: 'done', detail: `maintenance of ${step.database}: ${summary}` };
    }
    case 'http-check': {
      const result = await checks.httpCheck(step);
      return { outcome: result.ok ? 'done' : 'failed', detail: result.detail };
    }
    case 'notify': {
      if (dryRun) return would();
      await slack.postOpsMessage({ text: step.text, idempotencyKey: `${workflowInfo().workflowId}:${workflowInfo().runId}:${step.name}` });
      return { outcome: 'done', detail: `posted: ${step.text}` };
    }
  }
}

/**
 * Polls until everything the runbook can verify holds, or its time is up:
 * the incident's alerts resolved (when run for one) and the check passes.
 * With nothing to verify, the steps' own results decide.
 */
async function verify(runbook: Runbook, incidentWorkflowId: string | undefined, steps: StepResult[]): Promise<RemediationResult['verification']> {
  const watchAlerts = runbook.verify.alertResolved && incidentWorkflowId !== undefined;
  const check = runbook.verify.httpCheck;
  if (!watchAlerts && !check) {
    const bad = steps.filter((step) => step.outcome !== 'done');
    return bad.length === 0
      ? { passed: true, detail: 'nothing to verify; every step done', attempts: 0 }
      : { passed: false, detail: `nothing to verify; ${bad.map((step) => `${step.step} ${step.outcome}`).join(', ')}`, attempts: 0 };
  }
  const deadline = Date.now() + runbook.verify.withinMs;
  const seconds = Math.round(runbook.verify.withinMs / 1000);
  let attempts = 0;
  for (;;) {
    attempts += 1;
    const problems: string[] = [];
    if (watchAlerts) {
      const alerts = await incidentStatus.incidentAlertsResolved({ workflowId: incidentWorkflowId! });
      if (!alerts.resolved) problems.push(`still firing: ${alerts.firing.join(', ')}`);
    }
    if (check) {
      const result = await checks.httpCheck(check);
      if (!result.ok) problems.push(result.detail);
    }
    if (problems.length === 0) return { passed: true, detail: `verified: ${[watchAlerts ? 'alerts resolved' : '', check ? `${check.url} healthy` : ''].filter(Boolean).join(', ')}`, attempts };
    if (Date.now() + runbook.verify.intervalMs > deadline) return { passed: false, detail: `after ${seconds}s ${problems.join('; ')}`, attempts };
    await sleep(runbook.verify.intervalMs);
  }
}
