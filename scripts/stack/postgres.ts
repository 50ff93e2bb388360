import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { freePort, waitFor } from './net.js';
import { ManagedProcess } from './process.js';

export interface ResolvedPostgres {
  /** A URL to the server's maintenance database, for creating and dropping databases. */
  adminUrl: string;
  /** How it was found: configured by DATABASE_URL, the machine's server, or our private cluster. */
  source: 'configured' | 'local-server' | 'private-cluster';
  process?: ManagedProcess;
}

export async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The same server's URL for another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Hides the password of a connection URL for display. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

function postgresBinDir(): string {
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
  } catch {
    const versions = existsSync('/usr/lib/postgresql') ? execFileSync('ls', ['/usr/lib/postgresql'], { encoding: 'utf8' }) : '';
    const newest = versions.split('\n').filter(Boolean).sort((a, b) => Number(b) - Number(a))[0];
    if (!newest) throw new Error('PostgreSQL is not installed: no pg_config and nothing under /usr/lib/postgresql');
    return `/usr/lib/postgresql/${newest}/bin`;
  }
}

/**
 * A private cluster under `dir`, made with initdb on first use and started with
 * pg_ctl's postgres on a free port (kept in dir/port so a second start reuses
 * it). PostgreSQL refuses to run as root, so as root it runs as `postgres`;
 * when `postgres` cannot reach `dir` (a checkout under /root, or in a 0700
 * mktemp folder), the cluster lives in /var/tmp under a name derived from
 * `dir`, and `dir/location` says where.
 */
export async function startPrivateCluster(requestedDir: string, logFile: string): Promise<ResolvedPostgres> {
  const bin = postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  const runAs = (command: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  mkdirSync(requestedDir, { recursive: true });
  let dir = requestedDir;
  if (asRoot) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    const [uid, gid] = [id('-u'), id('-g')];
    chownSync(requestedDir, uid, gid);
    const reachable = (path: string) => spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-w', path, '-a', '-x', path]).status === 0;
    if (!reachable(requestedDir)) {
      dir = join('/var/tmp', `ops-automation-pg-${createHash('sha256').update(resolve(requestedDir)).digest('hex').slice(0, 16)}`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chownSync(dir, uid, gid);
      writeFileSync(join(requestedDir, 'location'), `${dir}\n`);
    }
  }
  const dataDir = join(dir, 'data');
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const [command, args] = runAs(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-instructions']);
    execFileSync(command, args, { stdio: 'pipe' });
  }
  const portFile = join(dir, 'port');
  const port = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : await freePort();
  writeFileSync(portFile, String(port));
  const [command, args] = runAs(join(bin, 'postgres'), ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1']);
  const server = ManagedProcess.start('postgres', command, args, { logFile });
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitFor(
    `private PostgreSQL on port ${port}`,
    async () => {
      if (!server.running) throw new Error(`it exited; last log lines:\n${server.tail()}`);
      return postgresAnswers(adminUrl);
    },
    30_000,
  );
  return { adminUrl, source: 'private-cluster', process: server };
}

/**
 * DATABASE_URL when set; else the server on 127.0.0.1:5432 if it answers;
 * else a private cluster under `privateDir`.
 */
export async function resolvePostgres(options: {
  databaseUrl?: string | undefined;
  privateDir: string;
  logFile: string;
  /** The machine's server to try before making a private one. */
  localUrl?: string;
}): Promise<ResolvedPostgres> {
  if (options.databaseUrl) return { adminUrl: withDatabase(options.databaseUrl, 'postgres'), source: 'configured' };
  const local = options.localUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (await postgresAnswers(local)) return { adminUrl: local, source: 'local-server' };
  return startPrivateCluster(options.privateDir, options.logFile);
}

/** Creates `database` when missing and returns its URL. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
  return withDatabase(adminUrl, database);
}

export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
