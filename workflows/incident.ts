import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createIncidentActivities, IncidentRulesSnapshot } from '../activities/incidents.js';
import type { createNotifyActivities } from '../activities/notify.js';
import type { createPostmortemActivities } from '../activities/postmortem.js';
import type { createRemediationSettingsActivities } from '../activities/remediation-settings.js';
import type { AlertBatch } from '../src/domain/alerts.js';
import {
  acknowledge,
  addNote,
  allAlertsResolved,
  applyAlerts,
  applyEscalationProgress,
  applyRemediationProgress,
  carryOver,
  changedAlerts,
  firingAlerts,
  incidentMessage,
  incidentRow,
  incidentStatus,
  incidentSummary,
  isMuted,
  record,
  remute,
  resolve,
  resolvedByGroup,
  startIncidentRun,
  validateAcknowledge,
  validateEscalate,
  validateNote,
  validateResolve,
  type IncidentEvent,
} from '../src/domain/incident.js';
import { ErrorType } from '../src/domain/errors.js';
import { failureMessage } from '../src/domain/failures.js';
import { OpsKind, OpsService, OpsSeverity, OpsStatus } from '../src/domain/search-attributes.js';
import { incidentChildWorkflowId } from '../src/domain/workflow-ids.js';
import { notification, ownStoreLocal, quickApiCall, quickLocal } from './activity-profiles.js';
import { escalationWorkflow } from './escalation.js';
import { remediationWorkflow } from './remediation.js';
import { remediationProgressSignal } from './remediation-signals.js';
import { escalationProgressSignal, skipLevelSignal, stopEscalationSignal } from './escalation-signals.js';
import {
  acknowledgeUpdate,
  addNoteUpdate,
  alertsSignal,
  escalateUpdate,
  recheckMutesSignal,
  resolveUpdate,
  statusQuery,
  type IncidentInput,
  type IncidentStatus,
} from './incident-contract.js';

export * from './incident-contract.js';

/**
 * incidentWorkflow: one incident, ID `incident-<dedupKey>`. Alerts arrive by
 * the `alerts` signal (signalWithStart from the intake); people act through the
 * `acknowledge`, `resolve` and `addNote` updates; `status` shows all of it.
 * It resolves by itself once every alert has stayed resolved for the quiet
 * period, reopens when one fires again within the reopen window, and
 * continues-as-new to keep its history bounded.
 */

const remoteStore = proxyActivities<ReturnType<typeof createIncidentActivities>>(quickApiCall);
const localStore = proxyLocalActivities<ReturnType<typeof createIncidentActivities>>(ownStoreLocal);

/**
 * Patch: the incident's calls to its own PostgreSQL store run as local
 * activities, and search attributes and memo are written only when they
 * change. Both cut the server round trips per alert; histories recorded
 * before the patch replay with remote activities and every upsert.
 */
const LEAN_STORE_PATCH = 'incident-lean-store';
const slack = proxyActivities<ReturnType<typeof createNotifyActivities>>(notification);
const runbooks = proxyLocalActivities<ReturnType<typeof createRemediationSettingsActivities>>(quickLocal);

/**
 * Patch: an incident whose alert a runbook matches starts remediationWorkflow
 * as a child and holds its ladder while the runbook works. Histories recorded
 * before runbooks existed replay without it.
 */
const REMEDIATION_PATCH = 'incident-remediation';

/**
 * Patch: an Alertmanager group's own status decides (a resolved group
 * resolves alerts max_alerts left out), and the timeline says how many were
 * left out. Histories recorded before it replay without.
 */
const GROUP_STATUS_PATCH = 'incident-group-status';

/**
 * Patch: mutes are looked at again when they may end (a window's end, every
 * 15 s while inhibited, on the recheckMutes signal), and an alert whose mute
 * is over pages. Histories recorded before it replay with mutes kept.
 */
const MUTE_RECHECK_PATCH = 'incident-mute-recheck';

/**
 * Patch: a resolved incident writes its post-mortem draft to the bucket (in
 * the background: the incident keeps answering alerts meanwhile) and links it
 * in its timeline and Slack thread. Histories recorded before it replay without.
 */
const POSTMORTEM_PATCH = 'incident-postmortem-draft';
const postmortems = proxyActivities<ReturnType<typeof createPostmortemActivities>>(quickApiCall);

/** History length at which a run hands over to a fresh one even if the server has not suggested it. */
const DEFAULT_HISTORY_LIMIT = 5000;

const now = () => new Date().toISOString();

export async function incidentWorkflow(input: IncidentInput): Promise<IncidentStatus> {
  const info = workflowInfo();
  const incidentId = `${info.workflowId}/${info.firstExecutionRunId}`;
  const run = startIncidentRun(input, now());
  const { state, pendingBatches, notifications, children, remediations, unpersisted, unannounced } = run;
  /** Events of this run not yet written to PostgreSQL and Slack. */
  const outbox: IncidentEvent[] = [];
  // What this run alone needs to know: what it last asked of routing and runbooks, and when to retry what.
  let remediationAskedFor: string | undefined;
  let escalationChanged = false;
  let unroutable: string | undefined;
  const store = { failures: 0, retryAt: 0 };
  const slackOut = { failures: 0, retryAt: 0 };
  let planRetryAt = 0;
  /** The last count of alerts Alertmanager's max_alerts left out, said once per change. */
  let lastTruncated = 0;
  /** When the mutes are to be looked at again; undefined while nothing is muted. */
  let muteRecheckAt: number | undefined;
  let muteRecheckAsked = false;
  /** A post-mortem draft is being written. */
  let drafting = false;

  const status = (): IncidentStatus => incidentStatus(run, { incidentId, workflowId: info.workflowId });

  const rejectIf = (problem: string | undefined) => {
    if (problem) throw new Error(problem);
  };

  // Handlers first, before any await, so nothing delivered with the start is missed.
  setHandler(alertsSignal, (batch) => {
    pendingBatches.push(batch);
  });
  setHandler(statusQuery, status);
  setHandler(recheckMutesSignal, () => {
    muteRecheckAsked = true;
  });
  setHandler(
    acknowledgeUpdate,
    ({ by }) => {
      outbox.push(...acknowledge(state, by.trim(), now()));
      return status();
    },
    { validator: (request) => rejectIf(validateAcknowledge(state, request?.by)) },
  );
  setHandler(
    resolveUpdate,
    ({ by, note }) => {
      outbox.push(...resolve(state, by.trim(), now(), note));
      return status();
    },
    { validator: (request) => rejectIf(validateResolve(state, request?.by)) },
  );
  setHandler(
    addNoteUpdate,
    ({ by, text }) => {
      outbox.push(...addNote(state, by.trim(), text, now()));
      return status();
    },
    { validator: (request) => rejectIf(validateNote(request?.by, request?.text)) },
  );

  setHandler(escalationProgressSignal, (progress) => {
    const events = applyEscalationProgress(run, progress, now());
    if (!events) return;
    outbox.push(...events);
    escalationChanged = true;
  });
  setHandler(remediationProgressSignal, (progress) => {
    outbox.push(...(applyRemediationProgress(run, progress, now()) ?? []));
  });
  setHandler(
    escalateUpdate,
    async ({ by }) => {
      try {
        await getExternalWorkflowHandle(run.escalation!.workflowId).signal(skipLevelSignal, { by: by.trim() });
      } catch {
        throw ApplicationFailure.nonRetryable('the escalation ladder is not running', ErrorType.Conflict);
      }
      outbox.push(record(state, now(), by.trim(), 'escalated', `escalated to the next level by ${by.trim()}`));
      return status();
    },
    { validator: (request) => rejectIf(validateEscalate(run, request?.by)) },
  );

  const lean = patched(LEAN_STORE_PATCH);
  const muteRechecks = patched(MUTE_RECHECK_PATCH);
  // A run that continued as new looks at the mutes it carried at once.
  if (muteRechecks && firingAlerts(state).some((alert) => alert.mutedBy)) muteRecheckAt = Date.now();
  const incidents = lean ? localStore : remoteStore;
  let lastVisibility = '';
  const rules: IncidentRulesSnapshot = await untilItAnswers('load the incident rules from the policy', () => incidents.loadIncidentRules());
  const remediating = rules.remediationEnabled === true && patched(REMEDIATION_PATCH);

  /** Backoff for a dependency that keeps failing: 5 s doubling to 5 min. */
  const backoffMs = (failures: number) => Math.min(300_000, 5_000 * 2 ** Math.min(failures - 1, 6));
  const reason = (error: unknown) => failureMessage(error).slice(0, 300);

  /** A call the incident cannot go on without: retried on a durable timer until it answers, said once on the timeline. */
  async function untilItAnswers<T>(what: string, call: () => Promise<T>): Promise<T> {
    for (let failures = 1; ; failures += 1) {
      try {
        return await call();
      } catch (error) {
        if (failures === 1) unpersisted.push(record(state, now(), 'system', 'dependency', `could not ${what}: ${reason(error)}; retrying`));
        await sleep(backoffMs(failures));
      }
    }
  }

  async function applyBatch(batch: AlertBatch): Promise<void> {
    const firing = batch.alerts.filter((alert) => alert.status === 'firing');
    let mutes: Record<string, string> = {};
    try {
      const question = { incidentId, alerts: firing.map((alert) => ({ fingerprint: alert.fingerprint, labels: alert.labels })) };
      if (firing.length > 0 && muteRechecks) {
        const answer = await incidents.evaluateMuting(question);
        mutes = answer.reasons;
        if (answer.recheckAt) muteRecheckAt = Math.min(muteRecheckAt ?? Infinity, Date.parse(answer.recheckAt));
      } else if (firing.length > 0) {
        mutes = await incidents.evaluateMutes(question);
      }
    } catch (error) {
      // Better a page that a window would have muted than a silent incident.
      outbox.push(record(state, now(), 'system', 'dependency', `could not check maintenance windows and inhibitions: ${reason(error)}; these alerts page`));
    }
    const at = now();
    const links = batch.externalURL ? { externalURL: batch.externalURL } : {};
    let alerts = batch.alerts;
    if (batch.group && patched(GROUP_STATUS_PATCH)) {
      const { truncatedAlerts } = batch.group;
      if (truncatedAlerts > 0 && truncatedAlerts !== lastTruncated) {
        outbox.push(record(state, at, 'system', 'alerts-truncated', `Alertmanager left out ${truncatedAlerts} alert${truncatedAlerts === 1 ? '' : 's'} of this group (max_alerts); the incident follows the group`));
      }
      lastTruncated = truncatedAlerts;
      alerts = [...alerts, ...resolvedByGroup(state, batch.group, alerts, batch.receivedAt)];
    }
    outbox.push(...applyAlerts(state, alerts, at, rules, mutes, links));
    if (batch.acknowledgeBy && !validateAcknowledge(state, batch.acknowledgeBy)) {
      outbox.push(...acknowledge(state, batch.acknowledgeBy, at));
    }
    // A sender's explicit resolve (Events API) is a decision, not a flap: no quiet period.
    if (batch.source === 'events' && batch.alerts.length > 0 && batch.alerts.every((alert) => alert.status === 'resolved')) {
      if (allAlertsResolved(state) && state.phase !== 'resolved') {
        outbox.push(...resolve(state, `events:${batch.alerts[0]?.labels.source ?? 'sender'}`, at));
      }
    }
  }

  /** Looks at the firing, muted alerts again; those whose mute is over page from now on. */
  async function recheckMutes(): Promise<void> {
    muteRecheckAsked = false;
    muteRecheckAt = undefined;
    const firing = firingAlerts(state);
    if (!firing.some((alert) => alert.mutedBy)) return;
    try {
      const answer = await incidents.evaluateMuting({ incidentId, alerts: firing.map((alert) => ({ fingerprint: alert.fingerprint, labels: alert.labels })) });
      outbox.push(...remute(state, answer.reasons, now()));
      if (answer.recheckAt) muteRecheckAt = Date.parse(answer.recheckAt);
    } catch (error) {
      muteRecheckAt = Date.now() + 60_000;
      outbox.push(record(state, now(), 'system', 'dependency', `could not look at the mutes again: ${reason(error)}; trying again in 60s`));
    }
  }

  async function flush(): Promise<void> {
    const events = [...unpersisted.splice(0), ...outbox.splice(0)].sort((a, b) => a.seq - b.seq);
    const summary = incidentSummary(state);
    const visibility = `${state.phase}|${state.severity}|${state.service}|${summary}`;
    if (!lean || visibility !== lastVisibility) {
      lastVisibility = visibility;
      upsertSearchAttributes([
        { key: OpsKind, value: 'incident' },
        { key: OpsStatus, value: state.phase },
        { key: OpsSeverity, value: state.severity },
        { key: OpsService, value: state.service },
      ]);
      upsertMemo({ summary });
    }
    await persist(events);
    if (!rules.slackEnabled) return;
    // The incident's own complaints about Slack are not posted to Slack.
    const shown = [...unannounced.splice(0), ...events.filter((event) => event.actor !== 'slack')];
    if (Date.now() < slackOut.retryAt) {
      unannounced.push(...shown);
      return;
    }
    try {
      await announce(shown);
      if (slackOut.failures > 0) unpersisted.push(record(state, now(), 'slack', 'dependency', 'Slack answers again'));
      slackOut.failures = 0;
    } catch (error) {
      unannounced.push(...shown);
      slackOut.failures += 1;
      slackOut.retryAt = Date.now() + backoffMs(slackOut.failures);
      if (slackOut.failures === 1) unpersisted.push(record(state, now(), 'slack', 'dependency', `Slack: ${reason(error)}; trying again`));
    }
  }

  /** The incident's row, events and alerts in PostgreSQL; kept for later when the database does not answer. */
  async function persist(events: IncidentEvent[]): Promise<void> {
    if (Date.now() < store.retryAt) {
      unpersisted.push(...events);
      return;
    }
    try {
      await incidents.persistIncident({ incidentId, workflowId: info.workflowId, runId: info.runId, incident: incidentRow(state), events, alerts: changedAlerts(state, events) });
    } catch (error) {
      unpersisted.push(...events);
      store.failures += 1;
      store.retryAt = Date.now() + backoffMs(store.failures);
      if (store.failures === 1) unpersisted.push(record(state, now(), 'system', 'dependency', `could not record the incident in PostgreSQL: ${reason(error)}; retrying`));
      return;
    }
    if (store.failures > 0) {
      store.failures = 0;
      outbox.push(record(state, now(), 'system', 'dependency', 'PostgreSQL answers again; the timeline is recorded'));
    }
  }

  function incidentLink(): string {
    return `${rules.temporalUiUrl}/namespaces/${info.namespace}/workflows/${encodeURIComponent(info.workflowId)}`;
  }

  /** One Slack message per incident, updated in place; the timeline goes to its thread. */
  async function announce(events: IncidentEvent[]): Promise<void> {
    const message = incidentMessage(state, incidentId, incidentLink());
    const slackMessage = run.slack;
    if (!slackMessage) {
      const posted = await slack.postIncidentMessage({ ...message, idempotencyKey: `${incidentId}:message` });
      run.slack = posted;
      notifications.push({ at: now(), channel: 'slack', target: posted.channel, kind: 'message', providerId: posted.ts });
      return;
    }
    const changes = events.filter((event) => event.kind !== 'opened');
    if (changes.some((event) => ['acknowledged', 'resolved', 'reopened', 'severity-changed'].includes(event.kind))) {
      await slack.updateIncidentMessage({ ...message, ref: slackMessage });
      notifications.push({ at: now(), channel: 'slack', target: slackMessage.channel, kind: 'update', providerId: slackMessage.ts });
    }
    if (changes.length > 0) {
      const reply = await slack.postThreadReply({
        ref: slackMessage,
        lines: changes.map((event) => `${event.at.slice(11, 19)}Z ${event.actor}: ${event.text}`),
        idempotencyKey: `${incidentId}:events:${changes[0]!.seq}-${changes[changes.length - 1]!.seq}`,
      });
      notifications.push({ at: now(), channel: 'slack', target: slackMessage.channel, kind: 'thread', providerId: reply.ts });
    }
  }

  /** Writes the post-mortem draft of this resolution in the background; its outcome lands on the timeline. */
  function draftPostmortem(resolvedAt: string): void {
    run.postmortemFor = resolvedAt;
    drafting = true;
    const byHand = `opsctl incident postmortem ${info.workflowId}`;
    void postmortems
      .writePostmortem({ incidentId, link: incidentLink() })
      .then(
        (draft) => outbox.push(record(state, now(), 'system', 'postmortem', `post-mortem draft: ${draft.location} (${byHand} prints it)`)),
        (error: unknown) => outbox.push(record(state, now(), 'system', 'dependency', `could not write the post-mortem draft: ${reason(error)}; ${byHand} writes it`)),
      )
      .finally(() => {
        drafting = false;
      });
  }

  /** Starts, once each, the runbooks that answer this incident's firing alerts. */
  async function steerRemediation(): Promise<void> {
    if (!remediating || state.phase !== 'triggered' || isMuted(state)) return;
    const firing = firingAlerts(state).filter((alert) => !alert.mutedBy);
    const asked = JSON.stringify(firing.map((alert) => alert.fingerprint).sort());
    if (firing.length === 0 || asked === remediationAskedFor) return;
    let plans: Awaited<ReturnType<typeof runbooks.planRemediation>>;
    try {
      plans = await runbooks.planRemediation({ labels: firing.map((alert) => alert.labels), started: remediations.map((entry) => entry.runbook) });
    } catch (error) {
      outbox.push(record(state, now(), 'system', 'dependency', `could not plan runbooks: ${reason(error)}; the ladder is not held`));
      return;
    }
    remediationAskedFor = asked;
    for (const plan of plans) {
      const workflowId = incidentChildWorkflowId(info, `remediation-${plan.runbook}`);
      await startChild(remediationWorkflow, {
        workflowId,
        args: [{ runbook: plan.runbook, labels: plan.labels, incidentWorkflowId: info.workflowId, requestedBy: 'system' }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      remediations.push({ workflowId, runbook: plan.runbook, holdUntil: new Date(Date.now() + plan.holdEscalationMs).toISOString() });
      children.push({ workflowId, type: 'remediationWorkflow', outcome: 'running' });
      const hold = plan.holdEscalationMs > 0 ? `; paging waits for it until ${new Date(Date.now() + plan.holdEscalationMs).toISOString()}` : '';
      outbox.push(record(state, now(), 'system', 'remediation', `runbook ${plan.runbook} started${hold}`));
    }
  }

  /** Until when a working runbook holds the ladder back, if one does. */
  function escalationHeldUntil(): number | undefined {
    const holds = remediations.filter((entry) => entry.outcome === undefined).map((entry) => Date.parse(entry.holdUntil));
    const until = holds.length > 0 ? Math.max(...holds) : undefined;
    return until !== undefined && until > Date.now() ? until : undefined;
  }

  /** A ladder that has already ended (terminated by hand) cannot be told anything: it is marked finished. */
  async function tellLadder(send: () => Promise<void>): Promise<void> {
    try {
      await send();
    } catch {
      const { escalation } = run;
      if (escalation && !escalation.finished) {
        escalation.finished = 'gone';
        outbox.push(record(state, now(), 'system', 'escalation', `the escalation ladder ${escalation.workflowId} is no longer running`));
      }
    }
  }

  /** Starts a ladder for a triggered, unmuted incident that has none running; tells a running one what changed. */
  async function steerEscalation(): Promise<void> {
    if (!rules.escalationEnabled) return;
    const { escalation } = run;
    const running = escalation && !escalation.finished;
    const urgent = remediations.find((entry) => entry.escalateNow);
    if (urgent) {
      // A runbook that did not help: the next level now, or the first one without waiting.
      delete urgent.escalateNow;
      if (running && state.phase === 'triggered' && !escalation!.exhausted) {
        outbox.push(record(state, now(), `runbook:${urgent.runbook}`, 'escalated', `runbook ${urgent.runbook} did not help: escalated to the next level`));
        await tellLadder(() => getExternalWorkflowHandle(escalation!.workflowId).signal(skipLevelSignal, { by: `runbook:${urgent.runbook}` }));
        return;
      }
    }
    if (running) {
      const tell = state.phase === 'resolved' ? 'resolved' : state.phase === 'acknowledged' ? 'acknowledged' : undefined;
      if (tell && escalation!.told !== tell && !(tell === 'acknowledged' && escalation!.told === 'resolved')) {
        escalation!.told = tell;
        await tellLadder(() =>
          getExternalWorkflowHandle(escalation!.workflowId).signal(stopEscalationSignal, {
            reason: tell,
            by: (tell === 'resolved' ? state.resolvedBy : state.acknowledgedBy) ?? 'system',
          }),
        );
      }
      return;
    }
    if (state.phase !== 'triggered' || isMuted(state) || firingAlerts(state).length === 0) return;
    if (escalationHeldUntil() !== undefined) return;
    const first = firingAlerts(state).find((alert) => !alert.mutedBy) ?? firingAlerts(state)[0]!;
    const routing = { labels: first.labels, severity: state.severity, service: state.service };
    // No route matched these: ask again only when what routing looks at changes, not on every alert.
    if (JSON.stringify(routing) === unroutable || Date.now() < planRetryAt) return;
    let plan: Awaited<ReturnType<typeof incidents.planEscalation>>;
    try {
      plan = await incidents.planEscalation(routing);
    } catch (error) {
      planRetryAt = Date.now() + 30_000;
      outbox.push(record(state, now(), 'system', 'dependency', `could not choose an escalation policy: ${reason(error)}; trying again in 30s`));
      return;
    }
    if (!plan) {
      unroutable = JSON.stringify(routing);
      return;
    }
    run.escalations += 1;
    const workflowId = incidentChildWorkflowId(info, `escalation-${run.escalations}`);
    await startChild(escalationWorkflow, {
      workflowId,
      args: [
        {
          incidentWorkflowId: info.workflowId,
          incidentId,
          sequence: run.escalations,
          incident: { title: state.title, service: state.service, severity: state.severity, link: incidentLink() },
          plan,
        },
      ],
      // The ladder outlives a continue-as-new of its incident; it stops when told, or when it resolves.
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
    run.escalation = { workflowId, policy: plan.policy.name, exhausted: false, pages: [] };
    children.push({ workflowId, type: 'escalationWorkflow', outcome: 'running' });
    outbox.push(record(state, now(), 'system', 'escalation', `escalation policy "${plan.policy.name}" started`));
  }

  const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const historyFull = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > historyLimit;
  const work = () => pendingBatches.length > 0 || outbox.length > 0 || escalationChanged || muteRecheckAsked;
  /** Something a dependency did not take is due to be tried again. */
  const retryDue = () => (unpersisted.length > 0 && Date.now() >= store.retryAt) || (unannounced.length > 0 && Date.now() >= slackOut.retryAt);
  /** When the next retry is due; Infinity when nothing waits for one. */
  const nextRetryAt = () =>
    Math.min(
      unpersisted.length > 0 ? store.retryAt : Infinity,
      unannounced.length > 0 ? slackOut.retryAt : Infinity,
      planRetryAt > Date.now() ? planRetryAt : Infinity,
      muteRecheckAt ?? Infinity,
    );

  for (;;) {
    while (pendingBatches.length > 0) await applyBatch(pendingBatches.shift()!);
    if (muteRecheckAsked || (muteRecheckAt !== undefined && Date.now() >= muteRecheckAt)) await recheckMutes();
    escalationChanged = false;
    await steerRemediation();
    await steerEscalation();
    if (outbox.length > 0 || retryDue()) {
      await flush();
      continue;
    }
    if (historyFull()) {
      await condition(() => allHandlersFinished() && !drafting);
      if (!work()) {
        return continueAsNew<typeof incidentWorkflow>({
          dedupKey: state.dedupKey,
          source: state.source,
          historyLimit,
          carried: carryOver(run),
        });
      }
      continue;
    }
    // Each wait also ends when a retry is due; only its own deadline decides what the wait was for.
    const retryAt = nextRetryAt();

    if (state.phase === 'resolved') {
      // Once our database holds the whole timeline, the draft is written from it.
      const resolvedAt = state.resolvedAt ?? '';
      if (run.postmortemFor !== resolvedAt && !drafting && unpersisted.length === 0 && patched(POSTMORTEM_PATCH)) draftPostmortem(resolvedAt);
      // Stay open for the reopen window: an alert firing again reopens this incident.
      const closesAt = Date.parse(state.resolvedAt ?? now()) + rules.reopenWindowMs;
      const until = Math.min(closesAt, retryAt);
      const woke = await condition(() => work() || state.phase !== 'resolved' || historyFull(), Math.max(0, until - Date.now()));
      if (!woke && until === closesAt) {
        // Let a ladder finish telling everyone before the incident closes.
        const { escalation } = run;
        if (escalation && !escalation.finished) await condition(() => escalation.finished !== undefined, '5m');
        if (drafting) await condition(() => !drafting, '10m');
        if (outbox.length > 0) continue;
        break;
      }
      continue;
    }

    if (allAlertsResolved(state)) {
      // The quiet period runs from the last resolution; any change restarts the decision.
      const quietSince = Math.max(...Object.values(state.alerts).map((alert) => Date.parse(alert.lastChangedAt)));
      const resolvesAt = quietSince + rules.quietPeriodMs;
      const until = Math.min(resolvesAt, retryAt);
      const woke = await condition(
        () => work() || !allAlertsResolved(state) || state.phase === 'resolved' || historyFull(),
        Math.max(0, until - Date.now()),
      );
      if (!woke && until === resolvesAt) outbox.push(...resolve(state, 'system', now()));
      continue;
    }

    const heldUntil = escalationHeldUntil();
    const wake = () => work() || allAlertsResolved(state) || state.phase === 'resolved' || historyFull();
    // A held ladder starts when the hold runs out, even if nothing else happens.
    const until = Math.min(heldUntil ?? Infinity, retryAt);
    if (until !== Infinity) await condition(wake, until - Date.now());
    else await condition(wake);
  }

  // Closing: what our database has not taken yet is written before the incident ends.
  while (unpersisted.length > 0) {
    await sleep(Math.max(0, store.retryAt - Date.now()));
    await flush();
  }
  await condition(allHandlersFinished);
  return status();
}
