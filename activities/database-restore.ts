import { GetObjectCommand } from '@aws-sdk/client-s3';
import { ApplicationFailure, Context } from '@temporalio/activity';
import pg from 'pg';
import type { BackupManifest } from '../src/domain/backup.js';
import { ErrorType } from '../src/domain/errors.js';
import { restoreTargetProblem } from '../src/domain/restore.js';
import { latestManifest, type BackupDeps } from './backup.js';
import { bindDeps } from './bind-deps.js';
import { configuredDatabaseUrl } from './database-url.js';
import { restoreDumpInto, urlForDatabase } from './dump-restore.js';

/**
 * Restoring a logical backup into a target database: the plan (which backup,
 * whether the target exists), the restore itself into a staging database on
 * the target's server, and the swap that gives the staging database the
 * target's name, renaming the database that stood there aside in the same
 * transaction. The target stays as it was, and usable, until the restored
 * copy is complete and checked.
 */
export type RestoreDeps = Pick<BackupDeps, 'pool' | 's3' | 'databaseUrl' | 'ageIdentity'>;

/** A client on the `postgres` database of `serverUrl`'s server, closed after `fn`. */
async function onServer<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlForDatabase(serverUrl, 'postgres'), connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function databaseExists(client: pg.Client, name: string): Promise<boolean> {
  return (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
}

/** The manifest of `key` when it is a backup of `database`; refused, naming the way to find one, when it is not. */
async function manifestOf(deps: RestoreDeps, database: string, key: string): Promise<BackupManifest> {
  const { rows } = await deps.pool.query<{ bucket: string; manifest_key: string }>(`SELECT bucket, manifest_key FROM backups WHERE database = $1 AND object_key = $2`, [database, key]);
  const row = rows[0];
  if (!row) throw ApplicationFailure.nonRetryable(`no backup "${key}" of "${database}": opsctl backup list --database ${database} shows them`, ErrorType.NotFound);
  const object = await deps.s3.send(new GetObjectCommand({ Bucket: row.bucket, Key: row.manifest_key }));
  return JSON.parse(await object.Body!.transformToString()) as BackupManifest;
}

/** Which backup a restore takes, and whether its target exists already (then only a replace, after approval, may go on). */
export async function restorePlan(
  deps: RestoreDeps,
  input: { database: string; backup?: string; into: string; server?: string },
): Promise<{ manifest: BackupManifest; targetExists: boolean }> {
  const problem = restoreTargetProblem(input.into);
  if (problem) throw ApplicationFailure.nonRetryable(problem, ErrorType.InvalidInput);
  configuredDatabaseUrl(deps.databaseUrl, input.database);
  const serverUrl = configuredDatabaseUrl(deps.databaseUrl, input.server ?? input.database);
  const manifest = input.backup ? await manifestOf(deps, input.database, input.backup) : await latestManifest(deps, { database: input.database });
  const targetExists = await onServer(serverUrl, (client) => databaseExists(client, input.into));
  return { manifest, targetExists };
}

/**
 * Restores the backup into `staging` on the target's server (made anew, so a
 * retry starts clean), owners and grants kept, every table's row count
 * checked against the manifest. A restore that fails leaves no staging database.
 */
export async function restoreIntoStaging(deps: RestoreDeps, input: { manifest: BackupManifest; server: string; staging: string }): Promise<{ tables: number; rows: number }> {
  const context = Context.current();
  const serverUrl = configuredDatabaseUrl(deps.databaseUrl, input.server);
  const staging = pg.escapeIdentifier(input.staging);
  try {
    await onServer(serverUrl, async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${staging} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${staging}`);
    });
    return await restoreDumpInto(deps, { manifest: input.manifest, targetUrl: urlForDatabase(serverUrl, input.staging), ownership: true }, context.cancellationSignal, (step) => context.heartbeat(step));
  } catch (error) {
    await onServer(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${staging} WITH (FORCE)`)).catch(() => undefined);
    throw error;
  }
}

/**
 * Gives `staging` the name `into`. When `aside` is given, the database at
 * `into` is closed to new connections, its sessions ended, and renamed to
 * `aside` in the same transaction as the swap, then opened again under its new
 * name for whoever wants to look at it. Done already (a retry after the
 * commit): nothing changes.
 */
export async function putRestoredInPlace(deps: RestoreDeps, input: { server: string; staging: string; into: string; aside?: string }): Promise<{ swapped: boolean }> {
  const serverUrl = configuredDatabaseUrl(deps.databaseUrl, input.server);
  return onServer(serverUrl, async (client) => {
    if (!(await databaseExists(client, input.staging))) {
      if (await databaseExists(client, input.into)) return { swapped: false };
      throw ApplicationFailure.nonRetryable(`the restored copy ${input.staging} is gone and "${input.into}" does not exist: restore again`, ErrorType.NotFound);
    }
    const into = pg.escapeIdentifier(input.into);
    const intoExists = await databaseExists(client, input.into);
    if (intoExists && !input.aside) {
      throw ApplicationFailure.nonRetryable(`"${input.into}" was created while the restore ran: it is left alone, and the restored copy is ${input.staging}`, ErrorType.Conflict);
    }
    if (intoExists) {
      await client.query(`ALTER DATABASE ${into} WITH ALLOW_CONNECTIONS false`);
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [input.into]);
    }
    await client.query('BEGIN');
    try {
      if (intoExists) await client.query(`ALTER DATABASE ${into} RENAME TO ${pg.escapeIdentifier(input.aside!)}`);
      await client.query(`ALTER DATABASE ${pg.escapeIdentifier(input.staging)} RENAME TO ${into}`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      if (intoExists) await client.query(`ALTER DATABASE ${into} WITH ALLOW_CONNECTIONS true`);
      throw error;
    }
    if (intoExists) await client.query(`ALTER DATABASE ${pg.escapeIdentifier(input.aside!)} WITH ALLOW_CONNECTIONS true`);
    return { swapped: true };
  });
}

export function createDatabaseRestoreActivities(deps: RestoreDeps) {
  return bindDeps(deps, { restorePlan, restoreIntoStaging, putRestoredInPlace });
}
