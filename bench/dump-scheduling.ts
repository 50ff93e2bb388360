import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where a pg_dump's wall time went, from the kernel's scheduler statistics
 * (/proc/<pid>/schedstat): on a CPU, runnable but waiting for one (the cores
 * taken by what runs beside it), and the rest blocked: writing output its
 * reader has not drained yet, or reading from its PostgreSQL backend.
 * Alone, pg_dump is on a CPU almost all the time; what the streaming costs it
 * shows up in the other two.
 */
export interface DumpScheduling {
  wallSeconds: number;
  onCpuSeconds: number;
  waitingSeconds: number;
  blockedSeconds: number;
  /** Times it gave up its CPU to wait (undrained output, a slow backend). */
  voluntarySwitches: number;
}

interface Sample {
  firstSeen: number;
  lastSeen: number;
  onCpu: number;
  waiting: number;
  voluntary: number;
}

/** The pg_dump processes among `parentPid`'s children (/proc/<pid>/task/<tid>/children: no scan of all of /proc). */
function pgDumpChildren(parentPid: number): number[] {
  const found: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${parentPid}/task`);
  } catch {
    return found;
  }
  for (const task of tasks) {
    let children: string;
    try {
      children = readFileSync(`/proc/${parentPid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const pid of children.split(' ').filter(Boolean).map(Number)) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'pg_dump') found.push(pid);
      } catch {
        // Gone between the listing and the read.
      }
    }
  }
  return found;
}

/**
 * Watches the pg_dump processes `parentPid` starts while `fn` runs (stdbuf
 * execs into pg_dump, so the worker is the parent) and sums their figures.
 * Sampled every 100 ms: the wall time is within 0.1 s per dump.
 */
export async function dumpSchedulingDuring<T>(parentPid: number, fn: () => Promise<T>): Promise<{ value: T; scheduling: DumpScheduling }> {
  const samples = new Map<number, Sample>();
  const sample = () => {
    for (const pid of pgDumpChildren(parentPid)) {
      try {
        const [onCpu, waiting] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number) as [number, number];
        const voluntary = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
        const now = performance.now();
        const known = samples.get(pid);
        samples.set(pid, { firstSeen: known?.firstSeen ?? now, lastSeen: now, onCpu: onCpu / 1e9, waiting: waiting / 1e9, voluntary });
      } catch {
        // Exited between the listing and the read: its last sample stands.
      }
    }
  };
  const timer = setInterval(sample, 100);
  try {
    const value = await fn();
    const all = [...samples.values()];
    const sum = (pick: (s: Sample) => number) => all.reduce((total, s) => total + pick(s), 0);
    const wallSeconds = sum((s) => s.lastSeen - s.firstSeen) / 1000;
    const onCpuSeconds = sum((s) => s.onCpu);
    const waitingSeconds = sum((s) => s.waiting);
    return {
      value,
      scheduling: {
        wallSeconds,
        onCpuSeconds,
        waitingSeconds,
        blockedSeconds: Math.max(0, wallSeconds - onCpuSeconds - waitingSeconds),
        voluntarySwitches: sum((s) => s.voluntary),
      },
    };
  } finally {
    clearInterval(timer);
  }
}

export function describeDumpScheduling(s: DumpScheduling): string {
  return `pg_dump ${s.wallSeconds.toFixed(1)} s: on a CPU ${s.onCpuSeconds.toFixed(1)} s, waiting for one ${s.waitingSeconds.toFixed(1)} s, blocked ${s.blockedSeconds.toFixed(1)} s (${s.voluntarySwitches} waits)`;
}
