import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createIncidentActivities, IncidentRulesSnapshot } from '../activities/incidents.js';
import type { createNotifyActivities, SlackMessageRef } from '../activities/notify.js';
import type { AlertBatch, AlertSource } from '../src/domain/alerts.js';
import {
  acknowledge,
  addNote,
  allAlertsResolved,
  applyAlerts,
  isMuted,
  newIncident,
  resolve,
  validateAcknowledge,
  validateNote,
  validateResolve,
  type AlertRecord,
  type IncidentEvent,
  type IncidentPhase,
  type IncidentState,
} from '../src/domain/incident.js';
import { OpsKind, OpsService, OpsSeverity, OpsStatus } from '../src/domain/search-attributes.js';
import type { Severity } from '../src/domain/severity.js';
import { notification, quickApiCall } from './activity-profiles.js';

/**
 * incidentWorkflow: one incident, ID `incident-<dedupKey>`. Alerts arrive by
 * the `alerts` signal (signalWithStart from the intake); people act through the
 * `acknowledge`, `resolve` and `addNote` updates; `status` shows all of it.
 * It resolves by itself once every alert has stayed resolved for the quiet
 * period, reopens when one fires again within the reopen window, and
 * continues-as-new to keep its history bounded.
 */

export interface IncidentInput {
  dedupKey: string;
  source?: AlertSource;
  /** History length at which a run continues as new; default 5000. */
  historyLimit?: number;
  /** Set by continue-as-new only. */
  carried?: CarriedIncident;
}

interface CarriedIncident {
  state: IncidentState;
  slack?: SlackMessageRef;
  notifications: NotificationRecord[];
  pendingBatches: AlertBatch[];
}

export interface NotificationRecord {
  at: string;
  channel: 'slack';
  target: string;
  kind: 'message' | 'update' | 'thread';
  providerId: string;
}

export interface IncidentStatus {
  incidentId: string;
  workflowId: string;
  dedupKey: string;
  title: string;
  service: string;
  severity: Severity;
  state: IncidentPhase;
  muted: boolean;
  openedAt: string;
  acknowledgedAt?: string;
  acknowledgedBy?: string;
  resolvedAt?: string;
  resolvedBy?: string;
  reopenCount: number;
  alerts: AlertRecord[];
  timeline: IncidentEvent[];
  notifications: NotificationRecord[];
  children: Array<{ workflowId: string; type: string; outcome: string }>;
}

export const alertsSignal = defineSignal<[AlertBatch]>('alerts');
export const acknowledgeUpdate = defineUpdate<IncidentStatus, [{ by: string }]>('acknowledge');
export const resolveUpdate = defineUpdate<IncidentStatus, [{ by: string; note?: string }]>('resolve');
export const addNoteUpdate = defineUpdate<IncidentStatus, [{ by: string; text: string }]>('addNote');
export const statusQuery = defineQuery<IncidentStatus>('status');

const incidents = proxyActivities<ReturnType<typeof createIncidentActivities>>(quickApiCall);
const slack = proxyActivities<ReturnType<typeof createNotifyActivities>>(notification);

/** History length at which a run hands over to a fresh one even if the server has not suggested it. */
const DEFAULT_HISTORY_LIMIT = 5000;

const now = () => new Date().toISOString();

export async function incidentWorkflow(input: IncidentInput): Promise<IncidentStatus> {
  const info = workflowInfo();
  const incidentId = `${info.workflowId}/${info.firstExecutionRunId}`;
  const carried = input.carried;
  const state = carried?.state ?? newIncident(input.dedupKey, input.source ?? 'alertmanager', now());
  const pendingBatches: AlertBatch[] = [...(carried?.pendingBatches ?? [])];
  const outbox: IncidentEvent[] = [];
  const notifications: NotificationRecord[] = [...(carried?.notifications ?? [])];
  let slackMessage = carried?.slack;

  const status = (): IncidentStatus => ({
    incidentId,
    workflowId: info.workflowId,
    dedupKey: state.dedupKey,
    title: state.title,
    service: state.service,
    severity: state.severity,
    state: state.phase,
    muted: isMuted(state),
    openedAt: state.openedAt,
    ...(state.acknowledgedAt ? { acknowledgedAt: state.acknowledgedAt, acknowledgedBy: state.acknowledgedBy } : {}),
    ...(state.resolvedAt ? { resolvedAt: state.resolvedAt, resolvedBy: state.resolvedBy } : {}),
    reopenCount: state.reopenCount,
    alerts: Object.values(state.alerts),
    timeline: state.timeline,
    notifications,
    children: [],
  });

  const rejectIf = (problem: string | undefined) => {
    if (problem) throw new Error(problem);
  };

  // Handlers first, before any await, so nothing delivered with the start is missed.
  setHandler(alertsSignal, (batch) => {
    pendingBatches.push(batch);
  });
  setHandler(statusQuery, status);
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

  const rules: IncidentRulesSnapshot = await incidents.loadIncidentRules();

  async function applyBatch(batch: AlertBatch): Promise<void> {
    const firing = batch.alerts.filter((alert) => alert.status === 'firing');
    const mutes =
      firing.length > 0
        ? await incidents.evaluateMutes({
            incidentId,
            alerts: firing.map((alert) => ({ fingerprint: alert.fingerprint, labels: alert.labels })),
          })
        : {};
    const at = now();
    const links = batch.externalURL ? { externalURL: batch.externalURL } : {};
    outbox.push(...applyAlerts(state, batch.alerts, at, rules, mutes, links));
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

  async function flush(): Promise<void> {
    const events = outbox.splice(0);
    upsertSearchAttributes([
      { key: OpsKind, value: 'incident' },
      { key: OpsStatus, value: state.phase },
      { key: OpsSeverity, value: state.severity },
      { key: OpsService, value: state.service },
    ]);
    upsertMemo({ summary: `${state.severity.toUpperCase()} ${state.title} (${state.service})` });
    await incidents.persistIncident({
      incidentId,
      workflowId: info.workflowId,
      runId: info.runId,
      incident: {
        dedupKey: state.dedupKey,
        source: state.source,
        title: state.title,
        service: state.service,
        severity: state.severity,
        phase: state.phase,
        muted: isMuted(state),
        openedAt: state.openedAt,
        acknowledgedAt: state.acknowledgedAt,
        acknowledgedBy: state.acknowledgedBy,
        resolvedAt: state.resolvedAt,
        resolvedBy: state.resolvedBy,
        reopenCount: state.reopenCount,
        lastSeq: state.nextSeq - 1,
      },
      events,
      alerts: changedAlerts(state, events),
    });
    if (rules.slackEnabled) await announce(events);
  }

  /** One Slack message per incident, updated in place; the timeline goes to its thread. */
  async function announce(events: IncidentEvent[]): Promise<void> {
    const message = {
      incidentId,
      title: state.title,
      service: state.service,
      severity: state.severity,
      phase: state.phase,
      muted: isMuted(state),
      acknowledgedBy: state.acknowledgedBy,
      resolvedBy: state.resolvedBy,
      links: {
        temporal: `${rules.temporalUiUrl}/namespaces/${info.namespace}/workflows/${encodeURIComponent(info.workflowId)}`,
        ...(state.links.generatorURL ? { generator: state.links.generatorURL } : {}),
        ...(state.links.externalURL ? { alertmanager: state.links.externalURL } : {}),
      },
    };
    if (!slackMessage) {
      slackMessage = await slack.postIncidentMessage({ ...message, idempotencyKey: `${incidentId}:message` });
      notifications.push({ at: now(), channel: 'slack', target: slackMessage.channel, kind: 'message', providerId: slackMessage.ts });
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

  const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const historyFull = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > historyLimit;
  const work = () => pendingBatches.length > 0 || outbox.length > 0;

  for (;;) {
    while (pendingBatches.length > 0) await applyBatch(pendingBatches.shift()!);
    if (outbox.length > 0) {
      await flush();
      continue;
    }
    if (historyFull()) {
      await condition(allHandlersFinished);
      if (!work()) {
        return continueAsNew<typeof incidentWorkflow>({
          dedupKey: state.dedupKey,
          source: state.source,
          historyLimit,
          carried: { state, slack: slackMessage, notifications: notifications.slice(-50), pendingBatches },
        });
      }
      continue;
    }

    if (state.phase === 'resolved') {
      // Stay open for the reopen window: an alert firing again reopens this incident.
      const closesAt = Date.parse(state.resolvedAt ?? now()) + rules.reopenWindowMs;
      const woke = await condition(() => work() || state.phase !== 'resolved' || historyFull(), Math.max(0, closesAt - Date.now()));
      if (!woke) break;
      continue;
    }

    if (allAlertsResolved(state)) {
      // The quiet period runs from the last resolution; any change restarts the decision.
      const quietSince = Math.max(...Object.values(state.alerts).map((alert) => Date.parse(alert.lastChangedAt)));
      const resolvesAt = quietSince + rules.quietPeriodMs;
      const woke = await condition(
        () => work() || !allAlertsResolved(state) || state.phase === 'resolved' || historyFull(),
        Math.max(0, resolvesAt - Date.now()),
      );
      if (!woke) outbox.push(...resolve(state, 'system', now()));
      continue;
    }

    await condition(() => work() || allAlertsResolved(state) || state.phase === 'resolved' || historyFull());
  }

  await condition(allHandlersFinished);
  return status();
}

/** The alerts whose rows must change: those named by this flush's events (all, on the first flush). */
function changedAlerts(state: IncidentState, events: IncidentEvent[]): AlertRecord[] {
  const touched = new Set(events.map((event) => event.fingerprint).filter((fingerprint) => fingerprint !== undefined));
  return Object.values(state.alerts).filter((alert) => touched.has(alert.fingerprint));
}
