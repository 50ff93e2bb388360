import { startProcess } from '../support/process.js';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { databaseBackupWorkflow, heartbeatWorkflow, selfCheckWorkflow } from '../../workflows/index.js';
import { freePort, waitFor } from '../../scripts/stack/net.js';
import { HttpRecorder } from '../support/http-recorder.js';
import { proxiedDatabase } from '../support/tcp-proxy.js';
import { connectStack, seededDatabase, stackEnv, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Starts `workers/main.ts` (or another entrypoint) as a real process, the way `npm start` and the Dockerfile do. */
function startWorkerProcess(env: Record<string, string>, entry = 'workers/main.ts') {
  return startProcess(process.execPath, ['--import', 'tsx', entry], { cwd: ROOT, env: { ...process.env, ...env } });
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

  it('starts and serves workflows while its database is down, and migrates once it answers', async () => {
    const taskQueue = uniqueTaskQueue('worker-no-db');
    const { proxy, pool } = await proxiedDatabase(testStack().databaseUrl);
    await pool.end();
    await proxy.cut();
    const receiver = new HttpRecorder(() => ({ status: 200 }));
    await receiver.start('/beat');
    const databaseUrl = new URL(testStack().databaseUrl);
    databaseUrl.host = proxy.address;
    const worker = startWorkerProcess({ ...stackEnv(testStack()), DATABASE_URL: databaseUrl.toString(), OPS_TASK_QUEUE: taskQueue, OPS_WORKER_METRICS_PORT: '0', OPS_HEARTBEAT_URL: receiver.url });
    try {
      // A workflow that needs no database runs: the worker did not wait for it.
      const result = await clients.client.workflow.execute(heartbeatWorkflow, { taskQueue, workflowId: `heartbeat-${taskQueue.slice(-8)}`, args: [{ requestedBy: 'test' }], workflowExecutionTimeout: '50s' });
      expect(result.status).toBe(200);
      expect(receiver.requests).toHaveLength(1);
      expect(worker.output()).toContain('database migration failed: starting without it, retrying every 10s');
      await proxy.restore();
      await waitFor('the migration to be retried', async () => worker.output().includes('database migration: done now that it answers'), 20_000);
    } finally {
      worker.child.kill('SIGTERM');
      await receiver.stop();
      await proxy.cut();
    }
    expect(await worker.exited).toBe(0);
  });

  it('refuses to start on a bad variable with one line naming it', async () => {
    const worker = startWorkerProcess({ ...stackEnv(testStack()), OPS_WORKER_METRICS_PORT: 'nine' });
    expect(await worker.exited).toBe(2);
    expect(worker.output()).toBe('ops-worker: Invalid environment: OPS_WORKER_METRICS_PORT: expected a port number (got "nine")\n');
  });

  it("sends a backup's dump and restore to a data worker on its own queue when OPS_DATA_TASK_QUEUE is set", async () => {
    const taskQueue = uniqueTaskQueue('main');
    const dataTaskQueue = uniqueTaskQueue('data');
    const database = `data-${taskQueue.slice(-6)}`;
    const url = await seededDatabase(`ops_data_${taskQueue.slice(-6).replace(/-/g, '_')}`, 'CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 500)');
    const policy = join(mkdtempSync(join(tmpdir(), 'ops-data-worker-')), 'policy.yaml');
    writeFileSync(policy, `databases:\n  ${database}: { url: "${url}" }\n`);
    const dataWorker = startWorkerProcess({ ...stackEnv(testStack()), OPS_CONFIG: policy, OPS_DATA_TASK_QUEUE: dataTaskQueue, OPS_WORKER_METRICS_PORT: '0' }, 'workers/data-worker.ts');
    const main = await startBackgroundWorker(
      taskQueue,
      createActivities(clients.activityDeps({ taskQueue, dataTaskQueue, policy: parsePolicy({ databases: { [database]: { url } } }, 'test'), databaseUrl: (name) => (name === database ? url : undefined) })),
    );
    try {
      const result = await clients.client.workflow.execute(databaseBackupWorkflow, { taskQueue, workflowId: `backup-${database}`, args: [{ database, requestedBy: 'test' }] });
      expect(result.verification).toMatchObject({ rows: 500 });
      const history = await clients.client.workflow.getHandle(`backup-${database}`).fetchHistory();
      const scheduled = history.events!.filter((event) => event.activityTaskScheduledEventAttributes).map((event) => [event.activityTaskScheduledEventAttributes!.activityType!.name, event.activityTaskScheduledEventAttributes!.taskQueue!.name]);
      expect(scheduled).toEqual(
        expect.arrayContaining([
          ['dumpToS3', dataTaskQueue],
          ['verifyBackup', dataTaskQueue],
          ['applyRetention', taskQueue],
        ]),
      );
    } finally {
      await main.stop();
      dataWorker.child.kill('SIGTERM');
    }
    expect(await dataWorker.exited).toBe(0);
    expect(dataWorker.output()).toContain('data worker polling');
  });

  it('a data worker without its queue refuses to start, naming the variable', async () => {
    const worker = startWorkerProcess({ ...stackEnv(testStack()) }, 'workers/data-worker.ts');
    expect(await worker.exited).toBe(2);
    expect(worker.output()).toBe('ops-data-worker: OPS_DATA_TASK_QUEUE: set it (and the same on the main worker) to run a data worker\n');
  });
});
