import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A child process we started and must stop: its output goes to a log file,
 * it runs in its own process group (so a terminal's Ctrl-C reaches only the
 * supervisor, which stops parts in order), and an early exit is reported with
 * the tail of its log.
 */
export class ManagedProcess {
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? null : 0);
        resolve(this.exitCode);
      });
    });
    liveProcesses.add(this);
    void this.exited.then(() => liveProcesses.delete(this));
  }

  static start(
    name: string,
    command: string,
    args: string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string; logFile: string },
  ): ManagedProcess {
    mkdirSync(dirname(options.logFile), { recursive: true });
    const log = createWriteStream(options.logFile, { flags: 'a' });
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    // Both streams into one file, closed once the child's streams are both done
    // (the first to end must not end the file under the other).
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('close', () => log.end());
    child.once('error', (error) => log.write(`\n[ops] could not start ${command}: ${error.message}\n`));
    return new ManagedProcess(name, child, options.logFile);
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** SIGKILL to the process group, as a crash or the OOM killer would end it. */
  async kill(): Promise<void> {
    await this.stop(0, 'SIGKILL');
  }

  /** The last lines of the process's log, for error messages. */
  tail(lines = 15): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** `signal` (SIGTERM; PostgreSQL's fast shutdown is SIGINT) to the process group, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running || this.child.pid === undefined) return;
    signalGroup(this.child.pid, signal);
    const timer = setTimeout(() => signalGroup(this.child.pid!, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

const liveProcesses = new Set<ManagedProcess>();

// Last resort: whatever way this process ends, it leaves no orphans behind.
process.once('exit', () => {
  for (const managed of liveProcesses) if (managed.child.pid) signalGroup(managed.child.pid, 'SIGKILL');
});
