import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEscalationProgressActivities } from '../../activities/escalation-progress.js';
import type { EscalationProgress } from '../../src/domain/escalation.js';
import { INCIDENT_WORKFLOW } from '../../workflows/incident-contract.js';
import { connectStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

const { EventType } = proto.temporal.api.enums.v1;

/**
 * What a ladder tells its incident goes out from a local activity, which
 * runs again when a worker dies before its task completes: the incident
 * must hear each report once. Against the real server, on an incident no
 * worker runs, whose history shows every signal it was sent.
 */
describe('escalation progress from a local activity', () => {
  let clients: StackClients;

  beforeAll(async () => {
    clients = await connectStack();
  });
  afterAll(async () => {
    await clients?.close();
  });

  it('signals the incident once per request ID however often it runs, and tells when the incident has closed', async () => {
    const taskQueue = uniqueTaskQueue('progress');
    const incidentWorkflowId = `incident-${taskQueue}`;
    const handle = await clients.client.workflow.start(INCIDENT_WORKFLOW, { taskQueue, workflowId: incidentWorkflowId, args: [{ dedupKey: taskQueue, source: 'alertmanager' }] });
    const { reportEscalationProgress } = createEscalationProgressActivities({ temporal: clients.client });
    const ladder = `${incidentWorkflowId}/escalation-1`;
    const exhausted: EscalationProgress = { kind: 'exhausted', workflowId: ladder, at: '2026-12-07T10:00:00.000Z' };
    const finished: EscalationProgress = { kind: 'finished', workflowId: ladder, at: '2026-12-07T10:05:00.000Z', outcome: 'resolved' };

    const first = { incidentWorkflowId, requestId: `${ladder}/run-1/progress-1`, progress: exhausted };
    const sentFrom = Date.now();
    const answer = await reportEscalationProgress(first);
    expect(answer.heard).toBe(true);
    // When it was heard, by the worker's clock: the ladder times its next level from it.
    expect(answer.atMs).toBeGreaterThanOrEqual(sentFrom);
    expect(answer.atMs).toBeLessThanOrEqual(Date.now());
    // The same report again, as after a worker crash: the server keeps the first.
    expect((await reportEscalationProgress(first)).heard).toBe(true);
    expect((await reportEscalationProgress({ incidentWorkflowId, requestId: `${ladder}/run-1/progress-2`, progress: finished })).heard).toBe(true);

    const { events } = await handle.fetchHistory();
    const heard = (events ?? [])
      .filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
      .map((event) => ({
        name: event.workflowExecutionSignaledEventAttributes?.signalName,
        progress: defaultPayloadConverter.fromPayload(event.workflowExecutionSignaledEventAttributes!.input!.payloads![0]!),
      }));
    expect(heard).toEqual([
      { name: 'escalationProgress', progress: exhausted },
      { name: 'escalationProgress', progress: finished },
    ]);

    await handle.terminate('test over');
    expect((await reportEscalationProgress({ incidentWorkflowId, requestId: `${ladder}/run-1/progress-3`, progress: finished })).heard).toBe(false);
  });
});
