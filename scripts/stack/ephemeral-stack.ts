import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPgPool } from '../../src/clients/postgres.js';
import { createS3Client, ensureBucket } from '../../src/clients/s3.js';
import { migrate } from '../../src/db/migrate.js';
import { bundleWorkflows } from '../../workers/workflow-bundle.js';
import { startMinio } from './minio.js';
import { startOnFreePorts } from './net.js';
import { OPS_DIR } from './paths.js';
import { dropDatabase, ensureDatabase, resolvePostgres } from './postgres.js';
import type { ManagedProcess } from './process.js';
import { startTemporalDevServer } from './temporal.js';
import { dropClusterDatabases, startTemporalClusterOnFreePorts, type RunningTemporalCluster } from './temporal-cluster.js';
import { ensureTemporalServer } from './temporal-cluster-tools.js';
import { ensureTool } from './tools.js';

/**
 * A throwaway stack for tests and benchmarks: a Temporal dev server on free
 * ports with its own database file, a fresh PostgreSQL database with the
 * schema migrated, a fresh bucket on a MinIO of its own (or on S3_ENDPOINT),
 * and the workflow bundle built once. stop() removes the data, keeps logs.
 */
export interface EphemeralStack {
  runDir: string;
  /** Which Temporal serves it: the dev server (one process, SQLite) or a cluster on PostgreSQL. */
  temporalKind: TemporalKind;
  temporalBinary: string;
  temporalAddress: string;
  namespace: string;
  adminDatabaseUrl: string;
  databaseUrl: string;
  s3: { endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string };
  workflowBundlePath: string;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => process.stderr.write(`[bundler] ${message}\n`),
  error: (message: string) => process.stderr.write(`[bundler] ${message}\n`),
};

export type TemporalKind = 'dev' | 'cluster';

export interface StartedEphemeralStack {
  stack: EphemeralStack;
  /** The Temporal server's processes, for benchmarks that count their CPU. */
  pids: { temporal: number[]; minio?: number | undefined };
  /** The cluster's services, to restart one in a failure test; undefined on the dev server. */
  cluster: RunningTemporalCluster | undefined;
  stop: () => Promise<void>;
}

export async function startEphemeralStack(
  name: string,
  say: (line: string) => void,
  /** clusterMaxConns: history's PostgreSQL connections on a cluster (6 for tests, where one PostgreSQL serves everything). */
  options: { temporal?: TemporalKind; clusterMaxConns?: number } = {},
): Promise<StartedEphemeralStack> {
  const temporalKind = options.temporal ?? 'dev';
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const runDir = join(OPS_DIR, name, runId);
  mkdirSync(runDir, { recursive: true });
  const processes: ManagedProcess[] = [];

  const [temporalBinary, minioBinary, serverTools] = await Promise.all([
    ensureTool('temporal', say),
    process.env.S3_ENDPOINT ? Promise.resolve(undefined) : ensureTool('minio', say),
    temporalKind === 'cluster' ? ensureTemporalServer(say) : Promise.resolve(undefined),
  ]);

  const postgres = await resolvePostgres({
    databaseUrl: process.env.DATABASE_URL,
    privateDir: join(OPS_DIR, 'pg'),
    logFile: join(runDir, 'postgres.log'),
  });
  if (postgres.process) processes.push(postgres.process);

  // OPS_TEMPORAL_IN_MEMORY=1 (benchmarks only) separates the worker's cost from SQLite's disk writes.
  const dbFile = process.env.OPS_TEMPORAL_IN_MEMORY === '1' ? undefined : join(runDir, 'temporal.db');
  const temporalDatabase = `temporal_${name}_${runId}`;
  const temporalStart: Promise<{ address: string; pids: number[]; stop: () => Promise<void>; cluster?: RunningTemporalCluster }> = serverTools
    ? startTemporalClusterOnFreePorts({
        tools: serverTools,
        adminUrl: postgres.adminUrl,
        database: temporalDatabase,
        namespace: 'default',
        logDir: runDir,
        maxConns: options.clusterMaxConns ?? 6,
      }).then((cluster) => ({ address: cluster.address, pids: Object.values(cluster.processes).map((managed) => managed.child.pid!), stop: cluster.stop, cluster }))
    : startOnFreePorts(3, ([port, httpPort, metricsPort]) =>
        startTemporalDevServer({ binary: temporalBinary, port: port!, httpPort: httpPort!, metricsPort: metricsPort!, dbFile, logFile: join(runDir, 'temporal.log') }),
      ).then((server) => ({ address: server.address, pids: [server.process.child.pid!], stop: () => server.process.stop() }));

  const s3 = {
    region: 'us-east-1',
    bucket: `ops-${name}-${runId}`,
    accessKeyId: process.env.S3_ACCESS_KEY_ID ?? 'minioadmin',
    secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? 'minioadmin',
  };
  const minioStart = minioBinary
    ? startOnFreePorts(2, ([port, consolePort]) =>
        startMinio({
          binary: minioBinary,
          port: port!,
          consolePort: consolePort!,
          dataDir: join(runDir, 'minio'),
          accessKey: s3.accessKeyId,
          secretKey: s3.secretAccessKey,
          logFile: join(runDir, 'minio.log'),
        }),
      )
    : undefined;

  const databaseName = `ops_${name}_${runId}`;
  const databaseUrl = await ensureDatabase(postgres.adminUrl, databaseName);
  const pool = createPgPool(databaseUrl);
  await migrate(pool);
  await pool.end();

  const bundle = bundleWorkflows(quietBundlerLogger);
  const [temporal, minio, code] = await Promise.all([temporalStart, minioStart, bundle]);
  if (minio) processes.push(minio.process);
  const workflowBundlePath = join(runDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, code);

  const endpoint = process.env.S3_ENDPOINT ?? minio!.endpoint;
  const s3Client = createS3Client({
    S3_ENDPOINT: endpoint,
    S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
  });
  await ensureBucket(s3Client, s3.bucket);
  s3Client.destroy();

  const stack: EphemeralStack = {
    runDir,
    temporalKind,
    temporalBinary,
    temporalAddress: temporal.address,
    namespace: 'default',
    adminDatabaseUrl: postgres.adminUrl,
    databaseUrl,
    s3: { endpoint, ...s3 },
    workflowBundlePath,
  };
  say(`stack ready: Temporal ${temporalKind === 'cluster' ? 'cluster' : 'dev server'} ${temporal.address}, database ${databaseName}, ${endpoint}/${s3.bucket}`);

  return {
    stack,
    pids: { temporal: temporal.pids, minio: minio?.process.child.pid },
    cluster: temporal.cluster,
    async stop() {
      // Temporal first: it holds connections to the PostgreSQL that may be stopped next.
      await temporal.stop();
      for (const managed of processes.reverse()) await managed.stop();
      await dropDatabase(postgres.adminUrl, databaseName).catch(() => undefined);
      if (temporal.cluster) await dropClusterDatabases(postgres.adminUrl, temporalDatabase).catch(() => undefined);
      // Keep the services' logs of the last run for a failure; drop the data.
      for (const data of ['minio', 'temporal.db', 'workflow-bundle.js']) rmSync(join(runDir, data), { recursive: true, force: true });
    },
  };
}

/** The environment a worker or webhook process of ours needs to use this stack. */
export function ephemeralStackEnv(stack: EphemeralStack): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: stack.namespace,
    DATABASE_URL: stack.databaseUrl,
    S3_ENDPOINT: stack.s3.endpoint,
    S3_REGION: stack.s3.region,
    S3_BUCKET: stack.s3.bucket,
    S3_ACCESS_KEY_ID: stack.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: stack.s3.secretAccessKey,
  };
}
