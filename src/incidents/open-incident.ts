import type { Client } from '@temporalio/client';
import { alertService, alertTitle, type AlertBatch, type IncomingAlert } from '../domain/alerts.js';
import { OpsKind, OpsService, OpsSeverity, OpsStatus } from '../domain/search-attributes.js';
import { severityOf, type SeverityPolicy } from '../domain/severity.js';
import { incidentWorkflowId } from '../domain/workflow-ids.js';
import { alertsSignal, INCIDENT_WORKFLOW, type IncidentWorkflow } from '../../workflows/incident-contract.js';

/**
 * Hands a batch of alerts to the incident of `dedupKey`, starting it when it
 * is not running (signalWithStart): the one way into an incident, used by the
 * webhook intake and by workflows that raise incidents of their own (a failed
 * backup, a crossed database threshold, a rollback).
 */
export async function signalIncident(
  temporal: Client,
  options: { taskQueue: string; dedupKey: string; batch: AlertBatch; severity: SeverityPolicy },
): Promise<string> {
  const { dedupKey, batch } = options;
  const workflowId = incidentWorkflowId(dedupKey);
  const first: IncomingAlert = batch.alerts.find((alert) => alert.status === 'firing') ?? batch.alerts[0]!;
  const severity = severityOf(first.labels, options.severity);
  await temporal.workflow.signalWithStart<IncidentWorkflow, [AlertBatch]>(INCIDENT_WORKFLOW, {
    workflowId,
    taskQueue: options.taskQueue,
    args: [{ dedupKey, source: batch.source }],
    signal: alertsSignal,
    signalArgs: [batch],
    // Set at start so the Web UI lists the incident before a worker has run it.
    typedSearchAttributes: [
      { key: OpsKind, value: 'incident' },
      { key: OpsStatus, value: 'triggered' },
      { key: OpsSeverity, value: severity },
      { key: OpsService, value: alertService(first.labels) ?? 'unknown' },
    ],
    memo: { summary: `${severity.toUpperCase()} ${alertTitle(first)}` },
  });
  return workflowId;
}
