import { execFileSync } from 'node:child_process';
import { startProcess } from '../support/process.js';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfCheckWorkflow } from '../../workflows/index.js';
import { connectStack, stackEnv, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * What the Dockerfile runs: the compiled worker with the prebuilt workflow
 * bundle next to it. It must serve workflows without bundling at start.
 */
describe('the production build', () => {
  let clients: StackClients;
  let outDir: string;
  beforeAll(async () => {
    clients = await connectStack();
    outDir = join(testStack().runDir, 'dist');
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', outDir], { cwd: ROOT });
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-workflow-bundle.ts', join(outDir, 'workflow-bundle.js')], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  });
  afterAll(async () => {
    await clients.close();
    rmSync(outDir, { recursive: true, force: true });
  });

  it('starts the compiled worker with the prebuilt bundle and serves workflows', async () => {
    expect(existsSync(join(outDir, 'workers/main.js'))).toBe(true);
    const taskQueue = uniqueTaskQueue('production-build');
    const { child, exited, output } = startProcess(process.execPath, [join(outDir, 'workers/main.js')], {
      cwd: ROOT,
      env: { ...process.env, ...stackEnv(testStack()), OPS_TASK_QUEUE: taskQueue, OPS_WORKER_METRICS_PORT: '0' },
    });
    try {
      const result = await clients.client.workflow.execute(selfCheckWorkflow, {
        taskQueue,
        workflowId: `production-build-${taskQueue}`,
        args: [{}],
        workflowExecutionTimeout: '40s',
      });
      expect(result.objectStore.key).toContain('self-check/');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(output()).toContain('worker running');
    // Bundling at start would have logged webpack's output.
    expect(output()).not.toContain('Workflow bundle created');
  });
});
