import { WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ErrorType } from '../domain/errors.js';
import { failureMessage, innermostFailureType, isAlreadyStarted } from '../domain/failures.js';
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

/**
 * Starts a workflow and waits for its result: one already running under that
 * ID is refused (5), a failure is its innermost message (1, or 4 when what it
 * needed does not exist).
 */
export async function runToEnd<T>(what: string, workflowId: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if (isAlreadyStarted(error)) throw new UserError(`${what} is already running (${workflowId})`, EXIT.refused);
    if (error instanceof WorkflowFailedError) throw new UserError(failureMessage(error.cause ?? error), innermostFailureType(error) === ErrorType.NotFound ? EXIT.notFound : EXIT.failure);
    throw error;
  }
}
