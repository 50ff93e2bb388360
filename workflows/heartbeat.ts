import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { createHeartbeatActivities } from '../activities/heartbeat.js';
import { OpsKind, OpsStatus } from '../src/domain/search-attributes.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../src/domain/errors.js';

/**
 * heartbeatWorkflow: one beat of the dead man's switch, started every minute
 * by the `ops-heartbeat` schedule when OPS_HEARTBEAT_URL is set. A beat that
 * cannot get through within the minute is dropped: the next one is the news.
 */
export interface HeartbeatInput {
  requestedBy?: string;
}

const beat = proxyActivities<ReturnType<typeof createHeartbeatActivities>>({
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '50s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
});

export async function heartbeatWorkflow(input: HeartbeatInput = {}): Promise<{ status: number; requestedBy: string }> {
  upsertSearchAttributes([
    { key: OpsKind, value: 'heartbeat' },
    { key: OpsStatus, value: 'running' },
  ]);
  const { status } = await beat.sendHeartbeat();
  upsertSearchAttributes([{ key: OpsStatus, value: 'succeeded' }]);
  return { status, requestedBy: input.requestedBy?.trim() || 'system' };
}
