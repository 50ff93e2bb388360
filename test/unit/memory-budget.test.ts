import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env.js';
import { cgroupLimitMb, heapFlag, WORKER_V8_FLAGS, workerSizing } from '../../workers/memory-budget.js';

describe('worker memory budget', () => {
  const files = (entries: Record<string, string>) => (path: string) => {
    if (!(path in entries)) throw new Error(`ENOENT: ${path}`);
    return entries[path]!;
  };

  it("reads a container's limit from cgroup v2 or v1, and no limit as none", () => {
    expect(cgroupLimitMb(files({ '/sys/fs/cgroup/memory.max': '1073741824\n' }))).toBe(1024);
    expect(cgroupLimitMb(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '536870912\n' }))).toBe(512);
    expect(cgroupLimitMb(files({ '/sys/fs/cgroup/memory.max': 'max\n' }))).toBeUndefined();
    expect(cgroupLimitMb(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n' }))).toBeUndefined();
    expect(cgroupLimitMb(files({}))).toBeUndefined();
  });

  it('sizes the cache, the slots and the heap from the budget, the variable before the cgroup', () => {
    expect(workerSizing(undefined, undefined)).toBeUndefined();
    const small = workerSizing(512)!;
    const large = workerSizing(undefined, 4096)!;
    expect(small.source).toBe('OPS_WORKER_MEMORY_MB');
    expect(large.source).toBe('cgroup');
    expect(workerSizing(512, 4096)!.budgetMb).toBe(512);
    // A bigger budget caches more, never fewer than 20, and keeps slots within the cache.
    expect(large.maxCachedWorkflows).toBeGreaterThan(small.maxCachedWorkflows);
    expect(workerSizing(256)!.maxCachedWorkflows).toBeGreaterThanOrEqual(20);
    for (const sizing of [small, large, workerSizing(256)!]) {
      expect(sizing.maxConcurrentWorkflowTaskExecutions).toBeLessThanOrEqual(sizing.maxCachedWorkflows);
      expect(sizing.heapMb).toBeLessThan(sizing.budgetMb);
    }
    expect(heapFlag(512)).toBe(`--max-old-space-size=${small.heapMb}`);
  });

  it('refuses a budget that is not a whole number of MB, or too small to run in', () => {
    expect(() => loadEnv({ OPS_WORKER_MEMORY_MB: 'lots' })).toThrow(/OPS_WORKER_MEMORY_MB: expected a number of MB/);
    expect(() => loadEnv({ OPS_WORKER_MEMORY_MB: '100' })).toThrow(/OPS_WORKER_MEMORY_MB: expected at least 256 \(MB\)/);
    expect(loadEnv({ OPS_WORKER_MEMORY_MB: '768' }).OPS_WORKER_MEMORY_MB).toBe(768);
  });
});

describe("the worker's V8 flags", () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const read = (path: string) => readFileSync(join(root, path), 'utf8');

  it('are the same in every command that starts the main worker', () => {
    const flags = WORKER_V8_FLAGS.join(' ');
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['start:worker']).toContain(`node ${flags} `);
    const quoted = WORKER_V8_FLAGS.map((flag) => `"${flag}"`).join(', ');
    expect(read('Dockerfile')).toContain(`CMD ["node", ${quoted}, "dist/workers/main.js"]`);
    expect(read('docker-compose.yml')).toContain(`command: ["node", ${quoted}, "dist/workers/main.js"]`);
    expect(read('deploy/helm/ops-automation/templates/worker.yaml')).toContain(`"--max-old-space-size={{ .Values.worker.heapMb }}", ${quoted}, "dist/workers/main.js"]`);
  });
});
