import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AlertBatch, AlertSource } from '../src/domain/alerts.js';
import type { CarriedIncident, IncidentStatus } from '../src/domain/incident.js';

export type { CarriedIncident, ChildRecord, EscalationState, IncidentStatus, NotificationRecord, RemediationRecord } from '../src/domain/incident.js';

/**
 * incidentWorkflow's contract: its input, its status, and its messages,
 * defined apart from the workflow's code so that clients (the intake, opsctl,
 * the Slack and PagerDuty routes) and activities use them without loading it.
 * The status and what a run carries are the run state's views, defined with
 * the incident's rules in src/domain/incident.ts.
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

export const alertsSignal = defineSignal<[AlertBatch]>('alerts');
export const acknowledgeUpdate = defineUpdate<IncidentStatus, [{ by: string }]>('acknowledge');
export const resolveUpdate = defineUpdate<IncidentStatus, [{ by: string; note?: string }]>('resolve');
export const addNoteUpdate = defineUpdate<IncidentStatus, [{ by: string; text: string }]>('addNote');
export const escalateUpdate = defineUpdate<IncidentStatus, [{ by: string }]>('escalate');
export const statusQuery = defineQuery<IncidentStatus>('status');
/** Look at the mutes again now (opsctl sends it when it removes a window that mutes this incident's alerts). */
export const recheckMutesSignal = defineSignal('recheckMutes');
