import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type BundleOptions } from '@temporalio/worker';

/** The path of the workflows' entry module. */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/**
 * How the workflows are bundled, in every place that bundles them (npm run
 * build, the worker when it starts without a build, the test and benchmark
 * stacks), so what is measured and tested is what runs.
 *
 * The workflow modules are preloaded: evaluated once into the worker's shared
 * V8 context instead of once per workflow. Without it every workflow the
 * worker creates (a new one, or an evicted one replayed) evaluates all 58
 * modules of the bundle again: about 100 KiB of heap and 1.3 ms of CPU each,
 * measured by loading the bundle in a context as the SDK does. That is safe
 * because no module of workflows/ or src/domain/ holds per-workflow state at
 * module scope (only constants, activity proxies and memo caches of pure
 * functions); the SDK deep-freezes preloaded modules' exports, so a workflow
 * that mutated one would fail loudly rather than leak into another.
 */
export const PRELOAD_MODULES = [WORKFLOWS_PATH];

export async function bundleWorkflows(logger?: BundleOptions['logger']): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, preloadModules: PRELOAD_MODULES, ...(logger ? { logger } : {}) });
  return code;
}
