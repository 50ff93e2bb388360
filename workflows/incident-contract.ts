import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { SlackMessageRef } from '../activities/notify.js';
import type { AlertBatch, AlertSource } from '../src/domain/alerts.js';
import type { AlertRecord, IncidentEvent, IncidentPhase, IncidentState } from '../src/domain/incident.js';
import type { PageOutcome } from './escalation-signals.js';

/**
 * incidentWorkflow's contract: its input, its status, and its messages,
 * defined apart from the workflow's code so that clients (the intake, opsctl,
 * the Slack and PagerDuty routes) and activities use them without loading it.
 */

export const INCIDENT_WORKFLOW = 'incidentWorkflow';

/** The workflow's signature, for clients that start it by its type name. */
export type IncidentWorkflow = (input: IncidentInput) => Promise<IncidentStatus>;

export interface IncidentInput {
  dedupKey: string;
  source?: AlertSource;
  /** History length at which a run continues as new; default 5000. */
  historyLimit?: number;
  /** Set by continue-as-new only. */
  carried?: CarriedIncident;
}

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

export const alertsSignal = defineSignal<[AlertBatch]>('alerts');
export const acknowledgeUpdate = defineUpdate<IncidentStatus, [{ by: string }]>('acknowledge');
export const resolveUpdate = defineUpdate<IncidentStatus, [{ by: string; note?: string }]>('resolve');
export const addNoteUpdate = defineUpdate<IncidentStatus, [{ by: string; text: string }]>('addNote');
export const escalateUpdate = defineUpdate<IncidentStatus, [{ by: string }]>('escalate');
export const statusQuery = defineQuery<IncidentStatus>('status');
/** Look at the mutes again now (opsctl sends it when it removes a window that mutes this incident's alerts). */
export const recheckMutesSignal = defineSignal('recheckMutes');
