import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../src/domain/errors.js';

/**
 * The dead man's switch: a request to OPS_HEARTBEAT_URL (healthchecks.io,
 * Dead Man's Snitch, a PagerDuty heartbeat, ...) every minute from a Temporal
 * Schedule. It gets through only while Temporal, a worker and the network all
 * work, so its absence is noticed outside ops-automation. The URL carries a
 * token: it is read from the environment, never passed through a history.
 */
export interface HeartbeatDeps {
  heartbeatUrl?: string | undefined;
}

export function createHeartbeatActivities(deps: HeartbeatDeps) {
  return {
    async sendHeartbeat(): Promise<{ status: number }> {
      if (!deps.heartbeatUrl) throw ApplicationFailure.nonRetryable('no heartbeat URL is configured (set OPS_HEARTBEAT_URL)', ErrorType.InvalidInput);
      const response = await fetch(deps.heartbeatUrl, { method: 'GET', headers: { 'user-agent': 'ops-automation-heartbeat' }, signal: AbortSignal.timeout(10_000) });
      await response.body?.cancel();
      const host = new URL(deps.heartbeatUrl).host;
      if (response.status >= 500 || response.status === 429 || response.status === 408) {
        throw ApplicationFailure.create({ message: `heartbeat to ${host} answered ${response.status}`, type: 'RemoteUnavailable' });
      }
      if (!response.ok) throw ApplicationFailure.nonRetryable(`heartbeat to ${host} was refused (${response.status})`, ErrorType.RemoteRejected);
      return { status: response.status };
    },
  };
}
