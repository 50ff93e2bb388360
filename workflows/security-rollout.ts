import {
  ApplicationFailure,
  CancellationScope,
  condition,
  patched,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createKubernetesActivities } from '../activities/kubernetes.js';
import type { createAuditActivities } from '../activities/audit.js';
import type { createNotifyActivities } from '../activities/notify.js';
import type { createRolloutSettingsActivities } from '../activities/rollout-settings.js';
import type { createPrometheusActivities } from '../activities/prometheus.js';
import type { createRegistryActivities } from '../activities/registry.js';
import type { createScannerActivities } from '../activities/scanner.js';
import { parseDuration } from '../src/domain/durations.js';
import { ErrorType } from '../src/domain/errors.js';
import { failureMessage } from '../src/domain/failures.js';
import {
  analysisFindings,
  classifyBump,
  newBlockingVulnerabilities,
  pinImage,
  renderQuery,
  rolloutFailedDedupKey,
  type AnalysisFigures,
} from '../src/domain/rollout.js';
import { rolloutWorkflowId } from '../src/domain/workflow-ids.js';
import { approvalRefusal, type ApprovalRoster } from '../src/domain/approval.js';
import { OpsKind, OpsService, OpsStatus } from '../src/domain/search-attributes.js';
import { longJob, notification, quickApiCall } from './activity-profiles.js';
import { ownIncident } from './own-incident.js';
import { reportSecurityFindings } from './security-findings.js';

import {
  approveUpdate,
  abortUpdate,
  rejectUpdate,
  rollbackUpdate,
  rolloutProgressQuery,
  type RolloutPhase,
  type RolloutProgress,
  type SecurityRolloutInput,
} from './security-rollout-contract.js';

export * from './security-rollout-contract.js';

const quick = proxyActivities<
  ReturnType<typeof createRolloutSettingsActivities> &
    ReturnType<typeof createKubernetesActivities> &
    ReturnType<typeof createPrometheusActivities> &
    ReturnType<typeof createRegistryActivities>
>(quickApiCall);
// Scans and rollout waits heartbeat every few seconds: a worker that dies mid-wait is noticed within 10 s.
const long = proxyActivities<ReturnType<typeof createKubernetesActivities> & ReturnType<typeof createScannerActivities>>({ ...longJob, heartbeatTimeout: '10s' });
const slack = proxyActivities<ReturnType<typeof createNotifyActivities>>(notification);
const audit = proxyActivities<ReturnType<typeof createAuditActivities>>(quickApiCall);

/**
 * Patch: approvals follow rollouts.approval.approvers and the four-eyes rule,
 * and Slack carries Approve/Reject buttons. Rollouts recorded before it
 * replay with any approver.
 */
const APPROVERS_PATCH = 'rollout-approvers';
/** Patch: a rollback that fails opens a critical incident with both causes instead of escaping it. */
const ROLLBACK_FAILURE_PATCH = 'rollout-rollback-failure';
/** The workload is patched with the scanned image's digest, not its tag. */
const DIGEST_PATCH = 'rollout-digest';

const TERMINAL: RolloutPhase[] = ['succeeded', 'rolled-back', 'rollback-failed', 'frozen', 'refused'];

/**
 * securityRolloutWorkflow: a patched image onto a Deployment or StatefulSet
 * without a human watching dashboards. Pre-check (healthy before anything
 * changes), scan gate (no new vulnerability at or above the blocking
 * severity), approval for risky bumps, the rollout, a watch window; any
 * failure after the change restores the image recorded before this rollout
 * (never an older revision), waits for that, and opens an incident.
 * One per workload: its ID is `rollout-<namespace>-<workload>`.
 *   temporal workflow start --type securityRolloutWorkflow --task-queue ops \
 *     --workflow-id rollout-shop-api --input '{"namespace":"shop","deployment":"api","image":"registry.example.com/shop/api:1.4.3"}'
 */
export async function securityRolloutWorkflow(input: SecurityRolloutInput): Promise<RolloutProgress> {
  const { namespace, deployment: name } = input;
  const kind = input.kind ?? 'Deployment';
  const { workflowId } = workflowInfo();
  if (workflowId !== rolloutWorkflowId(namespace, name)) {
    throw ApplicationFailure.nonRetryable(
      `start the rollout of ${namespace}/${name} with workflow ID ${rolloutWorkflowId(namespace, name)} (not ${workflowId}), so that two never run at once`,
      ErrorType.InvalidInput,
    );
  }
  const requestedBy = input.requestedBy?.trim() || 'system';
  const progress: RolloutProgress = { workload: `${kind} ${namespace}/${name}`, phase: 'checking', to: input.image ?? '(to be discovered)', steps: [] };
  // Steps also go, in order, to a Slack thread under the rollout's announcement (when Slack is configured).
  const { runId } = workflowInfo();
  let thread: Promise<{ channel: string; ts: string } | undefined> = Promise.resolve(undefined);
  let posting: Promise<unknown> = Promise.resolve();
  let slackOn = false;
  // Runs recorded before steps were audited replay without the audit rows.
  const auditSteps = patched('rollout-step-audit');
  let auditing: Promise<unknown> = Promise.resolve();
  const step = (what: string, detail: string, actor = requestedBy) => {
    const index = progress.steps.push({ at: new Date().toISOString(), step: what, detail });
    if (auditSteps) {
      auditing = auditing.then(() =>
        audit.recordAudit({
          actor,
          action: `rollout.${what}`,
          target: `k8s/${namespace}/${kind.toLowerCase()}/${name}`,
          outcome: what === 'refused' || what === 'failed' ? 'failed' : what === 'approval-refused' ? 'refused' : 'succeeded',
          details: { detail, image: progress.to },
          idempotencyKey: `${workflowId}:${runId}:step-${index}`,
        }),
      );
    }
    if (!slackOn) return;
    posting = posting.then(async () => {
      const ref = await thread;
      if (ref) await slack.postThreadReply({ ref, lines: [`*${what}*: ${detail}`], idempotencyKey: `${workflowId}:${runId}:slack-step-${index}` });
    });
  };
  /** Waits for the audit rows and the thread to catch up; Slack trouble never decides a rollout. */
  const flushSlack = async () => {
    await auditing;
    await posting.catch(() => undefined);
  };
  let stopRequest: { kind: 'abort' | 'rollback'; by: string; reason?: string } | undefined;
  const requireActor = (by: string | undefined) => {
    if (!by?.trim()) throw new Error('an actor ("by") is required');
  };

  // Who may approve, once the rollout waits for it (rollouts.approval.approvers; never the requester).
  let approvalRules = false;
  let roster: ApprovalRoster | undefined;

  setHandler(rolloutProgressQuery, () => progress);
  setHandler(
    approveUpdate,
    ({ by }) => {
      // Decided in the handler, not the validator: a refused approval is recorded in the history, the steps and the audit log.
      const refusal = approvalRules ? approvalRefusal(roster, by.trim(), requestedBy, Date.now()) : undefined;
      if (refusal) {
        step('approval-refused', refusal, by.trim());
        // A refused approval fails the update, not the rollout: it goes on waiting.
        throw ApplicationFailure.nonRetryable(refusal, ErrorType.ApprovalRefused);
      }
      progress.approval = { decision: 'approved', by: by.trim(), at: new Date().toISOString() };
      step('approved', `approved by ${by.trim()}`, by.trim());
      return progress;
    },
    {
      validator: ({ by }) => {
        requireActor(by);
        if (progress.phase !== 'awaiting-approval') throw new Error(`the rollout is ${progress.phase}, not awaiting approval`);
      },
    },
  );
  setHandler(
    rejectUpdate,
    ({ by, reason }) => {
      progress.approval = { decision: 'rejected', by: by.trim(), at: new Date().toISOString(), ...(reason ? { reason } : {}) };
      step('rejected', `rejected by ${by.trim()}${reason ? `: ${reason}` : ''}`, by.trim());
      return progress;
    },
    {
      validator: ({ by }) => {
        requireActor(by);
        if (progress.phase !== 'awaiting-approval') throw new Error(`the rollout is ${progress.phase}, not awaiting approval`);
      },
    },
  );
  setHandler(
    abortUpdate,
    ({ by, reason }) => {
      stopRequest = { kind: 'abort', by: by.trim(), ...(reason ? { reason } : {}) };
      step('abort', `abort requested by ${by.trim()}${reason ? `: ${reason}` : ''}`, by.trim());
      return progress;
    },
    {
      validator: ({ by }) => {
        requireActor(by);
        if (TERMINAL.includes(progress.phase) || progress.phase === 'rolling-back') throw new Error(`the rollout is already ${progress.phase}`);
      },
    },
  );
  setHandler(
    rollbackUpdate,
    ({ by }) => {
      stopRequest = { kind: 'rollback', by: by.trim() };
      step('rollback', `rollback requested by ${by.trim()}`, by.trim());
      return progress;
    },
    {
      validator: ({ by }) => {
        requireActor(by);
        if (progress.phase !== 'rolling-out' && progress.phase !== 'watching') throw new Error(`the rollout is ${progress.phase}; rollback applies while rolling out or watching`);
      },
    },
  );

  upsertSearchAttributes([
    { key: OpsKind, value: 'rollout' },
    { key: OpsService, value: name },
    { key: OpsStatus, value: 'checking' },
  ]);
  upsertMemo({ summary: `Rollout of ${input.image ?? 'the newest tag'} to ${kind} ${namespace}/${name}` });
  const setPhase = (phase: RolloutPhase) => {
    progress.phase = phase;
    upsertSearchAttributes([{ key: OpsStatus, value: phase }]);
  };
  /** Ends the run without changing anything: refused, with the reason as the failure. */
  const refuse = (message: string, type: string): never => {
    setPhase('refused');
    progress.error = message;
    step('refused', message);
    throw ApplicationFailure.nonRetryable(message, type);
  };
  try {
    return await rollOut();
  } finally {
    await flushSlack();
  }

  async function rollOut(): Promise<RolloutProgress> {

    const settings = await quick.rolloutSettings();
    if (settings.slack) {
      slackOn = true;
      thread = slack
        .postOpsMessage({
          text: `:rocket: Rollout of ${input.image ?? 'the newest tag'} to ${progress.workload}, requested by ${requestedBy} (${workflowId})`,
          idempotencyKey: `${workflowId}:${runId}:slack-announce`,
        })
        .catch(() => undefined);
    }
    const ref = { namespace, name, kind, ...(input.container ? { container: input.container } : {}) };
    const before = await quick.readWorkload(ref);
    progress.from = before.image;
    const container = before.container;
    if (before.failed || !before.rolledOut) {
      refuse(`${progress.workload} is not healthy before the change (${before.failed ?? `waiting for ${before.waitingFor}`}); nothing was changed`, ErrorType.Conflict);
    }
    if (!input.image && !input.discover) refuse('give the image to roll out, or "discover": true to take the newest tag', ErrorType.InvalidInput);
    let image = input.image ?? '';
    if (!input.image) {
      const discovered = await quick.discoverLatestImage({ image: before.image });
      image = discovered.image;
      progress.to = image;
      upsertMemo({ summary: `Rollout of ${image} to ${kind} ${namespace}/${name}` });
      step('discovered', `${image} is the highest of ${discovered.tags} tags`);
    }
    progress.bump = classifyBump(before.image, image);
    step('checked', `${before.availableReplicas}/${before.replicas} available on ${before.image}; ${progress.bump} bump`);
    if (progress.bump === 'same') {
      setPhase('succeeded');
      step('done', `already running ${image}`);
      return progress;
    }

    setPhase('scanning');
    const [current, candidate] = await Promise.all([long.scanImage({ image: before.image }), long.scanImage({ image: image })]);
    const blocking = newBlockingVulnerabilities(current, candidate, settings.blockingSeverity);
    if (blocking.length > 0) {
      refuse(
        `${image} is blocked by the scan: ${blocking.map((vulnerability) => `${vulnerability.id} (${vulnerability.severity} in ${vulnerability.package})`).join(', ')} not in ${before.image}`,
        ErrorType.Conflict,
      );
    }
    // What runs must be what was scanned: the digest the scanner read, else the one the tag points to now.
    let target = image;
    if (patched(DIGEST_PATCH)) {
      try {
        target = candidate.digest ? pinImage(image, candidate.digest) : (await quick.resolveImageDigest({ image })).image;
      } catch (error) {
        refuse(`could not pin ${image} to a digest: ${failureMessage(error)}; nothing was changed`, ErrorType.Conflict);
      }
      progress.pinned = target;
    }
    step('scanned', `${candidate.vulnerabilities.length} vulnerabilities in ${target}, none new at ${settings.blockingSeverity} or above`);

    if (input.requireApproval || settings.approvalRequiredFor.includes(progress.bump as never)) {
      if (patched(APPROVERS_PATCH)) {
        // Read before the phase opens for approvals, so no approval is judged without it.
        roster = await quick.approvalRoster();
        approvalRules = true;
        if (slackOn) {
          const who = [...roster.people, ...roster.schedules.map((schedule) => `whoever is on call for ${schedule.name}`)];
          const text = `*Approval needed*: ${progress.bump} bump of ${progress.workload} to ${image}, requested by ${requestedBy}.${who.length > 0 ? ` Approvers: ${who.join(', ')}.` : ''}`;
          posting = posting.then(async () => {
            const ref = await thread;
            if (ref) await slack.postApprovalRequest({ ref, text, workflowId, idempotencyKey: `${workflowId}:${runId}:slack-approval` });
          });
        }
      }
      setPhase('awaiting-approval');
      const timeoutMs = input.approvalTimeout ? parseDuration(input.approvalTimeout) ?? settings.approvalTimeoutMs : settings.approvalTimeoutMs;
      step('awaiting-approval', `${progress.bump} bump: waiting up to ${Math.round(timeoutMs / 1000)}s for approve or reject`);
      const decided = await condition(() => progress.approval !== undefined || stopRequest !== undefined, timeoutMs);
      if (stopRequest) refuse(`aborted by ${stopRequest.by} before any change${stopRequest.reason ? `: ${stopRequest.reason}` : ''}`, ErrorType.Aborted);
      if (!decided) refuse(`no approval within ${Math.round(timeoutMs / 1000)}s; nothing was changed`, ErrorType.ApprovalTimedOut);
      if (progress.approval?.decision === 'rejected') {
        refuse(`rejected by ${progress.approval.by}${progress.approval.reason ? `: ${progress.approval.reason}` : ''}; nothing was changed`, ErrorType.Rejected);
      }
    }

    if ((settings.windows ?? 0) > 0 && !input.ignoreWindows) {
      const window = await quick.rolloutWindow({ at: new Date().toISOString() });
      if (!window.open) {
        if (!window.opensAt) refuse(`no rollout window (${window.windows.join(', ')}) opens within 14 days; nothing was changed`, ErrorType.Conflict);
        setPhase('waiting-for-window');
        step('waiting-for-window', `no rollout window is open (${window.windows.join(', ')}); waiting until ${window.opensAt}`);
        await condition(() => stopRequest !== undefined, Math.max(Date.parse(window.opensAt!) - Date.now(), 1000));
        if (stopRequest) refuse(`aborted by ${stopRequest.by} before any change${stopRequest.reason ? `: ${stopRequest.reason}` : ''}`, ErrorType.Aborted);
        step('window-open', `a rollout window opened at ${window.opensAt}`);
      }
    }

    // The baseline the change is judged against, read just before it.
    // A run that read its settings before analysis existed has none: it is judged by readiness alone.
    const analysis = settings.analysis ?? { maxErrorRatioIncrease: 0.05, maxLatencyIncrease: 0.2 };
    const readFigures = async (workload = name): Promise<AnalysisFigures> => {
      const values = { namespace, workload };
      const [errorRatio, latencyP95] = await Promise.all([
        analysis.errorRatioQuery ? quick.queryValue({ query: renderQuery(analysis.errorRatioQuery, values) }) : undefined,
        analysis.latencyP95Query ? quick.queryValue({ query: renderQuery(analysis.latencyP95Query, values) }) : undefined,
      ]);
      return { ...(errorRatio !== undefined ? { errorRatio } : {}), ...(latencyP95 !== undefined ? { latencyP95 } : {}) };
    };
    if (analysis.errorRatioQuery || analysis.latencyP95Query) {
      const baseline = await readFigures();
      const missing = [analysis.errorRatioQuery && baseline.errorRatio === undefined ? 'error ratio' : '', analysis.latencyP95Query && baseline.latencyP95 === undefined ? 'p95 latency' : ''].filter(Boolean);
      if (missing.length > 0) refuse(`no baseline for ${missing.join(' and ')}: Prometheus has no data for ${namespace}/${name}; nothing was changed`, ErrorType.Conflict);
      progress.analysis = { baseline };
      step('baseline', JSON.stringify(baseline));
    }

    // From here the workload changes: every failure unwinds this stack, newest first.
    const compensations: { step: string; run: () => Promise<string> }[] = [];
    const strategy = input.strategy ?? 'rolling';
    if (strategy === 'canary' && kind !== 'Deployment') refuse(`the canary strategy needs a Deployment, not a ${kind}`, ErrorType.InvalidInput);
    const watchMs = input.watchWindow ? parseDuration(input.watchWindow) ?? settings.watchWindowMs : settings.watchWindowMs;
    let mainChanged = false;
    try {
      setPhase('rolling-out');
      if (strategy === 'canary') {
        const { name: canary, replaced } = await quick.createCanary({ namespace, name, container, image: target, replicas: input.canaryReplicas ?? 1, requestedBy, step: 'create-canary' });
        if (replaced) step('canary-replaced', `a leftover ${canary} (${replaced}) was replaced`);
        const removeCanary = {
          step: 'remove-canary',
          run: async () => {
            await quick.deleteCanary({ namespace, name, requestedBy, step: 'remove-canary' });
            return `${canary} deleted`;
          },
        };
        compensations.push(removeCanary);
        step('canary-created', `${canary} runs ${target}; ${name} untouched`);
        await untilStopped(() => long.waitForRollout({ namespace, name: canary, kind: 'Deployment', container, timeoutMs: settings.rolloutTimeoutMs }));
        step('canary-ready', `${canary} is ready`);
        setPhase('watching');
        await condition(() => stopRequest !== undefined, watchMs);
        if (stopRequest) throw stopFailure(stopRequest);
        if (progress.analysis) {
          const figures = await readFigures(canary);
          const findings = analysisFindings(progress.analysis.baseline, figures, analysis);
          if (findings.length > 0) throw ApplicationFailure.nonRetryable(`canary analysis failed: ${findings.join('; ')}`, ErrorType.RolloutFailed);
          step('canary-analysed', JSON.stringify(figures));
        }
        setPhase('rolling-out');
      }
      compensations.push({
        step: 'restore-image',
        // Registered before the patch, so a patch that landed but whose activity failed is undone too.
        // The image this rollout replaced, not "the previous revision": a failed retry never walks further back.
        run: async () => {
          await quick.setImage({ ...ref, container, image: before.image, changeCause: `ops-automation ${workflowId}: rollback to ${before.image}`, requestedBy, step: 'restore-image' });
          const restored = await long.waitForRollout({ ...ref, container, timeoutMs: settings.rolloutTimeoutMs });
          return `back on ${restored.image}: ${restored.availableReplicas}/${restored.replicas} available`;
        },
      });
      mainChanged = true;
      // The change-cause keeps the tag a person asked for; the image field carries the digest.
      await quick.setImage({ ...ref, container, image: target, changeCause: `ops-automation ${workflowId}: ${before.image} -> ${image} (by ${requestedBy})`, requestedBy, step: 'set-image' });
      step(strategy === 'canary' ? 'promoted' : 'image-set', `${container}: ${before.image} -> ${target}`);
      await untilStopped(() => long.waitForRollout({ ...ref, container, timeoutMs: settings.rolloutTimeoutMs }));
      step('rolled-out', `every replica runs ${target}`);
      if (strategy === 'canary') {
        await quick.deleteCanary({ namespace, name, requestedBy, step: 'remove-canary' });
        compensations.splice(0, 1);
        step('canary-removed', `${name}-canary deleted after promotion`);
      }

      setPhase('watching');
      await condition(() => stopRequest !== undefined, watchMs);
      if (stopRequest) throw stopFailure(stopRequest);
      const after = await quick.readWorkload(ref);
      if (after.failed || !after.rolledOut || after.image !== target) {
        throw ApplicationFailure.nonRetryable(`${progress.workload} is unhealthy after the rollout: ${after.failed ?? after.waitingFor ?? `runs ${after.image}`}`, ErrorType.RolloutFailed);
      }
      if (progress.analysis) {
        progress.analysis.after = await readFigures();
        const findings = analysisFindings(progress.analysis.baseline, progress.analysis.after, analysis);
        if (findings.length > 0) throw ApplicationFailure.nonRetryable(`analysis failed: ${findings.join('; ')}`, ErrorType.RolloutFailed);
        step('analysed', JSON.stringify(progress.analysis.after));
      }
      setPhase('succeeded');
      step('done', `${image} healthy for ${Math.round(watchMs / 1000)}s`);
      if (patched('rollout-resolves-findings')) {
        // The image that runs now decides the workload's security findings; recording them never undoes a healthy rollout.
        try {
          const { said } = await reportSecurityFindings({ namespace, name, kind, report: { ...candidate, image: target }, by: requestedBy });
          if (said) step('findings', said);
        } catch (error) {
          step('findings', `security findings not recorded: ${failureMessage(error)}`);
        }
      }
      return progress;
    } catch (error) {
      const cause = failureMessage(error);
      progress.error = cause;
      step('failed', cause);
      if (input.onFailure === 'freeze') {
        setPhase('frozen');
        step('frozen', `kept ${image} (onFailure: freeze); paging instead of rolling back`);
      } else {
        setPhase('rolling-back');
        if (patched(ROLLBACK_FAILURE_PATCH)) {
          // A compensation that fails does not stop the others, nor the incident: both causes go to a person.
          const failures: string[] = [];
          for (const compensation of compensations.reverse()) {
            try {
              step(compensation.step, await compensation.run());
            } catch (rollbackError) {
              failures.push(`${compensation.step}: ${failureMessage(rollbackError)}`);
              step('rollback-failed', `${compensation.step} failed: ${failureMessage(rollbackError)}`);
            }
          }
          if (failures.length > 0) {
            setPhase('rollback-failed');
            await ownIncident({
              dedupKey: rolloutFailedDedupKey(namespace, name),
              labels: { alertname: 'RolloutRollbackFailed', service: name, namespace, severity: 'critical' },
            }).raise({
              summary: `Rollout of ${image} to ${namespace}/${name} failed, and so did its rollback: the workload needs a person`,
              description: `rollout: ${cause}; rollback: ${failures.join('; ')}`,
              workflow: workflowId,
            });
            throw ApplicationFailure.nonRetryable(`rollout of ${image} to ${progress.workload} failed (${cause}) and its rollback failed too (${failures.join('; ')})`, ErrorType.RollbackFailed);
          }
        } else {
          for (const compensation of compensations.reverse()) step(compensation.step, await compensation.run());
        }
        setPhase('rolled-back');
      }
      await ownIncident({
        dedupKey: rolloutFailedDedupKey(namespace, name),
        labels: { alertname: progress.phase === 'frozen' ? 'RolloutFrozen' : 'RolloutRolledBack', service: name, namespace, severity: 'high' },
      }).raise({
        summary: `Rollout of ${image} to ${namespace}/${name} ${progress.phase === 'frozen' ? 'failed and is frozen' : 'was rolled back'}`,
        description: cause,
        workflow: workflowId,
      });
      const outcome =
        progress.phase === 'frozen' ? 'failed, frozen on the new image' : mainChanged ? `rolled back to ${before.image}` : `stopped at the canary, which was removed; ${name} still runs ${before.image}`;
      throw ApplicationFailure.create({
        message: `rollout of ${image} to ${progress.workload} ${outcome}: ${cause}`,
        type: progress.phase === 'frozen' ? ErrorType.RolloutFrozen : ErrorType.RolledBack,
        nonRetryable: true,
      });
    }

  }

  /** Runs an activity until it ends or an operator asks to stop, which cancels it. */
  async function untilStopped<T>(run: () => Promise<T>): Promise<T> {
    const scope = new CancellationScope();
    const work = scope.run(run);
    await Promise.race([work.catch(() => undefined), condition(() => stopRequest !== undefined)]);
    if (stopRequest) {
      scope.cancel();
      await work.catch((error: unknown) => {
        if (!isCancellation(error)) throw error;
      });
      throw stopFailure(stopRequest);
    }
    return work;
  }
}

function stopFailure(request: { kind: 'abort' | 'rollback'; by: string; reason?: string }): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${request.kind === 'abort' ? 'aborted' : 'rolled back'} by ${request.by}${request.reason ? `: ${request.reason}` : ''}`, ErrorType.Stopped);
}
