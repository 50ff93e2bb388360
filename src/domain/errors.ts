/**
 * The one list of failure types: what an activity or a workflow fails with
 * when retrying cannot fix it. Code throws
 * `ApplicationFailure.nonRetryable(message, ErrorType.X)`; the retry profiles
 * in workflows/activity-profiles.ts name every type, so a retry never repeats
 * a request that is wrong by construction; clients (opsctl, tests, the Web UI
 * reader) tell outcomes apart by these names, which are therefore a contract.
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

  // How a workflow ends on purpose, as the type of the failure it ends with.
  /** A person aborted a rollout before it changed anything. */
  Aborted: 'Aborted',
  /** A person stopped a rollout that had changed something: aborted, or rolled back by hand. */
  Stopped: 'Stopped',
  /** A rollout's approval was rejected, or never came. */
  Rejected: 'Rejected',
  ApprovalTimedOut: 'ApprovalTimedOut',
  /** An approval by someone the policy does not allow to approve (or by the requester). */
  ApprovalRefused: 'ApprovalRefused',
  /** A rollout failed its checks and was rolled back; or, with onFailure freeze, left on the new image. */
  RolledBack: 'RolledBack',
  RolloutFrozen: 'RolloutFrozen',
  /** A rollout failed and so did its rollback: a person must look now. */
  RollbackFailed: 'RollbackFailed',
  BackupFailed: 'BackupFailed',
  RestoreDrillFailed: 'RestoreDrillFailed',
  RestoreFailed: 'RestoreFailed',
} as const;

export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

export const NON_RETRYABLE_ERROR_TYPES: readonly ErrorTypeName[] = Object.values(ErrorType);
