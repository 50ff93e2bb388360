import { ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';

/**
 * Reading a failure. Temporal wraps what failed (an activity's error, a
 * child's failure) in failures of its own (ActivityFailure, ChildWorkflowFailure,
 * WorkflowFailedError) whose messages are generic; the cause chain holds the
 * failure that names what went wrong. This is the one place that walks it.
 * @temporalio/common's classes are the ones the workflow sandbox and the
 * client both throw, so `instanceof` holds in workflow code and in opsctl.
 */

/** The failure and its causes, outermost first. */
export function failureChain(error: unknown): Error[] {
  const chain: Error[] = [];
  for (let current: unknown = error; current instanceof Error && !chain.includes(current); current = current.cause) chain.push(current);
  return chain;
}

/** The message that explains a failure: the innermost cause's that has one. */
export function failureMessage(error: unknown): string {
  const messages = failureChain(error)
    .map((failure) => failure.message)
    .filter(Boolean);
  return messages[messages.length - 1] ?? (error instanceof Error ? error.message : String(error));
}

/** The ApplicationFailure the failing code threw (the outermost one): its `type` and `nonRetryable` are what it decided. */
export function thrownFailure(error: unknown): ApplicationFailure | undefined {
  return failureChain(error).find((failure): failure is ApplicationFailure => failure instanceof ApplicationFailure);
}

/** The innermost failure type named in the chain (an activity's NotFound under the workflow's own failure). */
export function innermostFailureType(error: unknown): string | undefined {
  const types = failureChain(error)
    .filter((failure): failure is ApplicationFailure => failure instanceof ApplicationFailure && Boolean(failure.type))
    .map((failure) => failure.type!);
  return types[types.length - 1];
}

/** A workflow (or child) was not started because one with its ID is running. */
export function isAlreadyStarted(error: unknown): error is WorkflowExecutionAlreadyStartedError {
  return error instanceof WorkflowExecutionAlreadyStartedError;
}
