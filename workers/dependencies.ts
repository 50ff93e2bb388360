import type { Logger } from 'pino';

/**
 * Start-up work on a dependency (the schema migration, the bucket) that must
 * not keep the worker from starting: a worker restarted while our PostgreSQL
 * or S3 is down still pages people, so the work is tried now and, if the
 * dependency does not answer, again every `retryMs` until it succeeds.
 * Resolves once the first attempt has succeeded or failed.
 */
export async function prepareWhenAvailable(
  what: string,
  task: () => Promise<void>,
  logger: Pick<Logger, 'warn' | 'info'>,
  retryMs = 10_000,
): Promise<{ stop(): void }> {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const attempt = async (first: boolean): Promise<void> => {
    try {
      await task();
      if (!first) logger.info({ dependency: what }, `${what}: done now that it answers`);
    } catch (error) {
      if (first) logger.warn({ dependency: what, err: error }, `${what} failed: starting without it, retrying every ${retryMs / 1000}s`);
      if (!stopped) {
        timer = setTimeout(() => void attempt(false), retryMs);
        timer.unref();
      }
    }
  };
  await attempt(true);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
