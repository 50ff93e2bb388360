import { ConfigError } from './config-error.js';

/**
 * How every long-running process of ours ends when it cannot start: a
 * configuration mistake is one line naming it and exit code 2 (so a supervisor
 * or `npm start` says "fix the config", not "crashed"); anything else is its
 * stack and exit code 1.
 */
export function runEntrypoint(name: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${name}: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${name}: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
