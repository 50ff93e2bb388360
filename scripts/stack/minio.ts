import { mkdirSync } from 'node:fs';
import { waitFor } from './net.js';
import { ManagedProcess } from './process.js';

export interface MinioOptions {
  binary: string;
  port: number;
  consolePort: number;
  dataDir: string;
  accessKey: string;
  secretKey: string;
  logFile: string;
}

export interface RunningMinio {
  endpoint: string;
  consoleUrl: string;
  process: ManagedProcess;
}

/** Whether a MinIO (or any S3 server with MinIO's health route) is live at `endpoint`. */
export async function minioAnswers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(new URL('/minio/health/live', endpoint), { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

/** Starts a real MinIO server on loopback with its data under `dataDir`. */
export async function startMinio(options: MinioOptions): Promise<RunningMinio> {
  mkdirSync(options.dataDir, { recursive: true });
  const process = ManagedProcess.start(
    'minio',
    options.binary,
    [
      'server',
      options.dataDir,
      '--address',
      `127.0.0.1:${options.port}`,
      '--console-address',
      `127.0.0.1:${options.consolePort}`,
      '--quiet',
    ],
    {
      logFile: options.logFile,
      env: {
        ...globalThis.process.env,
        MINIO_ROOT_USER: options.accessKey,
        MINIO_ROOT_PASSWORD: options.secretKey,
        MINIO_BROWSER_REDIRECT: 'off',
        MINIO_UPDATE: 'off',
      },
    },
  );
  const endpoint = `http://127.0.0.1:${options.port}`;
  try {
    await waitFor(
      `MinIO on ${endpoint}`,
      async () => {
        if (!process.running) throw new Error(`it exited; last log lines:\n${process.tail()}`);
        return minioAnswers(endpoint);
      },
      60_000,
    );
  } catch (error) {
    await process.stop();
    throw error;
  }
  return { endpoint, consoleUrl: `http://127.0.0.1:${options.consolePort}`, process };
}
