import type { NativeConnection } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import type { OpsActivities } from '../activities/index.js';
import type { WorkerSizing } from './memory-budget.js';
import { PRELOAD_MODULES, WORKFLOWS_PATH } from './workflow-bundle.js';

export interface OpsWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** Every activity (the main worker), or the few a dedicated worker runs. */
  activities: OpsActivities | Partial<OpsActivities>;
  /**
   * The workflows: a prebuilt bundle (npm run build, or the test harness), else
   * bundled now; `false` for an activity-only worker (the data worker).
   */
  workflowBundlePath?: string | false | undefined;
  identity?: string;
  /** Default: the SDK's. */
  maxConcurrentActivityTaskExecutions?: number;
  /** Cache and slots from a memory budget (workers/memory-budget.ts); default: the SDK's. */
  sizing?: WorkerSizing;
}

export async function createOpsWorker(options: OpsWorkerOptions): Promise<Worker> {
  const workflowSource =
    options.workflowBundlePath === false
      ? {}
      : options.workflowBundlePath
        ? { workflowBundle: { codePath: options.workflowBundlePath } }
        : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: { preloadModules: PRELOAD_MODULES } };
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    ...workflowSource,
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.sizing
      ? {
          maxCachedWorkflows: options.sizing.maxCachedWorkflows,
          maxConcurrentWorkflowTaskExecutions: options.sizing.maxConcurrentWorkflowTaskExecutions,
          maxConcurrentLocalActivityExecutions: options.sizing.maxConcurrentLocalActivityExecutions,
          maxConcurrentActivityTaskExecutions: options.sizing.maxConcurrentActivityTaskExecutions,
        }
      : {}),
    ...(options.maxConcurrentActivityTaskExecutions ? { maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions } : {}),
    // Let in-flight activities finish on SIGTERM before the worker exits.
    shutdownGraceTime: '30s',
  });
}
