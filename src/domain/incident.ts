import { alertService, alertTitle, type AlertBatch, type AlertSource, type IncomingAlert, type Labels } from './alerts.js';
import type { EscalationProgress, PageOutcome } from './escalation.js';
import type { RemediationProgress } from './remediation.js';
import { highestSeverity, severityOf, severityRank, type Severity, type SeverityPolicy } from './severity.js';

/**
 * The incident's rules as pure functions over plain state: what an alert does
 * to an incident, who may acknowledge or resolve it, when it resolves by
 * itself. The workflow holds the state and performs the side effects; these
 * functions decide, deterministically, and return the events to record.
 */

export type IncidentPhase = 'triggered' | 'acknowledged' | 'resolved';

/** An alert as the incident holds it: what arrived, plus what the incident made of it. */
export interface AlertRecord extends IncomingAlert {
  title: string;
  severity: Severity;
  firstSeenAt: string;
  lastChangedAt: string;
  /** Why the alert pages nobody (maintenance window, inhibition); absent when it pages. */
  mutedBy?: string;
}

export type IncidentEventKind =
  | 'opened'
  | 'alert-firing'
  | 'alert-resolved'
  | 'alert-muted'
  | 'alert-unmuted'
  | 'severity-changed'
  | 'acknowledged'
  | 'resolved'
  | 'reopened'
  | 'note'
  | 'escalation'
  | 'paged'
  | 'page-failed'
  | 'escalated'
  | 'remediation'
  /** A system the incident depends on (our database, Slack) failed, or came back. */
  | 'dependency'
  /** Alertmanager's max_alerts left alerts of the group out of a notification. */
  | 'alerts-truncated'
  /** The post-mortem draft was written when the incident resolved. */
  | 'postmortem';

export interface IncidentEvent {
  /** Position in this incident's timeline: with the workflow ID, the event's idempotency key. */
  seq: number;
  at: string;
  actor: string;
  kind: IncidentEventKind;
  text: string;
  fingerprint?: string;
}

export interface IncidentState {
  dedupKey: string;
  source: AlertSource;
  title: string;
  service: string;
  phase: IncidentPhase;
  severity: Severity;
  openedAt: string;
  acknowledgedAt?: string;
  acknowledgedBy?: string;
  resolvedAt?: string;
  resolvedBy?: string;
  reopenCount: number;
  alerts: Record<string, AlertRecord>;
  /** The latest events; older ones live in PostgreSQL (incident_events). */
  timeline: IncidentEvent[];
  nextSeq: number;
  links: { externalURL?: string; generatorURL?: string };
}

export interface IncidentRules {
  severity: SeverityPolicy;
}

/** How many timeline events the workflow keeps in memory (and carries across continue-as-new). */
export const TIMELINE_IN_STATE = 200;

const SYSTEM = 'system';

/** Appends an event to the timeline (bounded in memory; all of it goes to PostgreSQL). */
export function record(state: IncidentState, at: string, actor: string, kind: IncidentEventKind, text: string, fingerprint?: string): IncidentEvent {
  const event: IncidentEvent = { seq: state.nextSeq, at, actor, kind, text, ...(fingerprint ? { fingerprint } : {}) };
  state.nextSeq += 1;
  state.timeline.push(event);
  if (state.timeline.length > TIMELINE_IN_STATE) state.timeline.splice(0, state.timeline.length - TIMELINE_IN_STATE);
  return event;
}

export function newIncident(dedupKey: string, source: AlertSource, at: string): IncidentState {
  return {
    dedupKey,
    source,
    title: dedupKey,
    service: 'unknown',
    phase: 'triggered',
    severity: 'low',
    openedAt: at,
    reopenCount: 0,
    alerts: {},
    timeline: [],
    nextSeq: 1,
    links: {},
  };
}

export function firingAlerts(state: IncidentState): AlertRecord[] {
  return Object.values(state.alerts).filter((alert) => alert.status === 'firing');
}

/** Every alert the incident has seen is resolved (and it has seen at least one). */
export function allAlertsResolved(state: IncidentState): boolean {
  const alerts = Object.values(state.alerts);
  return alerts.length > 0 && alerts.every((alert) => alert.status === 'resolved');
}

/** Muted when every firing alert is muted: the incident is recorded but pages nobody. */
export function isMuted(state: IncidentState): boolean {
  const firing = firingAlerts(state);
  return firing.length > 0 && firing.every((alert) => alert.mutedBy !== undefined);
}

function isAfter(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return a !== undefined && b === undefined;
  return Date.parse(a) > Date.parse(b);
}

/**
 * Applies alerts from one delivery. Idempotent: the same delivery twice, or
 * copies from two Alertmanagers, change nothing the second time. A copy of a
 * firing that arrives after its own resolution (same startsAt) is stale and
 * ignored; a firing with a later startsAt fires again. Returns new events.
 */
export function applyAlerts(
  state: IncidentState,
  incoming: readonly IncomingAlert[],
  at: string,
  rules: IncidentRules,
  mutes: Record<string, string> = {},
  links: { externalURL?: string } = {},
): IncidentEvent[] {
  const events: IncidentEvent[] = [];
  const firstAlert = Object.keys(state.alerts).length === 0;
  let refired = false;

  for (const alert of incoming) {
    const existing = state.alerts[alert.fingerprint];
    const severity = severityOf(alert.labels, rules.severity);
    const mutedBy = alert.status === 'firing' ? mutes[alert.fingerprint] : undefined;
    const fresh = (): AlertRecord => ({
      fingerprint: alert.fingerprint,
      status: alert.status,
      labels: alert.labels,
      annotations: alert.annotations,
      ...(alert.startsAt ? { startsAt: alert.startsAt } : {}),
      ...(alert.endsAt && alert.status === 'resolved' ? { endsAt: alert.endsAt } : {}),
      ...(alert.generatorURL ? { generatorURL: alert.generatorURL } : {}),
      title: alertTitle(alert),
      severity,
      firstSeenAt: existing?.firstSeenAt ?? at,
      lastChangedAt: at,
      ...(mutedBy ? { mutedBy } : {}),
    });

    if (alert.status === 'firing') {
      if (!existing) {
        state.alerts[alert.fingerprint] = fresh();
        events.push(record(state, at, SYSTEM, 'alert-firing', `${alertTitle(alert)} firing (${severity})`, alert.fingerprint));
      } else if (existing.status === 'firing') {
        // A repeat of what we know: refresh labels and annotations, no event.
        existing.labels = alert.labels;
        existing.annotations = alert.annotations;
        existing.severity = severity;
        continue;
      } else if (isAfter(alert.startsAt, existing.startsAt)) {
        state.alerts[alert.fingerprint] = fresh();
        refired = true;
        events.push(record(state, at, SYSTEM, 'alert-firing', `${alertTitle(alert)} firing again (${severity})`, alert.fingerprint));
      } else {
        continue; // A late copy of a firing that has already resolved.
      }
      if (mutedBy) events.push(record(state, at, SYSTEM, 'alert-muted', `${alertTitle(alert)} muted: ${mutedBy}`, alert.fingerprint));
    } else {
      if (existing?.status === 'resolved') continue;
      // A resolution of an older firing than the one we know is stale.
      if (existing && alert.startsAt && existing.startsAt && isAfter(existing.startsAt, alert.startsAt)) continue;
      state.alerts[alert.fingerprint] = { ...fresh(), ...(existing?.startsAt && !alert.startsAt ? { startsAt: existing.startsAt } : {}) };
      events.push(record(state, at, SYSTEM, 'alert-resolved', `${alertTitle(alert)} resolved`, alert.fingerprint));
    }
  }

  if (events.length === 0) return events;
  if (firstAlert) {
    describeFromAlerts(state, links);
    return [state.timeline[0]!, ...events];
  }
  if (links.externalURL) state.links.externalURL = links.externalURL;

  const firingNow = firingAlerts(state);
  if (state.phase === 'resolved' && firingNow.length > 0 && (refired || events.some((event) => event.kind === 'alert-firing'))) {
    state.phase = 'triggered';
    state.reopenCount += 1;
    delete state.acknowledgedAt;
    delete state.acknowledgedBy;
    delete state.resolvedAt;
    delete state.resolvedBy;
    events.push(record(state, at, SYSTEM, 'reopened', 'an alert fired again within the reopen window'));
  }
  events.push(...updateSeverity(state, at));
  return events;
}

function describeFromAlerts(state: IncidentState, links: { externalURL?: string }): void {
  const first = Object.values(state.alerts)[0];
  if (!first) return;
  state.title = first.title;
  state.service = alertService(first.labels) ?? 'unknown';
  state.severity = highestSeverity(
    firingAlerts(state).map((alert) => alert.severity),
    first.severity,
  );
  if (first.generatorURL) state.links.generatorURL = first.generatorURL;
  if (links.externalURL) state.links.externalURL = links.externalURL;
  if (!state.timeline.some((event) => event.kind === 'opened')) {
    state.timeline.unshift({ seq: 0, at: state.openedAt, actor: SYSTEM, kind: 'opened', text: `incident opened: ${state.title} (${state.severity})` });
  }
}

/** The highest firing alert sets the severity; a change is an event. */
function updateSeverity(state: IncidentState, at: string): IncidentEvent[] {
  const firing = firingAlerts(state);
  if (firing.length === 0) return [];
  const next = highestSeverity(
    firing.map((alert) => alert.severity),
    state.severity,
  );
  if (next === state.severity) return [];
  const rose = severityRank(next) > severityRank(state.severity);
  const previous = state.severity;
  state.severity = next;
  return [record(state, at, SYSTEM, 'severity-changed', `severity ${rose ? 'raised' : 'lowered'} from ${previous} to ${next}`)];
}

function requireActor(by: string | undefined): string | undefined {
  return by === undefined || by.trim() === '' ? 'an actor ("by") is required' : undefined;
}

/** Why `acknowledge` is refused, or undefined when it is allowed. */
export function validateAcknowledge(state: IncidentState, by: string | undefined): string | undefined {
  return (
    requireActor(by) ??
    (state.phase === 'resolved'
      ? `incident is resolved${state.resolvedBy ? ` (by ${state.resolvedBy})` : ''}; it cannot be acknowledged`
      : state.phase === 'acknowledged'
        ? `incident is already acknowledged by ${state.acknowledgedBy}`
        : undefined)
  );
}

export function acknowledge(state: IncidentState, by: string, at: string): IncidentEvent[] {
  state.phase = 'acknowledged';
  state.acknowledgedAt = at;
  state.acknowledgedBy = by;
  return [record(state, at, by, 'acknowledged', `acknowledged by ${by}`)];
}

export function validateResolve(state: IncidentState, by: string | undefined): string | undefined {
  return requireActor(by) ?? (state.phase === 'resolved' ? `incident is already resolved by ${state.resolvedBy}` : undefined);
}

export function resolve(state: IncidentState, by: string, at: string, note?: string): IncidentEvent[] {
  state.phase = 'resolved';
  state.resolvedAt = at;
  state.resolvedBy = by;
  const reason = note?.trim() ? `: ${note.trim()}` : '';
  return [record(state, at, by, 'resolved', by === SYSTEM ? `resolved: every alert stayed resolved for the quiet period` : `resolved by ${by}${reason}`)];
}

export function validateNote(by: string | undefined, text: string | undefined): string | undefined {
  return requireActor(by) ?? (text === undefined || text.trim() === '' ? 'a note needs text' : undefined);
}

export function addNote(state: IncidentState, by: string, text: string, at: string): IncidentEvent[] {
  return [record(state, at, by, 'note', text.trim())];
}

/**
 * The alerts a resolved Alertmanager group resolves beyond those it lists:
 * every firing alert of the incident that carries the group's labels, which
 * `max_alerts` may have left out of the notification.
 */
export function resolvedByGroup(
  state: IncidentState,
  group: { status: 'firing' | 'resolved'; labels: Labels },
  listed: readonly IncomingAlert[],
  at: string,
): IncomingAlert[] {
  if (group.status !== 'resolved') return [];
  const named = new Set(listed.map((alert) => alert.fingerprint));
  return firingAlerts(state)
    .filter((alert) => !named.has(alert.fingerprint) && Object.entries(group.labels).every(([name, value]) => alert.labels[name] === value))
    .map((alert) => ({
      fingerprint: alert.fingerprint,
      status: 'resolved' as const,
      labels: alert.labels,
      annotations: alert.annotations,
      ...(alert.startsAt ? { startsAt: alert.startsAt } : {}),
      endsAt: at,
    }));
}

/**
 * Mutes looked at again (a window ended, an inhibiting alert resolved, an
 * opsctl window was removed): a firing alert whose mute is gone pages from
 * now on. An alert already paging is not muted afterwards; a changed reason
 * is kept without an event.
 */
export function remute(state: IncidentState, reasons: Record<string, string>, at: string): IncidentEvent[] {
  const events: IncidentEvent[] = [];
  for (const alert of firingAlerts(state)) {
    if (!alert.mutedBy) continue;
    const reason = reasons[alert.fingerprint];
    if (reason) {
      alert.mutedBy = reason;
      continue;
    }
    const was = alert.mutedBy;
    delete alert.mutedBy;
    alert.lastChangedAt = at;
    events.push(record(state, at, SYSTEM, 'alert-unmuted', `${alert.title} is no longer muted (${was} is over): it pages`, alert.fingerprint));
  }
  return events;
}

/*
 * The run: everything one run of incidentWorkflow holds beside the incident
 * itself (its ladder, its runbooks, its Slack message, the writes still owed
 * to a dependency that was down), one value that continue-as-new carries to
 * the next run, and the views of it the workflow shows: the status query, the
 * incidents row, the Slack message.
 */

export interface SlackMessageRef {
  channel: string;
  ts: string;
}

/** A runbook this incident started; while one works, the incident holds its ladder until `holdUntil`. */
export interface RemediationRecord {
  workflowId: string;
  runbook: string;
  holdUntil: string;
  outcome?: string;
  /** It did not help: escalate now, once. */
  escalateNow?: boolean;
}

/** Where the incident's current ladder stands, for the status query. */
export interface EscalationState {
  workflowId: string;
  policy: string;
  level?: number;
  cycle?: number;
  nextLevelAt?: string;
  deferredUntil?: string;
  exhausted: boolean;
  /** What the incident last told the ladder. */
  told?: 'acknowledged' | 'resolved';
  finished?: string;
  pages: Array<PageOutcome & { at: string; level: number }>;
}

export interface ChildRecord {
  workflowId: string;
  type: string;
  outcome: string;
}

export interface NotificationRecord {
  at: string;
  channel: 'slack';
  target: string;
  kind: 'message' | 'update' | 'thread';
  providerId: string;
}

/** What a run hands to the next at continue-as-new; fields marked optional were added after runs that lack them. */
export interface CarriedIncident {
  state: IncidentState;
  slack?: SlackMessageRef;
  notifications: NotificationRecord[];
  pendingBatches: AlertBatch[];
  escalation?: EscalationState;
  escalations?: number;
  children?: ChildRecord[];
  remediations?: RemediationRecord[];
  /** Events our database has not taken yet, and those Slack has not shown yet. */
  unpersisted?: IncidentEvent[];
  unannounced?: IncidentEvent[];
  /** The resolution (its resolvedAt) a post-mortem draft was last written for. */
  postmortemFor?: string;
}

export interface IncidentRun {
  state: IncidentState;
  /** Alert deliveries received and not applied yet. */
  pendingBatches: AlertBatch[];
  notifications: NotificationRecord[];
  slack?: SlackMessageRef | undefined;
  escalation?: EscalationState | undefined;
  /** Ladders started so far; the next one's sequence number. */
  escalations: number;
  children: ChildRecord[];
  remediations: RemediationRecord[];
  /**
   * A dependency that is down never ends the incident: what it could not take
   * waits here and is tried again on a durable timer, and the timeline says so.
   */
  unpersisted: IncidentEvent[];
  unannounced: IncidentEvent[];
  postmortemFor?: string | undefined;
}

/** The first run's state, or the state a previous run carried over. */
export function startIncidentRun(input: { dedupKey: string; source?: AlertSource | undefined; carried?: CarriedIncident | undefined }, at: string): IncidentRun {
  const carried = input.carried;
  return {
    state: carried?.state ?? newIncident(input.dedupKey, input.source ?? 'alertmanager', at),
    pendingBatches: [...(carried?.pendingBatches ?? [])],
    notifications: [...(carried?.notifications ?? [])],
    slack: carried?.slack,
    escalation: carried?.escalation,
    escalations: carried?.escalations ?? 0,
    children: [...(carried?.children ?? [])],
    remediations: [...(carried?.remediations ?? [])],
    unpersisted: [...(carried?.unpersisted ?? [])],
    unannounced: [...(carried?.unannounced ?? [])],
    ...(carried?.postmortemFor ? { postmortemFor: carried.postmortemFor } : {}),
  };
}

/** What the next run needs; long lists keep their newest entries (all of them live in PostgreSQL). */
export function carryOver(run: IncidentRun): CarriedIncident {
  const { escalation, remediations, unpersisted, unannounced } = run;
  return {
    state: run.state,
    ...(run.slack ? { slack: run.slack } : {}),
    notifications: run.notifications.slice(-50),
    pendingBatches: run.pendingBatches,
    ...(escalation ? { escalation: { ...escalation, pages: escalation.pages.slice(-50) } } : {}),
    escalations: run.escalations,
    children: run.children.slice(-20),
    ...(remediations.length > 0 ? { remediations: remediations.slice(-20) } : {}),
    ...(unpersisted.length > 0 ? { unpersisted } : {}),
    ...(unannounced.length > 0 ? { unannounced } : {}),
    ...(run.postmortemFor ? { postmortemFor: run.postmortemFor } : {}),
  };
}

/** The status query's answer. */
export interface IncidentStatus
  extends Pick<
    IncidentState,
    'dedupKey' | 'title' | 'service' | 'severity' | 'openedAt' | 'acknowledgedAt' | 'acknowledgedBy' | 'resolvedAt' | 'resolvedBy' | 'reopenCount'
  > {
  incidentId: string;
  workflowId: string;
  state: IncidentPhase;
  muted: boolean;
  alerts: AlertRecord[];
  timeline: IncidentEvent[];
  notifications: NotificationRecord[];
  escalation?: EscalationState;
  children: ChildRecord[];
  remediations?: RemediationRecord[];
}

export function incidentStatus(run: IncidentRun, ids: { incidentId: string; workflowId: string }): IncidentStatus {
  const { state } = run;
  return {
    incidentId: ids.incidentId,
    workflowId: ids.workflowId,
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
    notifications: run.notifications,
    ...(run.escalation ? { escalation: run.escalation } : {}),
    children: run.children,
    ...(run.remediations.length > 0 ? { remediations: run.remediations } : {}),
  };
}

/** The incident's row in PostgreSQL (`incidents`). */
export interface IncidentRow {
  dedupKey: string;
  source: AlertSource;
  title: string;
  service: string;
  severity: Severity;
  phase: IncidentPhase;
  muted: boolean;
  openedAt: string;
  acknowledgedAt?: string | undefined;
  acknowledgedBy?: string | undefined;
  resolvedAt?: string | undefined;
  resolvedBy?: string | undefined;
  reopenCount: number;
  /** The last timeline event written with this row. */
  lastSeq: number;
}

export function incidentRow(state: IncidentState): IncidentRow {
  return {
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
  };
}

/** The incident's one Slack message, updated in place as it changes. */
export interface IncidentMessage {
  incidentId: string;
  title: string;
  service: string;
  severity: Severity;
  phase: IncidentPhase;
  muted: boolean;
  acknowledgedBy?: string | undefined;
  resolvedBy?: string | undefined;
  links: { temporal: string; generator?: string; alertmanager?: string };
}

export function incidentMessage(state: IncidentState, incidentId: string, temporalLink: string): IncidentMessage {
  return {
    incidentId,
    title: state.title,
    service: state.service,
    severity: state.severity,
    phase: state.phase,
    muted: isMuted(state),
    acknowledgedBy: state.acknowledgedBy,
    resolvedBy: state.resolvedBy,
    links: {
      temporal: temporalLink,
      ...(state.links.generatorURL ? { generator: state.links.generatorURL } : {}),
      ...(state.links.externalURL ? { alertmanager: state.links.externalURL } : {}),
    },
  };
}

/** The incident in one line: the memo the Web UI lists it by. */
export function incidentSummary(state: IncidentState): string {
  return `${state.severity.toUpperCase()} ${state.title} (${state.service})`;
}

/** The alerts whose rows must change: those named by this flush's events (all, on the first flush). */
export function changedAlerts(state: IncidentState, events: IncidentEvent[]): AlertRecord[] {
  const touched = new Set(events.map((event) => event.fingerprint).filter((fingerprint) => fingerprint !== undefined));
  return Object.values(state.alerts).filter((alert) => touched.has(alert.fingerprint));
}

/** Why `escalate` is refused, or undefined when the ladder can be moved to its next level. */
export function validateEscalate(run: IncidentRun, by: string | undefined): string | undefined {
  const { state, escalation } = run;
  return (
    requireActor(by) ??
    (state.phase !== 'triggered'
      ? `incident is ${state.phase}; only a triggered incident escalates`
      : !escalation || escalation.finished
        ? 'incident has no escalation running'
        : escalation.exhausted
          ? 'the escalation ladder has no level left'
          : undefined)
  );
}

/** A page of the ladder in the timeline: paged, being retried, or failed. */
function pageEvent(state: IncidentState, at: string, name: string, page: PageOutcome, late = false): IncidentEvent {
  const who = page.person ? `${page.person}, ${page.reason}, by ${page.target}` : page.target;
  if (page.outcome === 'delivered') return record(state, at, SYSTEM, 'paged', `${name}: paged ${who}${late ? ' (after retries)' : ''}`);
  if (page.outcome === 'retrying') return record(state, at, SYSTEM, 'page-failed', `${name}: could not page ${page.target} yet, retrying until it gets through: ${page.error ?? 'failed'}`);
  return record(state, at, SYSTEM, 'page-failed', `${name}: could not page ${page.target}${late ? ' after retries' : ''}: ${page.error ?? 'failed'}`);
}

const levelName = (progress: { level: number; cycle: number; final?: boolean | undefined }) =>
  progress.final ? 'final action' : `level ${progress.level}${progress.cycle > 0 ? ` (repeat ${progress.cycle})` : ''}`;

/**
 * Records what the incident's current ladder reports: pages and failures in
 * the timeline, the level it stands at in status. A report from a ladder that
 * is not the current one changes nothing (undefined).
 */
export function applyEscalationProgress(run: IncidentRun, progress: EscalationProgress, at: string): IncidentEvent[] | undefined {
  const { state, escalation } = run;
  if (!escalation || escalation.workflowId !== progress.workflowId) return undefined;
  switch (progress.kind) {
    case 'deferred':
      escalation.deferredUntil = progress.until;
      return [record(state, at, SYSTEM, 'escalation', `outside business hours: paging at ${progress.until}`)];
    case 'level': {
      delete escalation.deferredUntil;
      escalation.level = progress.level;
      escalation.cycle = progress.cycle;
      if (progress.nextLevelAt) escalation.nextLevelAt = progress.nextLevelAt;
      else delete escalation.nextLevelAt;
      escalation.pages.push(...progress.pages.map((page) => ({ ...page, at: progress.at, level: progress.level })));
      if (escalation.pages.length > 100) escalation.pages.splice(0, escalation.pages.length - 100);
      return progress.pages.map((page) => pageEvent(state, progress.at, levelName(progress), page));
    }
    case 'page': {
      // A page that was being retried: its entry in status now says how it ended.
      const entry = escalation.pages.find((page) => page.level === progress.level && page.target === progress.page.target && page.person === progress.page.person && page.outcome === 'retrying');
      if (entry) Object.assign(entry, progress.page, progress.page.outcome === 'delivered' ? { error: undefined } : {});
      return [pageEvent(state, progress.at, levelName(progress), progress.page, true)];
    }
    case 'exhausted':
      escalation.exhausted = true;
      delete escalation.nextLevelAt;
      return [record(state, progress.at, SYSTEM, 'escalation', 'escalation ladder exhausted; waiting for an acknowledgement')];
    case 'finished': {
      escalation.finished = progress.outcome;
      delete escalation.nextLevelAt;
      const child = run.children.find((entry) => entry.workflowId === progress.workflowId);
      if (child) child.outcome = progress.outcome;
      return [];
    }
  }
}

/**
 * Records what one of the incident's runbooks reports: each step on the
 * timeline, then how it ended, and whether the ladder must move at once. A
 * report from a runbook this incident did not start changes nothing.
 */
export function applyRemediationProgress(run: IncidentRun, progress: RemediationProgress, at: string): IncidentEvent[] | undefined {
  const entry = run.remediations.find((candidate) => candidate.workflowId === progress.workflowId);
  if (!entry) return undefined;
  const actor = `runbook:${progress.runbook}`;
  if (progress.kind === 'step') {
    const { step, outcome, detail } = progress.result;
    return [record(run.state, progress.result.at, actor, 'remediation', `${step} ${outcome}: ${detail}`)];
  }
  entry.outcome = progress.outcome;
  const child = run.children.find((candidate) => candidate.workflowId === progress.workflowId);
  if (child) child.outcome = progress.outcome;
  const events = [record(run.state, at, actor, 'remediation', `runbook ${progress.runbook} ${progress.outcome}: ${progress.detail}`)];
  if (progress.escalate) entry.escalateNow = true;
  return events;
}
