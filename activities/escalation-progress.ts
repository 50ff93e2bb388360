import { isGrpcServiceError, type Client } from '@temporalio/client';
import { encodeToPayloads } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { bindDeps } from './bind-deps.js';
import { escalationProgressSignal, type EscalationProgress } from '../workflows/escalation-signals.js';

/** gRPC's NOT_FOUND: the incident has closed. */
const NOT_FOUND = 5;

export interface EscalationProgressDeps {
  temporal: Client;
}

/**
 * How a ladder tells its incident what it did, from a local activity rather
 * than a workflow's signal command: the command's answer came back to the
 * ladder as a workflow task of its own, one more per level for each of
 * hundreds of ladders firing together. The request ID makes the signal
 * exactly-once: Temporal drops a second signal with the same ID, so a local
 * activity run again (a retry, a worker that died before its task completed)
 * tells the incident nothing twice. Answers whether the incident heard it
 * (not when it no longer runs: it has nothing left to hear) and when, by this
 * worker's clock: the ladder times its next level from then, not from the
 * start of a workflow task whose pages took a while.
 */
export async function reportEscalationProgress(
  { temporal }: EscalationProgressDeps,
  input: { incidentWorkflowId: string; requestId: string; progress: EscalationProgress },
): Promise<{ heard: boolean; atMs: number }> {
  try {
    await temporal.workflowService.signalWorkflowExecution({
      namespace: temporal.options.namespace,
      workflowExecution: { workflowId: input.incidentWorkflowId },
      signalName: escalationProgressSignal.name,
      input: { payloads: await encodeToPayloads(temporal.options.loadedDataConverter, input.progress) },
      identity: temporal.options.identity,
      requestId: input.requestId,
    });
    return { heard: true, atMs: Date.now() };
  } catch (error) {
    if (isGrpcServiceError(error) && error.code === NOT_FOUND) return { heard: false, atMs: Date.now() };
    throw error;
  }
}

export function createEscalationProgressActivities(deps: EscalationProgressDeps) {
  return bindDeps(deps, { reportEscalationProgress });
}
