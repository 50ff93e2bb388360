import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAuditEvent } from '../../src/db/audit.js';
import { OpsKind, OpsStatus } from '../../src/domain/search-attributes.js';
import { selfCheckWorkflow } from '../../workflows/index.js';
import { connectStack, uniqueTaskQueue, withWorker, type StackClients } from '../support/stack.js';

describe('selfCheckWorkflow on the real stack', () => {
  let clients: StackClients;
  beforeAll(async () => {
    clients = await connectStack();
  });
  afterAll(async () => clients.close());

  it('writes an object to S3, reads it back, and leaves one audit row', async () => {
    const taskQueue = uniqueTaskQueue('self-check');
    const workflowId = `self-check-${taskQueue}`;
    const result = await withWorker(clients, taskQueue, () =>
      clients.client.workflow.execute(selfCheckWorkflow, {
        taskQueue,
        workflowId,
        args: [{ requestedBy: 'alice' }],
      }),
    );

    const object = await clients.s3.send(
      new GetObjectCommand({ Bucket: clients.stack.s3.bucket, Key: result.objectStore.key }),
    );
    const body = JSON.parse(await object.Body!.transformToString()) as Record<string, unknown>;
    expect(body).toMatchObject({ workflowId, requestedBy: 'alice' });
    expect(object.Metadata?.sha256).toBe(result.objectStore.sha256);

    const { rows } = await clients.pool.query(
      'SELECT actor, action, target, outcome, workflow_id, details FROM audit_events WHERE workflow_id = $1',
      [workflowId],
    );
    expect(rows).toEqual([
      {
        actor: 'alice',
        action: 'self-check',
        target: `s3://${clients.stack.s3.bucket}/${result.objectStore.key}`,
        outcome: 'succeeded',
        workflow_id: workflowId,
        details: { bytes: result.objectStore.bytes, sha256: result.objectStore.sha256 },
      },
    ]);
    expect(rows[0] && String(result.auditEventId)).toBeTruthy();

    const description = await clients.client.workflow.getHandle(workflowId).describe();
    expect(description.typedSearchAttributes.get(OpsKind)).toBe('self-check');
    expect(description.typedSearchAttributes.get(OpsStatus)).toBe('succeeded');
  });

  it('writes an audit row once per idempotency key, however often it is retried', async () => {
    const event = {
      actor: 'system',
      action: 'test.retry',
      target: 'test/target',
      outcome: 'succeeded' as const,
      details: { attempt: 1, slackToken: 'xoxb-secret-value' },
      idempotencyKey: `retry-${Date.now()}`,
    };
    const first = await writeAuditEvent(clients.pool, event);
    const second = await writeAuditEvent(clients.pool, { ...event, details: { attempt: 2 } });
    expect(first.inserted).toBe(true);
    expect(second).toEqual({ id: first.id, inserted: false });
    const { rows } = await clients.pool.query('SELECT details FROM audit_events WHERE idempotency_key = $1', [
      event.idempotencyKey,
    ]);
    expect(rows).toEqual([{ details: { attempt: 1, slackToken: '[redacted]' } }]);
  });
});
