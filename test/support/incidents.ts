import type { Client, WorkflowHandle, WorkflowHandleWithSignaledRunId } from '@temporalio/client';
import type { AlertBatch, IncomingAlert } from '../../src/domain/alerts.js';
import { alertsSignal, incidentWorkflow, statusQuery, type IncidentInput, type IncidentStatus } from '../../workflows/incident.js';

/** An Alertmanager-style alert for tests. */
export function alert(
  fingerprint: string,
  status: 'firing' | 'resolved',
  labels: Record<string, string>,
  startsAt = '2026-11-23T10:00:00Z',
  annotations: Record<string, string> = {},
): IncomingAlert {
  return { fingerprint, status, labels: { alertname: 'HighErrorRate', ...labels }, annotations, startsAt };
}

export function batch(alerts: IncomingAlert[], extra: Partial<AlertBatch> = {}): AlertBatch {
  return { source: 'alertmanager', receivedAt: new Date().toISOString(), alerts, ...extra };
}

/** What the intake does: signalWithStart on incident-<dedupKey>. */
export async function deliver(
  client: Client,
  taskQueue: string,
  dedupKey: string,
  alertBatch: AlertBatch,
  input: Partial<IncidentInput> = {},
): Promise<WorkflowHandleWithSignaledRunId<typeof incidentWorkflow>> {
  return client.workflow.signalWithStart(incidentWorkflow, {
    workflowId: `incident-${dedupKey}`,
    taskQueue,
    args: [{ dedupKey, source: alertBatch.source, ...input }],
    signal: alertsSignal,
    signalArgs: [alertBatch],
  });
}

/** Polls the `status` query until `predicate` holds; returns that status. */
export async function statusWhen(
  handle: WorkflowHandle,
  predicate: (status: IncidentStatus) => boolean,
  timeoutMs = 20_000,
): Promise<IncidentStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: IncidentStatus | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(statusQuery);
    if (predicate(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`status never matched; last: ${JSON.stringify(last, null, 1).slice(0, 2000)}`);
}
