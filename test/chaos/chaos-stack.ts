import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPgPool } from '../../src/clients/postgres.js';
import { createS3Client, ensureBucket } from '../../src/clients/s3.js';
import { migrate } from '../../src/db/migrate.js';
import { bundleWorkflows } from '../../workers/workflow-bundle.js';
import { startMinio, type MinioOptions } from '../../scripts/stack/minio.js';
import { freePort, waitFor } from '../../scripts/stack/net.js';
import { OPS_DIR, REPO_ROOT } from '../../scripts/stack/paths.js';
import { dropDatabase, ensureDatabase, startPrivateCluster } from '../../scripts/stack/postgres.js';
import { ManagedProcess } from '../../scripts/stack/process.js';
import { startTemporalDevServer, type TemporalDevServerOptions } from '../../scripts/stack/temporal.js';
import { ensureTool } from '../../scripts/stack/tools.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * The stack of the chaos run, every part of which the run can take away and
 * give back: its own PostgreSQL cluster (stopped for real, not cut at a
 * proxy), a Temporal dev server restarted on its database file, a MinIO
 * stopped mid-upload (behind a proxy that counts the bytes, so "mid-upload"
 * is a fact, not a guess), and our worker and webhook processes.
 */
export interface ChaosStack {
  runDir: string;
  temporalAddress: string;
  databaseUrl: string;
  sourceUrl: string;
  s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string };
  s3Proxy: TcpProxy;
  workflowBundlePath: string;
  postgres: Restartable;
  temporal: Restartable;
  minio: Restartable;
  close(): Promise<void>;
}

export interface Restartable {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A server started by `launch`, stopped with `signal` and launched again the same way. */
async function restartable<T extends { process: ManagedProcess }>(launch: () => Promise<T>, signal: NodeJS.Signals = 'SIGTERM'): Promise<Restartable & { current(): T }> {
  let running = await launch();
  return {
    current: () => running,
    stop: () => running.process.stop(10_000, signal),
    start: async () => {
      running = await launch();
    },
  };
}

const quietBundler = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (message: string) => process.stderr.write(`[bundler] ${message}\n`) };

export async function startChaosStack(runDir: string, say: (line: string) => void): Promise<ChaosStack> {
  const [temporalBinary, minioBinary] = await Promise.all([ensureTool('temporal', say), ensureTool('minio', say)]);

  // PostgreSQL: a cluster of the chaos runs' own, so stopping it stops nobody else's database.
  const pgDir = join(OPS_DIR, 'chaos', 'pg');
  // SIGINT is PostgreSQL's fast shutdown: connections are cut, as in an outage.
  const postgres = await restartable(async () => {
    const cluster = await startPrivateCluster(pgDir, join(runDir, 'postgres.log'));
    return { ...cluster, process: cluster.process! };
  }, 'SIGINT');
  const { adminUrl } = postgres.current();
  await dropDatabase(adminUrl, 'ops_chaos');
  const databaseUrl = await ensureDatabase(adminUrl, 'ops_chaos');
  const pool = createPgPool(databaseUrl);
  await migrate(pool);
  await pool.end();
  const sourceUrl = await ensureDatabase(adminUrl, 'chaos_source');
  const source = createPgPool(sourceUrl);
  // About 40 MB that pg_dump cannot compress: the upload takes several parts and some seconds.
  await source.query(`CREATE TABLE IF NOT EXISTS blobs (id int PRIMARY KEY, body bytea NOT NULL)`);
  await source.query(`INSERT INTO blobs SELECT n, decode(md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text), 'hex')
    FROM generate_series(1, 600000) n ON CONFLICT DO NOTHING`);
  await source.end();

  const temporalOptions: TemporalDevServerOptions = {
    binary: temporalBinary,
    port: await freePort(),
    httpPort: await freePort(),
    metricsPort: await freePort(),
    dbFile: join(runDir, 'temporal.db'),
    logFile: join(runDir, 'temporal.log'),
  };
  const temporal = await restartable(() => startTemporalDevServer(temporalOptions));

  const minioOptions: MinioOptions = {
    binary: minioBinary,
    port: await freePort(),
    consolePort: await freePort(),
    dataDir: join(runDir, 'minio'),
    accessKey: 'chaosadmin',
    secretKey: 'chaosadmin-secret',
    logFile: join(runDir, 'minio.log'),
  };
  const minio = await restartable(() => startMinio(minioOptions));
  const s3Proxy = new TcpProxy('127.0.0.1', minioOptions.port);
  await s3Proxy.start();
  const s3 = { endpoint: `http://${s3Proxy.address}`, bucket: 'chaos-backups', accessKeyId: minioOptions.accessKey, secretAccessKey: minioOptions.secretKey };
  const s3Client = createS3Client({ S3_ENDPOINT: s3.endpoint, S3_REGION: 'us-east-1', S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey });
  await ensureBucket(s3Client, s3.bucket);
  s3Client.destroy();

  const code = await bundleWorkflows(quietBundler);
  const workflowBundlePath = join(runDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, code);

  return {
    runDir,
    temporalAddress: `127.0.0.1:${temporalOptions.port}`,
    databaseUrl,
    sourceUrl,
    s3,
    s3Proxy,
    workflowBundlePath,
    postgres,
    temporal,
    minio,
    async close() {
      await s3Proxy.cut();
      for (const part of [minio, temporal, postgres]) await part.stop();
    },
  };
}

/** Our worker or webhook server as a process of its own: killed with SIGKILL, started again. */
export class OpsProcess {
  private process: ManagedProcess | undefined;
  private starts = 0;

  constructor(
    private readonly name: string,
    private readonly entry: string,
    private readonly env: Record<string, string>,
    private readonly logDir: string,
    /** Whether this start is ready, from its own log. */
    private readonly ready: (log: string) => Promise<boolean> | boolean,
  ) {}

  async start(): Promise<void> {
    this.starts += 1;
    const started = ManagedProcess.start(this.name, process.execPath, ['--import', 'tsx', this.entry], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env },
      logFile: join(this.logDir, `${this.name}-${this.starts}.log`),
    });
    this.process = started;
    await waitFor(
      this.name,
      async () => {
        if (!started.running) throw new Error(`${this.name} exited; last log lines:\n${started.tail()}`);
        return this.ready(started.tail(200));
      },
      120_000,
      250,
    );
  }

  async kill(): Promise<void> {
    await this.process?.kill();
  }

  async stop(): Promise<void> {
    await this.process?.stop();
  }
}
