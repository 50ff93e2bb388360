import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** A child process whose output is collected as it runs. */
export interface RunningProcess {
  child: ChildProcess;
  /** Standard output and error so far, interleaved as they arrived. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when a signal ended it) as soon as the process exits. */
  exited: Promise<number | null>;
  /** The same, once its output streams have closed too: everything it printed is in. */
  closed: Promise<number | null>;
}

export function startProcess(command: string, args: string[], options: SpawnOptions = {}): RunningProcess {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    output += chunk.toString();
  });
  const failed = new Promise<never>((_, reject) => child.once('error', reject));
  const exited = Promise.race([failed, new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))]);
  const closed = Promise.race([failed, new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))]);
  // A process that cannot start rejects both; a caller that awaits neither must not see an unhandled rejection.
  failed.catch(() => undefined);
  return { child, exited, closed, output: () => output, stdout: () => stdout, stderr: () => stderr };
}

/** Runs a process to its end (killed after `timeoutMs`, default 60 s) and returns what it printed. */
export async function runProcess(
  command: string,
  args: string[],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<{ status: number | null; stdout: string; stderr: string; output: string }> {
  const { timeoutMs = 60_000, ...spawnOptions } = options;
  const running = startProcess(command, args, spawnOptions);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), timeoutMs);
  try {
    const status = await running.closed;
    return { status, stdout: running.stdout(), stderr: running.stderr(), output: running.output() };
  } finally {
    clearTimeout(timer);
  }
}
