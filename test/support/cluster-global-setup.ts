import type { TestProject } from 'vitest/node';
import { startEphemeralStack } from '../../scripts/stack/ephemeral-stack.js';

/**
 * The `cluster` test project's stack: the same as the default project's, but
 * Temporal is the real server (four service processes on PostgreSQL) instead
 * of the dev server, so the suites that lean on Temporal's guarantees run on
 * the back end a team deploys. No Kubernetes: none of those suites use it.
 */
export default async function setup(project: TestProject) {
  const started = Date.now();
  const say = (line: string) => process.stdout.write(`[cluster stack] ${line}\n`);
  const stack = await startEphemeralStack('test-cluster', say, { temporal: 'cluster' });
  project.provide('stack', stack.stack);
  process.stdout.write(`[cluster stack] ready in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  return () => stack.stop();
}
