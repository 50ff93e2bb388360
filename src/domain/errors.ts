/**
 * The one list of failure types that retrying cannot fix. Activities throw
 * `ApplicationFailure.nonRetryable(message, type)` with one of these types, and
 * the retry profiles in workflows/activity-profiles.ts name them, so a retry
 * never repeats a request that is wrong by construction.
 */
export const ErrorType = {
  /** Input that is malformed or violates a rule; fix the input, not the system. */
  InvalidInput: 'InvalidInput',
  /** A named thing (database, deployment, object, policy) does not exist. */
  NotFound: 'NotFound',
  /** The system is in a state that forbids the action (already running, already resolved). */
  Conflict: 'Conflict',
  /** Credentials were refused; retrying with the same ones cannot succeed. */
  Unauthorized: 'Unauthorized',
  /** Data read back does not match what was written or promised (checksum, row counts). */
  IntegrityCheckFailed: 'IntegrityCheckFailed',
  /** A remote API answered with a client error that is final (4xx other than 408/429). */
  RemoteRejected: 'RemoteRejected',
  /** A change did not take: a rollout past its progress deadline, pods that never became ready. */
  RolloutFailed: 'RolloutFailed',
} as const;

export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

export const NON_RETRYABLE_ERROR_TYPES: readonly ErrorTypeName[] = Object.values(ErrorType);
