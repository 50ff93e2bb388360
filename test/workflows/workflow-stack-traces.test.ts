import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { alert, batch, deliver, statusWhen } from '../support/incidents.js';
import { connectStack, uniqueTaskQueue, withWorker, type StackClients } from '../support/stack.js';

/**
 * The Web UI's "Stack Trace" tab asks a workflow's worker for the stack
 * trace query. Our worker answers it only when OPS_WORKFLOW_STACK_TRACES=on
 * (patches/: the SDK's promise hook behind it took a fifth of a busy
 * worker's CPU); without it the query says why it has no answer.
 */
describe('the stack trace query', () => {
  let clients: StackClients;
  const before = process.env.OPS_WORKFLOW_STACK_TRACES;

  beforeAll(async () => {
    clients = await connectStack();
  });
  afterAll(async () => {
    if (before === undefined) delete process.env.OPS_WORKFLOW_STACK_TRACES;
    else process.env.OPS_WORKFLOW_STACK_TRACES = before;
    await clients?.close();
  });

  /** Opens an incident on a worker of its own (its workflow threads read the setting when they start); returns the query's answer or its error. */
  async function stackTraceOfAnIncident(): Promise<string> {
    const taskQueue = uniqueTaskQueue('stack-trace');
    return withWorker(clients, taskQueue, async () => {
      const handle = await deliver(clients.client, taskQueue, `stack-${randomUUID().slice(0, 8)}`, batch([alert('fp1', 'firing', { service: 'api', severity: 'warning' })]));
      await statusWhen(handle, (status) => status.alerts.length === 1);
      try {
        return await handle.query<string>('__stack_trace');
      } catch (error) {
        return `error: ${(error as Error).message}`;
      } finally {
        await handle.terminate('test over');
      }
    });
  }

  it('is refused with the reason by default, and answered with the workflow stack when OPS_WORKFLOW_STACK_TRACES=on', async () => {
    delete process.env.OPS_WORKFLOW_STACK_TRACES;
    expect(await stackTraceOfAnIncident()).toMatch(/^error: .*stack traces are not enabled on this worker/);

    process.env.OPS_WORKFLOW_STACK_TRACES = 'on';
    const stack = await stackTraceOfAnIncident();
    // Where the incident waits, in our source (source-mapped), not in the bundle.
    expect(stack).toMatch(/^\s+at \S+ \(.*workflows\/incident\.ts:\d+:\d+\)/m);
  });
});
