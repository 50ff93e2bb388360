import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_ERROR_TYPES } from '../src/domain/errors.js';

/**
 * The few timeout and retry profiles every workflow picks from, so retry
 * behaviour is decided once and reads the same everywhere. Error types that
 * retrying cannot fix stop the retries at once.
 */
const nonRetryableErrorTypes = [...NON_RETRYABLE_ERROR_TYPES];

/** A single request to an API or database: seconds, retried with backoff for a few minutes. */
export const quickApiCall: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 10,
    nonRetryableErrorTypes,
  },
};

/** A page, message or email: retried for longer, because a lost page is worse than a late one. */
export const notification: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 30,
    nonRetryableErrorTypes,
  },
};

/** A long job (dump, restore, rollout wait) that heartbeats its progress. */
export const longJob: ActivityOptions = {
  startToCloseTimeout: '6h',
  heartbeatTimeout: '1m',
  retry: {
    initialInterval: '10s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
    maximumAttempts: 5,
    nonRetryableErrorTypes,
  },
};

/**
 * A short call to our own database, run as a local activity: no task
 * round trip through the server, which matters when hundreds of incidents
 * move at once. Retried locally for a while, then with durable timers.
 */
export const quickLocal: LocalActivityOptions = {
  startToCloseTimeout: '15s',
  localRetryThreshold: '10s',
  retry: {
    initialInterval: '500ms',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 20,
    nonRetryableErrorTypes,
  },
};

/**
 * A page sent from a ladder as a local activity: the timer fires, the page
 * goes out and the next timer starts in one workflow task, which keeps
 * hundreds of ladders on time. Retried briefly, so a broken target fails
 * within a minute and the ladder moves on.
 */
export const pagingLocal: LocalActivityOptions = {
  startToCloseTimeout: '20s',
  localRetryThreshold: '15s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: 6,
    nonRetryableErrorTypes,
  },
};

/**
 * A call to our own database that the caller can do without for a while (a
 * page's row, the incident's record): tried briefly, so a database that is
 * down never holds up a ladder or an acknowledgement; the caller keeps what
 * it could not write and tries again on a durable timer.
 */
export const ownStoreLocal: LocalActivityOptions = {
  // Long enough for a pool that is busy in an alert storm; a refused connection fails fast anyway.
  startToCloseTimeout: '15s',
  retry: {
    initialInterval: '500ms',
    backoffCoefficient: 2,
    maximumInterval: '2s',
    maximumAttempts: 4,
    nonRetryableErrorTypes,
  },
};

/**
 * One attempt, for work a ladder does from its own flow and tries again on
 * its own durable schedule (a page being retried, the rows it owes): a
 * target or database that is still down answers at once and the ladder's
 * levels stay on time.
 */
export const onceLocal: LocalActivityOptions = {
  startToCloseTimeout: '20s',
  retry: { maximumAttempts: 1, nonRetryableErrorTypes },
};
