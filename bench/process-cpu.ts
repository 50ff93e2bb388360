import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/**
 * CPU seconds (user + system) a process has used itself, and those of its
 * children it has waited for (a finished pg_dump counts towards the worker
 * that spawned it), from /proc/<pid>/stat.
 */
export function cpuSeconds(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may itself hold spaces: utime stime cutime cstime are the 12th to 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return { self: (fields[11]! + fields[12]!) / ticksPerSecond, children: (fields[13]! + fields[14]!) / ticksPerSecond };
}

/** CPU used by a process and its children while `fn` runs. */
export async function cpuDuring<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; self: number; children: number }> {
  const before = cpuSeconds(pid);
  const value = await fn();
  const after = cpuSeconds(pid);
  return { value, self: after.self - before.self, children: after.children - before.children };
}
