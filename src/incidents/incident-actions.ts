import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { failureMessage } from '../domain/failures.js';
import { incidentWorkflowId } from '../domain/workflow-ids.js';
import { eventIncidentKey } from '../webhooks/dedup.js';
import { acknowledgeUpdate, escalateUpdate, resolveUpdate } from '../../workflows/incident-contract.js';
import { approveUpdate, rejectUpdate } from '../../workflows/security-rollout-contract.js';

/**
 * What a person does to an incident or a rollout from where the page landed
 * (Slack, PagerDuty, an email link): the workflow's own updates, so its
 * validators decide exactly as they do for opsctl and the temporal CLI.
 * The answer is a sentence for that person, never a stack trace.
 */
export type IncidentAction = 'acknowledge' | 'resolve' | 'escalate';
export type RolloutAction = 'approve' | 'reject';

export interface ActionResult {
  ok: boolean;
  message: string;
  workflowId?: string;
}

/**
 * The incident a person means: its workflow ID (`incident-ev-disk-db-1`), its
 * dedup key (`ev-disk-db-1`), or the dedup_key an event was sent with
 * (`disk-db-1`). With `running`, only a running one; else the newest of any.
 */
export async function findIncident(temporal: Client, reference: string, options: { running: boolean }): Promise<string | undefined> {
  const ref = reference.trim();
  const candidates = ref.startsWith('incident-') ? [ref] : [incidentWorkflowId(ref), incidentWorkflowId(eventIncidentKey(ref))];
  for (const workflowId of candidates) {
    try {
      const description = await temporal.workflow.getHandle(workflowId).describe();
      if (!options.running || description.status.name === 'RUNNING') return workflowId;
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
  return undefined;
}

export const findRunningIncident = (temporal: Client, reference: string) => findIncident(temporal, reference, { running: true });

async function update(run: () => Promise<unknown>, done: string, workflowId: string): Promise<ActionResult> {
  try {
    await run();
    return { ok: true, message: done, workflowId };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return { ok: false, message: `${workflowId} is not running`, workflowId };
    if (error instanceof WorkflowUpdateFailedError) return { ok: false, message: `${workflowId}: ${failureMessage(error.cause ?? error)}`, workflowId };
    throw error;
  }
}

/**
 * `firstExecutionRunId` pins the incident to the run chain a page was sent
 * for: an old PagerDuty incident never acknowledges a newer incident that
 * happens to have the same workflow ID.
 */
export async function actOnIncident(
  temporal: Client,
  input: { reference: string; action: IncidentAction; by: string; note?: string; firstExecutionRunId?: string },
): Promise<ActionResult> {
  const workflowId = input.firstExecutionRunId ? input.reference : await findRunningIncident(temporal, input.reference);
  if (!workflowId) return { ok: false, message: `no open incident "${input.reference}"` };
  const handle = input.firstExecutionRunId
    ? temporal.workflow.getHandle(workflowId, undefined, { firstExecutionRunId: input.firstExecutionRunId })
    : temporal.workflow.getHandle(workflowId);
  switch (input.action) {
    case 'acknowledge':
      return update(() => handle.executeUpdate(acknowledgeUpdate, { args: [{ by: input.by }] }), `${workflowId} acknowledged by ${input.by}`, workflowId);
    case 'resolve':
      return update(
        () => handle.executeUpdate(resolveUpdate, { args: [{ by: input.by, ...(input.note ? { note: input.note } : {}) }] }),
        `${workflowId} resolved by ${input.by}`,
        workflowId,
      );
    case 'escalate':
      return update(() => handle.executeUpdate(escalateUpdate, { args: [{ by: input.by }] }), `${workflowId} escalated to the next level by ${input.by}`, workflowId);
  }
}

export async function actOnRollout(temporal: Client, input: { workflowId: string; action: RolloutAction; by: string; reason?: string }): Promise<ActionResult> {
  const handle = temporal.workflow.getHandle(input.workflowId);
  return input.action === 'approve'
    ? update(() => handle.executeUpdate(approveUpdate, { args: [{ by: input.by }] }), `${input.workflowId} approved by ${input.by}`, input.workflowId)
    : update(
        () => handle.executeUpdate(rejectUpdate, { args: [{ by: input.by, ...(input.reason ? { reason: input.reason } : {}) }] }),
        `${input.workflowId} rejected by ${input.by}`,
        input.workflowId,
      );
}
