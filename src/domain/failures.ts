/**
 * The message that explains a failure: Temporal wraps an activity's error in
 * an ActivityFailure whose own message is generic ("Activity task failed"),
 * so the innermost cause's message is the one that names what went wrong.
 */
export function failureMessage(error: unknown): string {
  let current: unknown = error;
  let message = error instanceof Error ? error.message : String(error);
  while (current instanceof Error) {
    if (current.message) message = current.message;
    current = current.cause;
  }
  return message;
}
