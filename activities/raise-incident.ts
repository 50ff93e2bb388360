import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import type { Labels } from '../src/domain/alerts.js';
import type { Policy } from '../src/config/policy.js';
import { signalIncident } from '../src/incidents/open-incident.js';
import { incidentWorkflowId } from '../src/domain/workflow-ids.js';
import { alertsSignal } from '../workflows/incident-contract.js';

/**
 * Incidents raised by our own workflows (a backup that failed after its last
 * retry, a database over its thresholds): the same alert path as a webhook
 * delivery, so they group, escalate and resolve like any other.
 */
export interface RaiseIncidentDeps {
  temporal: Client;
  taskQueue: string;
  policy: Pick<Policy, 'severity' | 'incidents'>;
}

export interface OwnAlert {
  /** The incident's dedup key, for example `backup-failed-orders`. */
  dedupKey: string;
  labels: Labels & { alertname: string };
  annotations: Labels;
  /** When the condition began, from workflow time: a retried call delivers the very same alert. */
  startsAt: string;
}

export function createRaiseIncidentActivities(deps: RaiseIncidentDeps) {
  const alertOf = (alert: Omit<OwnAlert, 'startsAt'> & { startsAt?: string }, status: 'firing' | 'resolved', at: string) => ({
    fingerprint: alert.dedupKey,
    status,
    labels: alert.labels,
    annotations: alert.annotations,
    // A resolution carries no startsAt: it resolves whichever firing is open.
    ...(alert.startsAt ? { startsAt: alert.startsAt } : {}),
    ...(status === 'resolved' ? { endsAt: at } : {}),
  });

  return {
    /** Opens (or adds to) the incident of `dedupKey`; returns its workflow ID. */
    async raiseIncident(alert: OwnAlert): Promise<{ incident: string }> {
      const receivedAt = new Date().toISOString();
      const incident = await signalIncident(deps.temporal, {
        taskQueue: deps.taskQueue,
        dedupKey: alert.dedupKey,
        severity: { defaultSeverity: deps.policy.incidents.defaultSeverity, overrides: deps.policy.severity.overrides },
        batch: { source: 'ops', receivedAt, alerts: [alertOf(alert, 'firing', receivedAt)] },
      });
      Context.current().log.info('incident raised', { incident, dedupKey: alert.dedupKey });
      return { incident };
    },

    /** Resolves our alert in the incident of `dedupKey` when one is open; never opens one. */
    async clearIncident(alert: Omit<OwnAlert, 'startsAt'> & { endsAt: string }): Promise<{ incident?: string }> {
      const workflowId = incidentWorkflowId(alert.dedupKey);
      try {
        await deps.temporal.workflow
          .getHandle(workflowId)
          .signal(alertsSignal, { source: 'ops', receivedAt: alert.endsAt, alerts: [alertOf(alert, 'resolved', alert.endsAt)] });
        return { incident: workflowId };
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return {};
        throw error;
      }
    },
  };
}
