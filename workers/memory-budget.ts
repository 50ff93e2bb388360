import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

/**
 * The worker's size from a memory budget instead of the SDK's defaults, which
 * follow the V8 heap limit (a quarter of the machine's memory, up to 4 GiB) and
 * cache about 2,300 workflows on a large host: fine for RAM, not for a pod's
 * limit. The budget is OPS_WORKER_MEMORY_MB, else the cgroup's memory limit
 * (a container's), else none (the SDK's defaults).
 *
 * What a budget buys, measured with npm run bench:escalation (1,000 open
 * workflows, compiled worker, WORKER_V8_FLAGS, MALLOC_ARENA_MAX=2): an idle
 * worker takes about BASE_MB; each cached workflow about PER_WORKFLOW_MB more
 * (its state in the workflow thread's V8 heap, the SDK's bookkeeping in the
 * main thread's, and Core's state machines). A cache smaller than the
 * workflows that wake together makes every wake-up a full replay: with 385
 * cached of 1,000 the benchmark's pages came more than 10 s late, so the
 * budget must hold the working set; the cache is sized to the budget, not below it. The V8 heap limit
 * is a command-line flag (`--max-old-space-size`, see heapFlag), since V8
 * ignores it once started; the worker warns when it was started without one
 * that fits.
 */
export const BASE_MB = 200;
export const PER_WORKFLOW_MB = 0.3;
/** What the budget keeps free for garbage not yet collected, buffers and native allocations. */
const HEADROOM = 0.25;

export interface WorkerSizing {
  budgetMb: number;
  source: 'OPS_WORKER_MEMORY_MB' | 'cgroup';
  maxCachedWorkflows: number;
  maxConcurrentWorkflowTaskExecutions: number;
  maxConcurrentLocalActivityExecutions: number;
  maxConcurrentActivityTaskExecutions: number;
  /** The V8 old-space limit that fits the budget, in MB. */
  heapMb: number;
}

/** The container's memory limit in MB (cgroup v2, then v1); undefined outside one. */
export function cgroupLimitMb(read: (path: string) => string = (path) => readFileSync(path, 'utf8')): number | undefined {
  for (const path of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    let text: string;
    try {
      text = read(path).trim();
    } catch {
      continue;
    }
    const bytes = Number(text);
    // "max", or v1's "no limit" (a page-rounded 2^63), is no limit.
    if (!Number.isFinite(bytes) || bytes <= 0 || bytes >= 2 ** 60) return undefined;
    return Math.floor(bytes / 1024 / 1024);
  }
  return undefined;
}

/** The sizing for a budget; undefined when there is none (the SDK's defaults stand). */
export function workerSizing(configuredMb: number | undefined, cgroupMb = cgroupLimitMb()): WorkerSizing | undefined {
  const budgetMb = configuredMb ?? cgroupMb;
  if (budgetMb === undefined) return undefined;
  const source = configuredMb !== undefined ? 'OPS_WORKER_MEMORY_MB' : 'cgroup';
  const forWorkflows = Math.max(0, budgetMb * (1 - HEADROOM) - BASE_MB);
  const maxCachedWorkflows = Math.max(20, Math.floor(forWorkflows / PER_WORKFLOW_MB));
  return {
    budgetMb,
    source,
    maxCachedWorkflows,
    // Tasks in flight hold their workflow's history and activation besides the cached state.
    maxConcurrentWorkflowTaskExecutions: Math.min(40, Math.max(2, Math.floor(maxCachedWorkflows / 10))),
    maxConcurrentLocalActivityExecutions: Math.min(100, Math.max(10, Math.floor(budgetMb / 8))),
    maxConcurrentActivityTaskExecutions: Math.min(100, Math.max(10, Math.floor(budgetMb / 8))),
    // The limit of each of the two heaps (main and workflow thread); each held under 80 MB live at 1,000 cached workflows.
    heapMb: Math.max(160, Math.floor(budgetMb * 0.3)),
  };
}

/**
 * The V8 flags every command that starts the main worker passes (the
 * Dockerfile, docker-compose, the Helm chart, `npm run start:worker`,
 * `npm start`, the benchmarks). The worker holds two V8 heaps, the main
 * thread's and the workflow thread's, and most of what they allocate while
 * paging dies young. Measured at 1,000 open workflows (500 ladders of
 * npm run bench:escalation, AMD EPYC, 2 cores): live heap about 65 MB in
 * each. 16 MB semi-spaces (V8's own size, said here so no command differs)
 * cost RSS but save the scavenges: with 4 MB ones the same run took 59.6 s
 * of worker CPU and paged 2.1 s late at p99, with 16 MB ones 48.8-59.7 s and
 * 0.4-1.4 s, at a peak RSS of 533-569 MiB (498 MiB with 4 MB). Paging is
 * CPU-bound on such a machine, and the memory target holds either way.
 * `--heap-growing-percent=100` lets a heap double between full
 * collections: a dump streaming through an all-in-one worker otherwise
 * collects every half second (README, backups). Growing by 30% instead cut
 * the paging peak to 438 MiB but cost about 10% more worker CPU in full
 * collections.
 */
export const WORKER_V8_FLAGS = ['--max-semi-space-size=16', '--heap-growing-percent=100'] as const;

/** The node flag that sets the heap for a budget (for the command that starts the worker). */
export function heapFlag(budgetMb: number): string {
  return `--max-old-space-size=${workerSizing(budgetMb)!.heapMb}`;
}

/** The heap limit this process runs with, in MB. */
export function heapLimitMb(): number {
  return Math.round(getHeapStatistics().heap_size_limit / 1024 / 1024);
}
