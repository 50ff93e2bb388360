import { proxyActivities, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { createAuditActivities } from '../activities/audit.js';
import type { createStorageActivities } from '../activities/storage.js';
import { OpsKind, OpsStatus } from '../src/domain/search-attributes.js';
import { quickApiCall } from './activity-profiles.js';

/**
 * selfCheckWorkflow proves that a worker on the `ops` queue can act on the
 * real systems behind it: it writes an object to S3 and reads it back, then
 * records the check in the audit table. Operators run it after a deploy:
 *   temporal workflow start --type selfCheckWorkflow --task-queue ops --input '{}'
 */
export interface SelfCheckInput {
  /** Who asked for the check; recorded as the audit actor. Default "system". */
  requestedBy?: string;
}

export interface SelfCheckResult {
  objectStore: { bucket: string; key: string; bytes: number; sha256: string };
  auditEventId: string;
  checkedAt: string;
}

const storage = proxyActivities<ReturnType<typeof createStorageActivities>>(quickApiCall);
const audit = proxyActivities<ReturnType<typeof createAuditActivities>>(quickApiCall);

export async function selfCheckWorkflow(input: SelfCheckInput = {}): Promise<SelfCheckResult> {
  const { workflowId, runId } = workflowInfo();
  const requestedBy = input.requestedBy?.trim() || 'system';
  upsertSearchAttributes([
    { key: OpsKind, value: 'self-check' },
    { key: OpsStatus, value: 'running' },
  ]);
  upsertMemo({ summary: `Self-check requested by ${requestedBy}` });

  // Workflow time is deterministic: it is the time of the task, stable on replay.
  const checkedAt = new Date().toISOString();
  const objectStore = await storage.verifyObjectRoundTrip({
    key: `self-check/${workflowId}/${runId}.json`,
    body: JSON.stringify({ workflowId, runId, requestedBy, checkedAt }),
    contentType: 'application/json',
  });
  const { id: auditEventId } = await audit.recordAudit({
    actor: requestedBy,
    action: 'self-check',
    target: `s3://${objectStore.bucket}/${objectStore.key}`,
    outcome: 'succeeded',
    details: { bytes: objectStore.bytes, sha256: objectStore.sha256 },
    idempotencyKey: `${workflowId}:${runId}:self-check`,
  });
  upsertSearchAttributes([{ key: OpsStatus, value: 'succeeded' }]);
  return { objectStore, auditEventId, checkedAt };
}
