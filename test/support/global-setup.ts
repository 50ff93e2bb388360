import type { TestProject } from 'vitest/node';
import { startEphemeralStack } from '../../scripts/stack/ephemeral-stack.js';

/** Starts the real stack once per test run and hands it to every test file as `inject('stack')`. */
export default async function setup(project: TestProject) {
  const started = Date.now();
  const { stack, stop } = await startEphemeralStack('test', (line) => process.stdout.write(`[stack] ${line}\n`));
  project.provide('stack', stack);
  process.stdout.write(`[stack] ready in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  return stop;
}
