import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import pg from 'pg';
import { ensureSearchAttributes } from '../../src/clients/temporal.js';
import { SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes.js';
import { startOnFreePorts, waitFor } from './net.js';
import { REPO_ROOT } from './paths.js';
import { dropDatabase, ensureDatabase, withDatabase } from './postgres.js';
import { ManagedProcess } from './process.js';
import { temporalAnswers } from './temporal.js';
import type { TemporalServerTools } from './temporal-cluster-tools.js';

/**
 * A Temporal cluster shaped like a production one: the real server on
 * PostgreSQL persistence and visibility (each its own database), the four
 * services as four processes from deploy/temporal/cluster.yaml, the
 * namespace and the design's search attributes registered.
 */
export const CLUSTER_CONFIG = join(REPO_ROOT, 'deploy', 'temporal', 'cluster.yaml');
export const CLUSTER_DYNAMIC_CONFIG = join(REPO_ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml');

/** Ports for a cluster: Temporal keeps membership ports in a PostgreSQL smallint, and these are outside Linux's ephemeral range. */
export const CLUSTER_PORT_RANGE = { min: 20_000, max: 32_767 };

/** Started in this order; each takes the ports of its role. */
export const CLUSTER_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type ClusterService = (typeof CLUSTER_SERVICES)[number];

export interface TemporalClusterOptions {
  tools: TemporalServerTools;
  /** A PostgreSQL URL allowed to create databases; persistence and visibility go in `<database>` and `<database>_visibility`. */
  adminUrl: string;
  database: string;
  namespace: string;
  /** 14 free ports: frontend gRPC, frontend HTTP, then per service (frontend, history, matching, worker) gRPC, membership and metrics; the frontend's second gRPC slot is unused. */
  ports: number[];
  logDir: string;
  historyShards?: number;
  /** History's connections to the persistence database (the other services take a share, visibility half); tests keep it low, one PostgreSQL serves many. */
  maxConns?: number;
}

export interface RunningTemporalCluster {
  address: string;
  processes: Record<ClusterService, ManagedProcess>;
  /** Restarts one service process (SIGKILL, then the same command), for failure tests. */
  restart(service: ClusterService): Promise<void>;
  stop(): Promise<void>;
}

function sqlEnv(adminUrl: string, database: string): NodeJS.ProcessEnv {
  const url = new URL(adminUrl);
  return {
    ...process.env,
    SQL_PLUGIN: 'postgres12',
    SQL_HOST: url.hostname,
    SQL_PORT: url.port || '5432',
    SQL_USER: decodeURIComponent(url.username || 'postgres'),
    SQL_PASSWORD: decodeURIComponent(url.password),
    SQL_DATABASE: database,
  };
}

function runSqlTool(sqlTool: string, env: NodeJS.ProcessEnv, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(sqlTool, ['--quiet', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`temporal-sql-tool ${args.join(' ')} on ${env.SQL_DATABASE} failed (exit ${code}):\n${output.trim().split('\n').slice(-10).join('\n')}`)),
    );
  });
}

async function queryFinds(databaseUrl: string, sql: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query(sql);
    return (rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

const hasSchemaVersionTable = (databaseUrl: string) => queryFinds(databaseUrl, "SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_version'");
const hasClusterMetadata = (databaseUrl: string) => queryFinds(databaseUrl, 'SELECT 1 FROM cluster_metadata_info');

/**
 * Creates the database when missing and brings its schema to this server's
 * version with the server's own tool (setup once, then every versioned
 * upgrade): what an operator runs before starting or upgrading the server.
 */
export async function setupClusterSchema(tools: TemporalServerTools, adminUrl: string, database: string, schema: 'temporal' | 'visibility'): Promise<void> {
  const databaseUrl = await ensureDatabase(adminUrl, database);
  const env = sqlEnv(adminUrl, database);
  if (!(await hasSchemaVersionTable(databaseUrl))) await runSqlTool(tools.sqlTool, env, ['setup-schema', '-v', '0.0']);
  await runSqlTool(tools.sqlTool, env, ['update-schema', '--schema-name', `postgresql/v12/${schema}`]);
}

/**
 * Each service's share of `maxConns`: history does most of the writing (and
 * the visibility writes), matching keeps task queues, the frontend and the
 * internal worker little. Four processes at 20 take 68 connections at most.
 */
const CONNECTION_SHARE: Record<ClusterService, number> = { history: 1, matching: 0.5, frontend: 0.5, worker: 0.25 };

function serviceEnv(options: TemporalClusterOptions): Record<ClusterService, NodeJS.ProcessEnv> {
  const url = new URL(options.adminUrl);
  const [frontendPort, httpPort, ...rest] = options.ports;
  const perService = (index: number) => ({ grpc: rest[index * 3]!, membership: rest[index * 3 + 1]!, metrics: rest[index * 3 + 2]! });
  const order: ClusterService[] = ['frontend', 'history', 'matching', 'worker'];
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_DB: options.database,
    TEMPORAL_VISIBILITY_DB: `${options.database}_visibility`,
    TEMPORAL_DB_HOST: url.hostname,
    TEMPORAL_DB_PORT: url.port || '5432',
    TEMPORAL_DB_USER: decodeURIComponent(url.username || 'postgres'),
    TEMPORAL_DB_PASSWORD: decodeURIComponent(url.password),
    TEMPORAL_HISTORY_SHARDS: String(options.historyShards ?? 16),
    TEMPORAL_BIND_IP: '127.0.0.1',
    TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
    TEMPORAL_DYNAMIC_CONFIG: CLUSTER_DYNAMIC_CONFIG,
    TEMPORAL_FRONTEND_PORT: String(frontendPort),
    TEMPORAL_FRONTEND_HTTP_PORT: String(httpPort),
  };
  for (const [index, service] of order.entries()) {
    const ports = perService(index);
    const upper = service.toUpperCase();
    if (service !== 'frontend') base[`TEMPORAL_${upper}_PORT`] = String(ports.grpc);
    base[`TEMPORAL_${upper}_MEMBERSHIP_PORT`] = String(ports.membership);
  }
  const env = {} as Record<ClusterService, NodeJS.ProcessEnv>;
  for (const [index, service] of order.entries()) {
    const conns = Math.max(2, Math.ceil((options.maxConns ?? 20) * CONNECTION_SHARE[service]));
    env[service] = {
      ...base,
      TEMPORAL_METRICS_PORT: String(perService(index).metrics),
      TEMPORAL_DB_MAX_CONNS: String(conns),
      TEMPORAL_VISIBILITY_DB_MAX_CONNS: String(Math.max(2, Math.ceil(conns / 2))),
    };
  }
  return env;
}

function startService(options: TemporalClusterOptions, service: ClusterService, env: NodeJS.ProcessEnv): ManagedProcess {
  return ManagedProcess.start(`temporal-${service}`, options.tools.server, ['--config-file', CLUSTER_CONFIG, '--allow-no-auth', 'start', '--service', service], {
    env,
    cwd: REPO_ROOT,
    logFile: join(options.logDir, `temporal-${service}.log`),
  });
}

const ALREADY_EXISTS = 6;

/** Registers the namespace and the design's search attributes where missing (the dev server's --namespace and --search-attribute). */
async function registerNamespace(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    await waitFor(
      `namespace ${namespace} on ${address}`,
      async () => {
        try {
          await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') });
        } catch (error) {
          if ((error as { code?: number }).code !== ALREADY_EXISTS) throw error;
        }
        await connection.workflowService.describeNamespace({ namespace });
        return true;
      },
      90_000,
      500,
    );
    await ensureSearchAttributes(connection, namespace);
    // Every service caches namespaces (refreshed each 2 s by default): wait until a search
    // attribute query is accepted, so the first workflow of a test does not meet a stale cache.
    await waitFor(
      `search attributes on ${namespace}`,
      async () => {
        await connection.workflowService.countWorkflowExecutions({ namespace, query: SEARCH_ATTRIBUTES.map((attribute) => `${attribute.name} = "x"`).join(' AND ') });
        return true;
      },
      30_000,
      500,
    );
  } finally {
    await connection.close();
  }
}

export async function startTemporalCluster(options: TemporalClusterOptions): Promise<RunningTemporalCluster> {
  if (options.ports.length < 14) throw new Error(`a Temporal cluster needs 14 ports, got ${options.ports.length}`);
  await Promise.all([
    setupClusterSchema(options.tools, options.adminUrl, options.database, 'temporal'),
    setupClusterSchema(options.tools, options.adminUrl, `${options.database}_visibility`, 'visibility'),
  ]);
  const env = serviceEnv(options);
  const processes = {} as Record<ClusterService, ManagedProcess>;
  const address = `127.0.0.1:${options.ports[0]}`;
  const stop = async () => {
    // The frontend first, so no new request reaches a history that is going away.
    for (const service of ['frontend', 'worker', 'matching', 'history'] as const) await processes[service]?.stop();
  };
  const exited = () => CLUSTER_SERVICES.find((service) => processes[service] && !processes[service].running);
  const failure = (service: ClusterService) =>
    new Error(`temporal ${service} exited while the cluster started; last log lines:\n${processes[service].tail(4).split('\n').map((line) => line.slice(0, 400)).join('\n')}`);
  try {
    // Every service writes the cluster's metadata record when it finds none, and on a new database
    // services started together race for it (the losers exit): history goes first, alone.
    processes.history = startService(options, 'history', env.history);
    const databaseUrl = withDatabase(options.adminUrl, options.database);
    await waitFor(`temporal history on ${options.database}`, async () => exited() !== undefined || (await hasClusterMetadata(databaseUrl)), 60_000, 300);
    if (exited()) throw failure(exited()!);
    for (const service of CLUSTER_SERVICES) processes[service] ??= startService(options, service, env[service]);
    await waitFor(`Temporal cluster frontend on ${address}`, async () => exited() !== undefined || (await temporalAnswers(address)), 90_000, 300);
    if (exited()) throw failure(exited()!);
    await registerNamespace(address, options.namespace);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    address,
    processes,
    async restart(service) {
      await processes[service].kill();
      processes[service] = startService(options, service, env[service]);
    },
    stop,
  };
}

/** A cluster on 14 ports free in CLUSTER_PORT_RANGE, started again on fresh ones if one was taken meanwhile. */
export function startTemporalClusterOnFreePorts(options: Omit<TemporalClusterOptions, 'ports'>): Promise<RunningTemporalCluster> {
  return startOnFreePorts(14, (ports) => startTemporalCluster({ ...options, ports }), 3, CLUSTER_PORT_RANGE);
}

/** Drops a throwaway cluster's persistence and visibility databases. */
export async function dropClusterDatabases(adminUrl: string, database: string): Promise<void> {
  for (const name of [database, `${database}_visibility`]) await dropDatabase(adminUrl, name);
}
