import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfCheckWorkflow } from '../../workflows/index.js';
import { freePort } from '../../scripts/stack/net.js';
import { connectStack, stackEnv, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Starts `workers/main.ts` as a real process, the way `npm start` and the Dockerfile do. */
function startWorkerProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

describe('the worker process', () => {
  let clients: StackClients;
  beforeAll(async () => {
    clients = await connectStack();
  });
  afterAll(async () => clients.close());

  it('serves workflows, exposes SDK metrics, and drains on SIGTERM', async () => {
    const taskQueue = uniqueTaskQueue('worker-process');
    const metricsPort = await freePort();
    const worker = startWorkerProcess({
      ...stackEnv(testStack()),
      OPS_TASK_QUEUE: taskQueue,
      OPS_WORKER_METRICS_PORT: String(metricsPort),
      OPS_WEBHOOK_TOKEN: 'a-secret-token-that-must-not-leak',
    });
    try {
      const result = await clients.client.workflow.execute(selfCheckWorkflow, {
        taskQueue,
        workflowId: `worker-process-${taskQueue}`,
        args: [{ requestedBy: 'worker-process-test' }],
        workflowExecutionTimeout: '50s',
      });
      expect(result.objectStore.bucket).toBe(testStack().s3.bucket);

      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`temporal_workflow_completed\\{[^}]*task_queue="${taskQueue}"[^}]*\\} 1`));
    } finally {
      worker.child.kill('SIGTERM');
    }
    expect(await worker.exited).toBe(0);
    const logs = worker
      .output()
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('{')) // Node's own warnings are plain text
      .map((line) => JSON.parse(line) as { msg: string });
    expect(logs.map((line) => line.msg)).toEqual(expect.arrayContaining(['worker running', 'worker stopped']));
    expect(worker.output()).not.toContain('a-secret-token-that-must-not-leak');
  });

  it('refuses to start on a bad variable with one line naming it', async () => {
    const worker = startWorkerProcess({ ...stackEnv(testStack()), OPS_WORKER_METRICS_PORT: 'nine' });
    expect(await worker.exited).toBe(2);
    expect(worker.output()).toBe('ops-worker: Invalid environment: OPS_WORKER_METRICS_PORT: expected a port number (got "nine")\n');
  });
});
