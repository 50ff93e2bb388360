import { spawnSync } from 'node:child_process';
import { runProcess } from './process.js';
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

/** The same, without blocking this process (a worker in it keeps running meanwhile). */
export async function opsctlAsync(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const { status, stdout, stderr } = await runProcess(process.execPath, [BIN, ...args], { env: { ...process.env, ...stackEnv(testStack()), ...env } });
  return { status, stdout, stderr };
}
