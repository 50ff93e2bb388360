import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { z } from 'zod';
import { ConfigError } from '../src/config/config-error.js';
import { loadEnv } from '../src/config/env.js';
import { loadPolicy } from '../src/config/policy.js';
import { applySchedules, startWalArchivers } from '../schedules/apply.js';
import { scheduleDefinitions } from '../schedules/definitions.js';
import { minioAnswers, startMinio } from './stack/minio.js';
import { freePort, freePortInRange, isPortOpen, waitFor } from './stack/net.js';
import { LOG_DIR, OPS_DIR, REPO_ROOT } from './stack/paths.js';
import { ensureDatabase, redactUrl, resolvePostgres } from './stack/postgres.js';
import { ManagedProcess } from './stack/process.js';
import { startTemporalDevServer, temporalAnswers, waitForTaskQueuePoller } from './stack/temporal.js';
import { CLUSTER_PORT_RANGE, startTemporalCluster } from './stack/temporal-cluster.js';
import { ensureTemporalServer, ensureTemporalUi } from './stack/temporal-cluster-tools.js';
import { ensureTool } from './stack/tools.js';
import { startEmbeddedKubernetes } from './stack/kubernetes.js';
import { WORKER_V8_FLAGS } from '../workers/memory-budget.js';

/**
 * `npm start`: brings up the embedded stack (each part used as-is when
 * configured or already running, provisioned otherwise), then the worker and
 * the webhook server, prints where everything is, and stops what it started on
 * Ctrl-C or SIGTERM, in reverse order.
 *
 * `npm start -- --temporal cluster` (`npm run stack:cluster`) runs the Temporal
 * server itself instead of the dev server: four service processes on PostgreSQL
 * (deploy/temporal/cluster.yaml) and the Web UI server.
 */

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Ports of the parts this script provisions; overridable to run a second stack beside a first. */
const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);
function loadStackPorts() {
  const parsed = z
    .object({
      OPS_TEMPORAL_PORT: port(7233),
      OPS_TEMPORAL_UI_PORT: port(8233),
      OPS_MINIO_PORT: port(9000),
      OPS_MINIO_CONSOLE_PORT: port(9001),
    })
    .safeParse(Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== '')));
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${String(issue.path[0])}: expected a port from 1 to 65535`);
  throw new ConfigError(`Invalid environment: ${problems.join('; ')}`);
}
let stackPorts: ReturnType<typeof loadStackPorts>;
const startedAt = Date.now();
const owned: ManagedProcess[] = [];
const summary: Array<[string, string]> = [];
let stopping = false;

let stopped: Promise<never> | undefined;

/** Stops what we started, newest first; a second signal while stopping changes nothing. */
function stopAll(exitCode: number): Promise<never> {
  stopped ??= (async () => {
    stopping = true;
    say('stopping ...');
    for (const part of [...owned].reverse()) {
      await part.stop(part.name === 'worker' ? 35_000 : 10_000);
      say(`  stopped ${part.name}`);
    }
    process.exit(exitCode);
  })();
  return stopped;
}

/** The webhook token: from the environment, else generated once and kept in .ops/. */
function webhookToken(): string {
  if (process.env.OPS_WEBHOOK_TOKEN) return process.env.OPS_WEBHOOK_TOKEN;
  const file = join(OPS_DIR, 'webhook-token');
  if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/** `--temporal dev|cluster` (default dev). */
function temporalKind(argv: string[]): 'dev' | 'cluster' {
  const index = argv.indexOf('--temporal');
  const value = index >= 0 ? argv[index + 1] : argv.find((arg) => arg.startsWith('--temporal='))?.slice('--temporal='.length);
  if (value === undefined) return 'dev';
  if (value === 'dev' || value === 'cluster') return value;
  throw new ConfigError(`--temporal: expected dev or cluster, got ${JSON.stringify(value)}`);
}

async function startTemporal(kind: 'dev' | 'cluster', postgresAdminUrl: string, namespace: string): Promise<string> {
  if (process.env.TEMPORAL_ADDRESS) {
    summary.push(['Temporal', `${process.env.TEMPORAL_ADDRESS} (configured)`]);
    return process.env.TEMPORAL_ADDRESS;
  }
  const address = `localhost:${stackPorts.OPS_TEMPORAL_PORT}`;
  const uiUrl = `http://localhost:${stackPorts.OPS_TEMPORAL_UI_PORT}`;
  if (await temporalAnswers(address)) {
    summary.push(['Temporal', `${address} (already running, reused)`]);
    summary.push(['Web UI', uiUrl]);
    return address;
  }
  if (kind === 'cluster') return startCluster(address, uiUrl, postgresAdminUrl, namespace);
  const binary = await ensureTool('temporal', say);
  say('starting Temporal dev server ...');
  const temporal = await startTemporalDevServer({
    binary,
    port: stackPorts.OPS_TEMPORAL_PORT,
    uiPort: stackPorts.OPS_TEMPORAL_UI_PORT,
    httpPort: await freePort(),
    metricsPort: await freePort(),
    dbFile: join(OPS_DIR, 'temporal.db'),
    logFile: join(LOG_DIR, 'temporal.log'),
  });
  owned.push(temporal.process);
  summary.push(['Temporal', `${address} (dev server, state in ${join(OPS_DIR, 'temporal.db')})`]);
  summary.push(['Web UI', uiUrl]);
  return address;
}

/** The Temporal server's four services on PostgreSQL (databases temporal and temporal_visibility), and its Web UI. */
async function startCluster(address: string, uiUrl: string, adminUrl: string, namespace: string): Promise<string> {
  const [tools, uiBinary] = await Promise.all([ensureTemporalServer(say), ensureTemporalUi(say)]);
  say('starting the Temporal cluster (history, matching, frontend and worker services on PostgreSQL) ...');
  const ports = [stackPorts.OPS_TEMPORAL_PORT];
  while (ports.length < 14) ports.push(await freePortInRange(CLUSTER_PORT_RANGE.min, CLUSTER_PORT_RANGE.max, new Set(ports)));
  const cluster = await startTemporalCluster({ tools, adminUrl, database: 'temporal', namespace, ports, logDir: LOG_DIR });
  owned.push(...Object.values(cluster.processes));
  const ui = ManagedProcess.start('temporal-ui', uiBinary, ['--root', join(REPO_ROOT, 'deploy', 'temporal'), '--config', 'ui', '--env', 'cluster', 'start'], {
    env: { ...process.env, TEMPORAL_ADDRESS: cluster.address, TEMPORAL_UI_PORT: String(stackPorts.OPS_TEMPORAL_UI_PORT), TEMPORAL_NAMESPACE: namespace },
    logFile: join(LOG_DIR, 'temporal-ui.log'),
  });
  owned.push(ui);
  await waitFor(
    `the Temporal Web UI on ${uiUrl}`,
    async () => {
      if (!ui.running) throw new Error(`it exited; last log lines:\n${ui.tail()}`);
      return isPortOpen('127.0.0.1', stackPorts.OPS_TEMPORAL_UI_PORT);
    },
    30_000,
  );
  summary.push(['Temporal', `${address} (cluster: 4 services on PostgreSQL databases temporal and temporal_visibility, logs temporal-*.log)`]);
  summary.push(['Web UI', uiUrl]);
  return address;
}

async function startDatabase(): Promise<{ url: string; adminUrl: string }> {
  const postgres = await resolvePostgres({
    databaseUrl: process.env.DATABASE_URL,
    privateDir: join(OPS_DIR, 'pg'),
    logFile: join(LOG_DIR, 'postgres.log'),
  });
  if (postgres.process) owned.push(postgres.process);
  const url =
    postgres.source === 'configured' ? process.env.DATABASE_URL! : await ensureDatabase(postgres.adminUrl, 'ops_automation');
  const how = { configured: 'configured', 'local-server': 'local server', 'private-cluster': 'private cluster in .ops/pg' }[
    postgres.source
  ];
  summary.push(['Database', `${redactUrl(url)} (${how})`]);
  return { url, adminUrl: postgres.adminUrl };
}

async function startObjectStore(accessKey: string, secretKey: string, bucket: string): Promise<string> {
  if (process.env.S3_ENDPOINT) {
    summary.push(['S3', `${process.env.S3_ENDPOINT} bucket ${bucket} (configured)`]);
    return process.env.S3_ENDPOINT;
  }
  const endpoint = `http://127.0.0.1:${stackPorts.OPS_MINIO_PORT}`;
  if (await minioAnswers(endpoint)) {
    summary.push(['S3', `${endpoint} bucket ${bucket} (MinIO already running, reused)`]);
    return endpoint;
  }
  const binary = await ensureTool('minio', say);
  say('starting MinIO ...');
  const minio = await startMinio({
    binary,
    port: stackPorts.OPS_MINIO_PORT,
    consolePort: stackPorts.OPS_MINIO_CONSOLE_PORT,
    dataDir: join(OPS_DIR, 'minio'),
    accessKey,
    secretKey,
    logFile: join(LOG_DIR, 'minio.log'),
  });
  owned.push(minio.process);
  summary.push(['S3', `${endpoint} bucket ${bucket} (MinIO, console ${minio.consoleUrl})`]);
  return endpoint;
}

/**
 * A cluster for the rollouts, runbooks and health checks: KUBECONFIG when set;
 * with OPS_KUBERNETES=embedded the embedded control plane (kwok nodes, no
 * real containers: for trying the product, not for running workloads),
 * its kubeconfig written to .ops/kubeconfig; else none.
 */
async function startKubernetes(): Promise<string | undefined> {
  if (process.env.KUBECONFIG) {
    summary.push(['Kubernetes', `${process.env.KUBECONFIG} (configured)`]);
    return process.env.KUBECONFIG;
  }
  if (process.env.OPS_KUBERNETES !== 'embedded') return undefined;
  say('starting the embedded Kubernetes control plane (etcd, API server, controllers, scheduler, kwok nodes) ...');
  const cluster = await startEmbeddedKubernetes({ dir: join(OPS_DIR, 'kubernetes'), say });
  owned.push(...cluster.processes);
  const kubeconfig = join(OPS_DIR, 'kubeconfig');
  copyFileSync(cluster.kubeconfig, kubeconfig);
  summary.push(['Kubernetes', `${cluster.server} (embedded, ${cluster.nodes.length} kwok nodes, KUBECONFIG=${kubeconfig})`]);
  return kubeconfig;
}

/** Starts a TypeScript entrypoint of ours as a child process with the stack's environment. */
function startNode(name: string, entry: string, env: NodeJS.ProcessEnv, nodeFlags: string[] = []): ManagedProcess {
  const child = ManagedProcess.start(name, process.execPath, [...nodeFlags, '--import', 'tsx', entry], {
    cwd: REPO_ROOT,
    env,
    logFile: join(LOG_DIR, `${name}.log`),
  });
  owned.push(child);
  return child;
}

async function waitForWorker(worker: ManagedProcess, address: string, namespace: string, taskQueue: string) {
  const connection = await Connection.connect({ address });
  try {
    await waitForTaskQueuePoller(connection, namespace, taskQueue, {
      alive: () => {
        if (!worker.running) throw new Error(`it exited; last log lines:\n${worker.tail()}`);
      },
    });
  } finally {
    await connection.close();
  }
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  mkdirSync(LOG_DIR, { recursive: true });
  const env = loadEnv(process.env);
  stackPorts = loadStackPorts();
  say('ops-automation: bringing up the embedded stack');

  const kind = temporalKind(process.argv.slice(2));
  const { url: databaseUrl, adminUrl } = await startDatabase();
  const temporalAddress = await startTemporal(kind, adminUrl, env.TEMPORAL_NAMESPACE);
  const s3Endpoint = await startObjectStore(env.S3_ACCESS_KEY_ID, env.S3_SECRET_ACCESS_KEY, env.S3_BUCKET);
  const kubeconfig = await startKubernetes();

  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress,
    DATABASE_URL: databaseUrl,
    S3_ENDPOINT: s3Endpoint,
    OPS_WEBHOOK_TOKEN: webhookToken(),
    ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}),
  };

  say('starting the worker (migrates the database, ensures the bucket) ...');
  // The worker's Node flags are those of `npm run start:worker` and the Dockerfile (workers/memory-budget.ts).
  const worker = startNode('worker', 'workers/main.ts', childEnv, [...WORKER_V8_FLAGS]);
  await waitForWorker(worker, temporalAddress, env.TEMPORAL_NAMESPACE, env.OPS_TASK_QUEUE);
  summary.push([
    'Worker',
    `task queue ${env.OPS_TASK_QUEUE}, SDK metrics http://localhost:${env.OPS_WORKER_METRICS_PORT}/metrics, log ${join(LOG_DIR, 'worker.log')}`,
  ]);

  const webhooks = startNode('webhooks', 'src/webhooks/main.ts', childEnv);
  const webhookUrl = `http://localhost:${env.OPS_WEBHOOK_PORT}`;
  await waitFor(
    `the webhook server on ${webhookUrl}`,
    async () => {
      if (!webhooks.running) throw new Error(`it exited; last log lines:\n${webhooks.tail()}`);
      return (await fetch(`${webhookUrl}/healthz`)).ok;
    },
    60_000,
  );
  summary.push([
    'Webhooks',
    `${webhookUrl} (POST /webhooks/alertmanager, /webhooks/events; bearer token ${process.env.OPS_WEBHOOK_TOKEN ? 'from OPS_WEBHOOK_TOKEN' : `in ${join(OPS_DIR, 'webhook-token')}`})`,
  ]);

  // The declared schedules (nightly backups, drills, maintenance), applied like `opsctl schedules apply`.
  const connection = await Connection.connect({ address: temporalAddress });
  try {
    const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
    const prefix = env.OPS_SCHEDULE_PREFIX;
    const policy = loadPolicy(env.OPS_CONFIG);
    const changes = await applySchedules(client, scheduleDefinitions(policy, { prefix, heartbeat: Boolean(env.OPS_HEARTBEAT_URL) }), { taskQueue: env.OPS_TASK_QUEUE, prefix });
    const count = (kind: string) => changes.filter((change) => change.change === kind).length;
    summary.push([
      'Schedules',
      `${changes.length - count('delete')} (${count('create')} created, ${count('update')} updated, ${count('delete')} deleted; opsctl schedules list)`,
    ]);
    const archivers = await startWalArchivers(client, policy, { taskQueue: env.OPS_TASK_QUEUE });
    if (archivers.length > 0) summary.push(['WAL archive', archivers.map((archiver) => archiver.workflowId).join(', ')]);
  } finally {
    await connection.close();
  }

  const width = Math.max(...summary.map(([name]) => name.length));
  say(`\nops-automation is up (${((Date.now() - startedAt) / 1000).toFixed(1)}s):`);
  for (const [name, where] of summary) say(`  ${name.padEnd(width)}  ${where}`);
  say(`\nLogs are in ${LOG_DIR}. Press Ctrl-C to stop.`);

  // A part that dies takes the stack down loudly rather than leaving it half up.
  for (const part of owned) {
    void part.exited.then((code) => {
      if (stopping) return;
      say(`\n${part.name} exited (code ${code}); last log lines:\n${part.tail()}`);
      void stopAll(1);
    });
  }
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : (error as Error).message;
  process.stderr.write(`npm start: ${message}\n`);
  void stopAll(error instanceof ConfigError ? 2 : 1);
});
