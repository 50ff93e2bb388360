import { readFileSync } from 'node:fs';

/** A field of /proc/<pid>/status in MiB (the kernel gives kB). */
function statusMiB(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${field}:`));
  return Number(line?.match(/(\d+)/)?.[1] ?? 0) / 1024;
}

/** The kernel's high-water mark of a process's resident memory (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  return statusMiB(pid, 'VmHWM');
}

/** A process's resident memory now, anonymous (heaps) and file-backed (code, mapped files), in MiB. */
export function rssNowMiB(pid: number): { anon: number; file: number } {
  return { anon: statusMiB(pid, 'RssAnon'), file: statusMiB(pid, 'RssFile') };
}
