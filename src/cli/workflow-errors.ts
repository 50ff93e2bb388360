import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { EXIT, UserError } from './output.js';

/**
 * Runs a query or update on a workflow, turning "no such workflow" and an
 * update's refusal into one clear line with the exit codes 4 and 5.
 */
export async function onWorkflow<T>(handle: WorkflowHandle, notFound: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new UserError(notFound, EXIT.notFound);
    if (error instanceof WorkflowUpdateFailedError) throw new UserError(`${handle.workflowId}: ${error.cause?.message ?? error.message}`, EXIT.refused);
    throw error;
  }
}
