import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes.js';
import { waitFor } from './net.js';
import { ManagedProcess } from './process.js';

export interface TemporalDevServerOptions {
  binary: string;
  port: number;
  /** The Web UI's port; undefined runs headless (tests). */
  uiPort?: number;
  httpPort: number;
  metricsPort: number;
  /** SQLite file that keeps the state across restarts; undefined keeps it in memory. */
  dbFile: string | undefined;
  logFile: string;
}

export interface RunningTemporal {
  address: string;
  uiUrl: string | undefined;
  process: ManagedProcess;
}

/** Waits until some worker polls `taskQueue` for workflow tasks, failing early if `alive` says it died. */
export async function waitForTaskQueuePoller(
  connection: Connection,
  namespace: string,
  taskQueue: string,
  options: { what?: string; timeoutMs?: number; alive?: () => void; activities?: boolean } = {},
): Promise<void> {
  await waitFor(
    options.what ?? 'the worker',
    async () => {
      options.alive?.();
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: options.activities ? 2 : 1, // TASK_QUEUE_TYPE_ACTIVITY or _WORKFLOW
      });
      return (pollers?.length ?? 0) > 0;
    },
    options.timeoutMs ?? 180_000,
    500,
  );
}

/** Whether a Temporal frontend answers its health check at `address`. */
export async function temporalAnswers(address: string, timeoutMs = 2000): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    await connection.withDeadline(Date.now() + timeoutMs, () => connection!.healthService.check({}));
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

/**
 * Starts the real Temporal dev server (SQLite persistence in `dbFile`, the
 * design's search attributes registered) and waits until its frontend answers.
 */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<RunningTemporal> {
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--http-port',
    String(options.httpPort),
    '--metrics-port',
    String(options.metricsPort),
    // WAL with synchronous=NORMAL: durable across a process crash, and without an fsync per
    // write the file-backed server keeps up with hundreds of workflows on a 2-core machine.
    ...(options.dbFile
      ? ['--db-filename', options.dbFile, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal']
      : []),
    '--log-format',
    'json',
    '--log-level',
    'warn',
    ...SEARCH_ATTRIBUTES.flatMap((attribute) => ['--search-attribute', `${attribute.name}=${attribute.type}`]),
    ...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort), '--ui-ip', '127.0.0.1']),
  ];
  const process = ManagedProcess.start('temporal', options.binary, args, { logFile: options.logFile });
  const address = `127.0.0.1:${options.port}`;
  try {
    await waitFor(
      `Temporal dev server on ${address}`,
      async () => {
        if (!process.running) throw new Error(`it exited; last log lines:\n${process.tail()}`);
        return temporalAnswers(address);
      },
      60_000,
      300,
    );
  } catch (error) {
    await process.stop();
    throw error;
  }
  return {
    address,
    uiUrl: options.uiPort === undefined ? undefined : `http://localhost:${options.uiPort}`,
    process,
  };
}
