import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stackEnv, testStack } from './stack.js';

const BIN = fileURLToPath(new URL('../../bin/opsctl.js', import.meta.url));

/** Runs the real opsctl binary against the test stack. */
export function opsctl(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...stackEnv(testStack()), ...env },
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
