import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { statusQuery } from '../workflows/incident.js';

/** What a remediation reads of its incident to verify it: whether the alerts that opened it have resolved. */
export interface IncidentStatusDeps {
  temporal: Client;
}

export function createIncidentStatusActivities(deps: IncidentStatusDeps) {
  return {
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
