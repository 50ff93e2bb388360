import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { statusQuery } from '../workflows/incident-contract.js';

/** What a remediation reads of its incident to verify it: whether the alerts that opened it have resolved. */
export interface IncidentStatusDeps {
  temporal: Client;
}

export function createIncidentStatusActivities(deps: IncidentStatusDeps) {
  return {
    /** Whether the incident still runs (a continue-as-new counts as running): a ladder whose incident ended, or was terminated, ends too. */
    async incidentRunning(input: { workflowId: string }): Promise<boolean> {
      try {
        const description = await deps.temporal.workflow.getHandle(input.workflowId).describe();
        return description.status.name === 'RUNNING' || description.status.name === 'CONTINUED_AS_NEW';
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return false;
        throw error;
      }
    },

    async incidentAlertsResolved(input: { workflowId: string }): Promise<{ resolved: boolean; firing: string[] }> {
      try {
        const status = await deps.temporal.workflow.getHandle(input.workflowId).query(statusQuery);
        const firing = status.alerts.filter((alert) => alert.status === 'firing').map((alert) => alert.labels.alertname ?? alert.fingerprint);
        return { resolved: status.state === 'resolved' || firing.length === 0, firing };
      } catch (error) {
        // An incident that has closed has nothing left firing.
        if (error instanceof WorkflowNotFoundError) return { resolved: true, firing: [] };
        throw error;
      }
    },
  };
}
