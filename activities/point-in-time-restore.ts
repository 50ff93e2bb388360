import { spawnSync } from 'node:child_process';
import { appendFile, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { ApplicationFailure, Context } from '@temporalio/activity';
import pg from 'pg';
import { ErrorType } from '../src/domain/errors.js';
import { walObjectKey, type BaseBackupManifest } from '../src/domain/pitr.js';
import type { PointInTimeRestoreOutcome } from '../workflows/database-restore-contract.js';
import type { BackupDeps } from './backup.js';
import { decryptedStream } from './backup-encryption.js';
import { bindDeps } from './bind-deps.js';
import { configuredDatabaseUrl } from './database-url.js';
import { fetchBackupFile } from './dump-restore.js';

/**
 * Point-in-time recovery into a new data directory on the worker's host: the
 * chosen base backup is unpacked (checked and decrypted on the way), the
 * server is started on a free loopback port in recovery with a
 * `restore_command` that fetches each WAL file from S3 through this activity
 * (a loopback HTTP endpoint that decrypts and unzips, so no secret reaches the
 * server's configuration or environment), and the activity waits until
 * recovery reaches the target. It never touches the source cluster.
 */
export type PointInTimeRestoreDeps = Pick<BackupDeps, 'pool' | 's3' | 'databaseUrl' | 'ageIdentity'> & {
  /** Where restored data directories go (OPS_STATE_DIR/restores) unless a restore names one. */
  restoreDir: string;
};

export interface PointInTimeTarget {
  /** Replay up to and including this instant (ISO 8601 with a zone). */
  targetTime?: string;
  /** Replay up to and including this LSN. */
  targetLsn?: string;
  /** Neither: replay all the archive holds. */
}

/** The newest base backup that finished before the target: recovery cannot stop before a backup is consistent. */
export async function chooseBaseBackup(deps: Pick<PointInTimeRestoreDeps, 'pool'>, input: { database: string } & PointInTimeTarget): Promise<{ bucket: string; manifestKey: string; key: string }> {
  const condition = input.targetTime ? 'AND finished_at <= $2::timestamptz' : input.targetLsn ? 'AND stop_lsn <= $2::pg_lsn' : '';
  const { rows } = await deps.pool.query<{ bucket: string; manifest_key: string; object_key: string }>(
    `SELECT bucket, manifest_key, object_key FROM base_backups WHERE database = $1 ${condition} ORDER BY finished_at DESC LIMIT 1`,
    [input.database, ...(input.targetTime ? [input.targetTime] : input.targetLsn ? [input.targetLsn] : [])],
  );
  const row = rows[0];
  if (!row) {
    const before = input.targetTime ? ` that finished before ${input.targetTime}` : input.targetLsn ? ` that ends before LSN ${input.targetLsn}` : '';
    throw ApplicationFailure.nonRetryable(`no base backup of "${input.database}"${before}: take one (opsctl backup run --base --database ${input.database})`, ErrorType.NotFound);
  }
  return { bucket: row.bucket, manifestKey: row.manifest_key, key: row.object_key };
}

/** The command line that runs `command` as the postgres user when we are root (PostgreSQL refuses to run as root). */
function asServerUser(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

/** What the restored server's processes (and its restore_command) see of the environment: a PATH and a locale, no secret. */
function serverEnvironment(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'LANG', 'LC_ALL', 'TZ'].filter((name) => process.env[name] !== undefined);
  return Object.fromEntries(keep.map((name) => [name, process.env[name]]));
}

function postgresBin(name: string): string {
  const dir = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' }).stdout?.trim();
  return dir ? join(dir, name) : name;
}

/** A loopback port nobody listens on now. */
async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as { port: number };
  await new Promise((closed) => server.close(closed));
  return port;
}

/** Serves `/wal/<file>` from the archive, unzipped and decrypted, for the restoring server's restore_command. */
async function serveArchive(deps: PointInTimeRestoreDeps, manifest: BaseBackupManifest, prefix: string, fetched: string[]): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const name = /^\/wal\/([0-9A-F]{24}|[0-9A-F]{8}\.history)$/.exec(request.url ?? '')?.[1];
    if (!name) return void response.writeHead(404).end();
    void (async () => {
      for (const encrypted of [true, false]) {
        const key = walObjectKey(prefix, manifest.database, name, encrypted);
        const object = await deps.s3.send(new GetObjectCommand({ Bucket: manifest.bucket, Key: key })).catch((error: { $metadata?: { httpStatusCode?: number } }) => {
          if (error.$metadata?.httpStatusCode === 404) return undefined;
          throw error;
        });
        if (!object) continue;
        const body = object.Body as Readable;
        const packed = encrypted ? await decryptedStream(body, deps.ageIdentity?.(), `s3://${manifest.bucket}/${key}`, manifest.encryption?.recipients ?? []) : body;
        response.writeHead(200);
        await pipeline(packed, createGunzip(), response);
        fetched.push(name);
        return;
      }
      response.writeHead(404).end();
    })().catch(() => {
      if (!response.headersSent) response.writeHead(503);
      response.destroy();
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return { server, port: (server.address() as { port: number }).port };
}

/** restore_command: one node process per file, fetching it from the activity's loopback endpoint into %p. */
function restoreCommand(port: number): string {
  const script = `const[f,p]=process.argv.slice(1);require('http').get('http://127.0.0.1:${port}/wal/'+f,r=>{if(r.statusCode!==200)process.exit(1);const w=require('fs').createWriteStream(p);r.pipe(w);w.on('finish',()=>process.exit(0));r.on('error',()=>process.exit(1))}).on('error',()=>process.exit(1))`;
  return `"${process.execPath}" -e "${script.replaceAll('"', '\\"')}" %f %p`;
}

/** ISO 8601 as recovery_target_time takes it: the server refuses the "T" and "Z" forms there that timestamptz accepts elsewhere. */
export function postgresTimestamp(iso: string): string {
  return iso.trim().replace(/^(\d{4}-\d\d-\d\d)T/, '$1 ').replace(/Z$/i, '+00');
}

const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;

export async function restorePointInTime(
  deps: PointInTimeRestoreDeps,
  input: { database: string; prefix: string; dataDirectory?: string; promote: boolean } & PointInTimeTarget,
): Promise<PointInTimeRestoreOutcome> {
  const context = Context.current();
  const source = new URL(configuredDatabaseUrl(deps.databaseUrl, input.database));
  const chosen = await chooseBaseBackup(deps, input);
  const manifest = JSON.parse(await (await deps.s3.send(new GetObjectCommand({ Bucket: chosen.bucket, Key: chosen.manifestKey }))).Body!.transformToString()) as BaseBackupManifest;
  // Looked up once: the wait below asks pg_ctl for the server's status every half second.
  const pgCtl = postgresBin('pg_ctl');
  const stamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z').replaceAll(':', '-');
  const dataDirectory = resolve(input.dataDirectory ?? join(deps.restoreDir, `${input.database}-${stamp}`));
  if (existsSync(join(dataDirectory, 'PG_VERSION'))) {
    throw ApplicationFailure.nonRetryable(`${dataDirectory} holds a data directory already: restore into a new one`, ErrorType.Conflict);
  }
  // The parents as any folder (the server's user must pass through them), the data directory private.
  await mkdir(dirname(dataDirectory), { recursive: true });
  if (process.getuid?.() === 0 && spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-x', dirname(dataDirectory)]).status !== 0) {
    throw ApplicationFailure.nonRetryable(
      `the postgres user cannot reach ${dirname(dataDirectory)}, so the restored server could not run there: give a dataDirectory (or an OPS_STATE_DIR) under a folder it can enter`,
      ErrorType.InvalidInput,
    );
  }
  await mkdir(dataDirectory, { mode: 0o700 });
  const heartbeat = setInterval(() => context.heartbeat({ phase: 'unpacking' }), 2000);
  const fetched: string[] = [];
  let archive: { server: Server; port: number } | undefined;
  let succeeded = false;
  let socketDirectory = '';
  try {
    // The base backup: checked against its manifest and decrypted into a file, then unpacked.
    const tarFile = join(dataDirectory, '..', `.${stamp}-base.tar`);
    await fetchBackupFile(deps, manifest, tarFile, context.cancellationSignal, () => undefined);
    const untar = spawnSync('tar', ['-x', '-f', tarFile, '-C', dataDirectory], { encoding: 'utf8' });
    await rm(tarFile, { force: true });
    if (untar.status !== 0) throw ApplicationFailure.nonRetryable(`the base backup ${manifest.key} does not unpack: ${untar.stderr.trim()}`, ErrorType.IntegrityCheckFailed);
    await chmod(dataDirectory, 0o700);

    // Socket paths are limited to 107 bytes: the socket lives in a short private folder, not in the data directory.
    socketDirectory = await mkdtemp(join(tmpdir(), 'ops-pg-'));
    await chmod(socketDirectory, 0o700);
    if (process.getuid?.() === 0) spawnSync('chown', ['postgres:postgres', socketDirectory]);
    archive = await serveArchive(deps, manifest, input.prefix, fetched);
    const port = await freeLoopbackPort();
    const latest = !input.targetTime && !input.targetLsn;
    const settings = [
      `restore_command = ${quote(restoreCommand(archive.port))}`,
      'recovery_target_timeline = \'latest\'',
      ...(input.targetTime ? [`recovery_target_time = ${quote(postgresTimestamp(input.targetTime))}`] : []),
      ...(input.targetLsn ? [`recovery_target_lsn = ${quote(input.targetLsn)}`] : []),
      ...(latest ? [] : [`recovery_target_action = ${quote(input.promote ? 'promote' : 'pause')}`]),
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = ${quote(socketDirectory)}`,
      "archive_mode = 'off'",
      "primary_conninfo = ''",
      'hot_standby = on',
    ];
    await appendFile(join(dataDirectory, 'postgresql.auto.conf'), `\n# ops-automation point-in-time restore of ${manifest.key}\n${settings.join('\n')}\n`);
    // Latest without promotion stands by at the end of the archive; every other restore is a recovery that ends at its target.
    await writeFile(join(dataDirectory, latest && !input.promote ? 'standby.signal' : 'recovery.signal'), '');
    // A cluster whose configuration lives outside its data directory (Debian's) brings none: local socket connections only.
    if (!existsSync(join(dataDirectory, 'pg_hba.conf'))) await writeFile(join(dataDirectory, 'pg_hba.conf'), 'local all all trust\n');
    if (!existsSync(join(dataDirectory, 'postgresql.conf'))) await writeFile(join(dataDirectory, 'postgresql.conf'), '');
    if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'postgres:postgres', dataDirectory]);

    const logFile = `${dataDirectory}.log`;
    if (process.getuid?.() === 0) {
      await writeFile(logFile, '');
      spawnSync('chown', ['postgres:postgres', logFile]);
    }
    const [command, args] = asServerUser(pgCtl, ['-D', dataDirectory, '-l', logFile, '-W', 'start']);
    // The server gets a bare environment: the worker's holds S3 keys, database URLs and the age identity.
    const started = spawnSync(command, args, { encoding: 'utf8', env: serverEnvironment() });
    if (started.status !== 0) throw ApplicationFailure.nonRetryable(`pg_ctl could not start the restored server: ${started.stderr.trim()}`, ErrorType.RestoreFailed);

    const user = decodeURIComponent(source.username || 'postgres');
    const tail = async () => (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-8).join('\n');
    const running = () => spawnSync(...asServerUser(pgCtl, ['-D', dataDirectory, 'status']), { encoding: 'utf8' }).status === 0;
    let lastReplay = '';
    let steadySince = Date.now();
    for (;;) {
      if (context.cancellationSignal.aborted) throw new Error('cancelled');
      await new Promise((done) => setTimeout(done, 500));
      if (!running()) throw ApplicationFailure.nonRetryable(`the restored server stopped during recovery:\n${await tail()}`, ErrorType.RestoreFailed);
      const client = new pg.Client({ host: socketDirectory, port, user, database: 'postgres' });
      client.on('error', () => undefined);
      const state = await client
        .connect()
        .then(() =>
          client.query<{ recovering: boolean; paused: string; replayed: string | null; current: string | null; at: Date | null }>(
            `SELECT pg_is_in_recovery() AS recovering, CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE 'not paused' END AS paused, pg_last_wal_replay_lsn()::text AS replayed,
                    CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current, pg_last_xact_replay_timestamp() AS at`,
          ),
        )
        .then((result) => result.rows[0]!)
        .catch(() => undefined)
        .finally(() => client.end().catch(() => undefined));
      context.heartbeat({ phase: 'recovering', replayed: state?.replayed ?? null, fetched: fetched.length });
      if (!state) continue;
      if (state.replayed !== lastReplay) {
        lastReplay = state.replayed ?? '';
        steadySince = Date.now();
      }
      const done = !state.recovering || state.paused === 'paused' || (latest && !input.promote && Date.now() - steadySince > 5000 && fetched.length > 0);
      if (!done) continue;
      succeeded = true;
      // A base backup recovered from is a verified one: retention never deletes the newest such, nor the WAL it needs.
      await deps.pool.query('UPDATE base_backups SET verified_at = now() WHERE object_key = $1', [manifest.key]);
      return {
        database: input.database,
        baseBackup: manifest.key,
        dataDirectory,
        port,
        replayedTo: state.current ?? state.replayed ?? manifest.stopLsn,
        lastTransactionAt: state.at?.toISOString() ?? null,
        promoted: !state.recovering,
      };
    }
  } finally {
    clearInterval(heartbeat);
    archive?.server.close();
    if (!succeeded) {
      // A restore that did not reach its target leaves no server and no half-recovered copy behind.
      spawnSync(...asServerUser(pgCtl, ['-D', dataDirectory, 'stop', '-m', 'immediate']), { stdio: 'ignore' });
      await rm(dataDirectory, { recursive: true, force: true });
      if (socketDirectory) await rm(socketDirectory, { recursive: true, force: true });
    }
  }
}

export function createPointInTimeRestoreActivities(deps: PointInTimeRestoreDeps) {
  return bindDeps(deps, { restorePointInTime });
}
