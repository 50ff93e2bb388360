import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/**
 * CPU seconds (user + system) a process has used itself, and those of its
 * children it has waited for (a finished pg_dump counts towards the worker
 * that spawned it), from /proc/<pid>/stat.
 */
export function cpuSeconds(pid: number): { self: number; children: number } {
  const { fields } = readStat(`/proc/${pid}/stat`);
  return { self: (fields[11]! + fields[12]!) / ticksPerSecond, children: (fields[13]! + fields[14]!) / ticksPerSecond };
}

/** A /proc stat file: the command name, and the fields after it (utime stime cutime cstime are the 12th to 15th). */
function readStat(path: string): { comm: string; fields: number[] } {
  const stat = readFileSync(path, 'utf8');
  // The command name may itself hold spaces and parentheses: it ends at the last ')'.
  return { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), fields: stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number) };
}

/**
 * CPU seconds of every process named `command` (its own and its waited-for
 * children's): for PostgreSQL, the postmaster and all backends, those that
 * ended included, as the postmaster reaps them.
 */
export function commandCpuSeconds(command: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== command) continue;
      const { self, children } = cpuSeconds(Number(entry));
      total += self + children;
    } catch {
      // the process ended between the listing and the read
    }
  }
  return total;
}

/** CPU used by a process and its children while `fn` runs. */
export async function cpuDuring<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; self: number; children: number }> {
  const before = cpuSeconds(pid);
  const value = await fn();
  const after = cpuSeconds(pid);
  return { value, self: after.self - before.self, children: after.children - before.children };
}

/**
 * CPU seconds per thread name of a process (user and system apart), from
 * /proc/<pid>/task/<tid>/stat: which of its threads a figure is spent on
 * (the JS main thread, libuv's pool, V8's GC helpers, the Temporal SDK's Rust runtime).
 */
export function threadCpuSeconds(pid: number): Map<string, { user: number; system: number }> {
  const threads = new Map<string, { user: number; system: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    let stat: ReturnType<typeof readStat>;
    try {
      stat = readStat(`/proc/${pid}/task/${tid}/stat`);
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const { fields } = stat;
    const comm = stat.comm.replace(/[0-9]+$/, '#');
    // Node names every thread it starts "node": worker_threads (the SDK's workflow threads), V8's and libuv's helpers.
    const name = tid === String(pid) ? 'main' : comm === 'node' ? 'other node threads' : comm;
    const entry = threads.get(name) ?? { user: 0, system: 0 };
    entry.user += fields[11]! / ticksPerSecond;
    entry.system += fields[12]! / ticksPerSecond;
    threads.set(name, entry);
  }
  return threads;
}

/** The CPU each thread name used between two readings, largest first, as `name user+sys` text per unit. */
export function threadCpuSince(before: ReturnType<typeof threadCpuSeconds>, after: ReturnType<typeof threadCpuSeconds>, perUnit: number, unit: string): string {
  const rows = [...after].map(([name, now]) => {
    const then = before.get(name) ?? { user: 0, system: 0 };
    return { name, user: (now.user - then.user) / perUnit, system: (now.system - then.system) / perUnit };
  });
  return rows
    .filter((row) => row.user + row.system > 0)
    .sort((a, b) => b.user + b.system - (a.user + a.system))
    .map((row) => `${row.name} ${row.user.toFixed(2)}+${row.system.toFixed(2)}`)
    .join(', ')
    .concat(` (user+system ${unit})`);
}
