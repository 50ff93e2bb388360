import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * A command whose standard output goes through a 128 KiB stdio buffer, with
 * coreutils' `stdbuf`, when the host has it. pg_dump writes its archive through
 * stdio in 4-8 KiB pieces, and each write wakes the process reading it: read
 * through a larger buffer, the 0.5 GB bench dump reached the worker in 2,540
 * reads of 64 KiB instead of 8,789 of 18.5 KiB. The buffer stays below the
 * 208 KiB socket buffer a child's stdout has (Node gives it a socketpair;
 * net.core.wmem_default), so one write fits while the reader drains the last:
 * with 1 MiB writes pg_dump waited for the worker about 3,000 times, 2.2-3.6 s
 * in all, on the 2 GB dump, and 200 times, 0.8-1.0 s, with 128 KiB
 * (npm run bench:backup, "blocked"). Without `stdbuf` (a minimal image) the
 * command runs as it is.
 */
const STDOUT_BUFFER = '128K';

export function withBufferedOutput(command: string, args: string[], path = process.env.PATH ?? ''): { command: string; args: string[] } {
  return stdbufOn(path) ? { command: 'stdbuf', args: [`-o${STDOUT_BUFFER}`, command, ...args] } : { command, args };
}

const found = new Map<string, boolean>();

function stdbufOn(path: string): boolean {
  let answer = found.get(path);
  if (answer === undefined) {
    answer = path.split(delimiter).some((dir) => {
      if (!dir) return false;
      try {
        accessSync(join(dir, 'stdbuf'), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    found.set(path, answer);
  }
  return answer;
}
