import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { heartbeatWorkflow } from '../../workflows/heartbeat.js';
import { HttpRecorder } from '../support/http-recorder.js';
import { connectStack, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * The dead man's switch: heartbeatWorkflow, as the ops-heartbeat schedule
 * starts it every minute, calls OPS_HEARTBEAT_URL through a real worker; the
 * URL's token never reaches the workflow's history.
 */
describe('heartbeat', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  const receiver = new HttpRecorder(() => ({ status: 200, body: { ok: true } }));
  const taskQueue = uniqueTaskQueue('heartbeat');

  beforeAll(async () => {
    clients = await connectStack();
    await receiver.start('/ping/0b9c2a4e-secret-check-uuid');
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ heartbeatUrl: receiver.url })));
  });

  afterAll(async () => {
    await worker.stop();
    await receiver.stop();
    await clients.close();
  });

  it('calls the heartbeat URL once per run, and keeps its token out of the history', async () => {
    const handle = await clients.client.workflow.start(heartbeatWorkflow, { taskQueue, workflowId: `heartbeat-${taskQueue.slice(-8)}`, args: [{ requestedBy: 'schedule' }] });
    expect(await handle.result()).toEqual({ status: 200, requestedBy: 'schedule' });
    expect(receiver.requests.map((request) => [request.path, request.headers['user-agent']])).toEqual([['/ping/0b9c2a4e-secret-check-uuid', 'ops-automation-heartbeat']]);
    const history = JSON.stringify(await handle.fetchHistory());
    expect(history).not.toContain('0b9c2a4e-secret-check-uuid');
  });
});
