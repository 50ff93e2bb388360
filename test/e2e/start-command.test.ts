import { startProcess } from '../support/process.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfCheckWorkflow } from '../../workflows/index.js';
import { freePort, isPortOpen } from '../../scripts/stack/net.js';
import { Client, Connection } from '@temporalio/client';
import { connectStack, testStack, type StackClients } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * `npm start`'s supervisor, run for real on free ports beside the test stack:
 * it provisions a Temporal dev server (with the Web UI) and a MinIO of its own,
 * uses the configured PostgreSQL, starts the worker and the webhook server,
 * prints where each part is, and stops everything it started on SIGTERM.
 */
describe('npm start', () => {
  let clients: StackClients;
  beforeAll(async () => {
    clients = await connectStack();
  });
  afterAll(async () => clients.close());

  it('brings up the stack, serves a workflow, and stops everything on SIGTERM', async () => {
    const stack = testStack();
    const ports = {
      temporal: await freePort(),
      ui: await freePort(),
      minio: await freePort(),
      minioConsole: await freePort(),
      webhooks: await freePort(),
      metrics: await freePort(),
    };
    const { child, exited, output } = startProcess(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        OPS_STATE_DIR: join(stack.runDir, 'npm-start'),
        OPS_TEMPORAL_PORT: String(ports.temporal),
        OPS_TEMPORAL_UI_PORT: String(ports.ui),
        OPS_MINIO_PORT: String(ports.minio),
        OPS_MINIO_CONSOLE_PORT: String(ports.minioConsole),
        OPS_WEBHOOK_PORT: String(ports.webhooks),
        OPS_WORKER_METRICS_PORT: String(ports.metrics),
        DATABASE_URL: stack.databaseUrl,
        TEMPORAL_ADDRESS: '',
        S3_ENDPOINT: '',
      },
    });

    try {
      await expect.poll(output, { timeout: 90_000, interval: 250 }).toContain('ops-automation is up');
      expect(output()).toMatch(new RegExp(`Temporal +localhost:${ports.temporal} \\(dev server`));
      expect(output()).toMatch(new RegExp(`Web UI +http://localhost:${ports.ui}`));
      expect(output()).toMatch(/Database +postgres:\/\/postgres@127\.0\.0\.1:\d+\/ops_test_\w+ \(configured\)/);
      expect(output()).toMatch(new RegExp(`S3 +http://127\\.0\\.0\\.1:${ports.minio} bucket ops-automation \\(MinIO`));
      expect(output()).toMatch(/Worker +task queue ops/);
      expect(output()).toMatch(new RegExp(`Webhooks +http://localhost:${ports.webhooks}`));

      // The Web UI answers, the webhook server is ready, and the worker serves the `ops` queue.
      expect((await fetch(`http://localhost:${ports.ui}/`)).status).toBe(200);
      expect((await fetch(`http://localhost:${ports.webhooks}/readyz`)).status).toBe(200);
      const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
      try {
        const result = await new Client({ connection }).workflow.execute(selfCheckWorkflow, {
          taskQueue: 'ops',
          workflowId: 'npm-start-self-check',
          args: [{ requestedBy: 'npm-start-test' }],
          workflowExecutionTimeout: '40s',
        });
        expect(result.objectStore.bucket).toBe('ops-automation');
      } finally {
        await connection.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    for (const part of ['webhooks', 'worker', 'minio', 'temporal']) expect(output()).toContain(`stopped ${part}`);
    for (const port of Object.values(ports)) expect(await isPortOpen('127.0.0.1', port)).toBe(false);

    // The audit row of that self-check landed in the configured database.
    const { rowCount } = await clients.pool.query(`SELECT 1 FROM audit_events WHERE workflow_id = 'npm-start-self-check'`);
    expect(rowCount).toBe(1);
  });
});
