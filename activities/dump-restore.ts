import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/activity';
import pg from 'pg';
import type { BackupManifest } from '../src/domain/backup.js';
import { ErrorType } from '../src/domain/errors.js';
import { decryptedStream } from './backup-encryption.js';

/**
 * Restoring a logical backup into a database: what a verification (into a
 * scratch database) and a restore into a target share. The dump is downloaded
 * to a scratch file (pg_restore wants a seekable one for --jobs), its SHA-256
 * checked against the manifest and decrypted on the way when it is encrypted,
 * restored in parallel, and every table's row count compared with the counts
 * taken in the snapshot the dump was made from.
 */

/** pg_restore jobs: up to 4, at most one per core, since the restore shares the server with production. */
export function restoreJobs(): number {
  return Math.min(4, availableParallelism());
}

/** libpq settings from a URL, so no password ever appears in a process's arguments. */
export function libpqEnv(url: string): NodeJS.ProcessEnv {
  const parsed = new URL(url);
  return {
    ...process.env,
    PGHOST: parsed.hostname,
    PGPORT: parsed.port || '5432',
    PGUSER: decodeURIComponent(parsed.username || 'postgres'),
    PGDATABASE: decodeURIComponent(parsed.pathname.slice(1)),
    ...(parsed.password ? { PGPASSWORD: decodeURIComponent(parsed.password) } : {}),
  };
}

/** `url` with its database changed to `database`. */
export function urlForDatabase(url: string, database: string): string {
  const changed = new URL(url);
  changed.pathname = `/${encodeURIComponent(database)}`;
  return changed.toString();
}

/**
 * Table name -> exact row count, for every user table, as `client` sees them.
 * `besideDump`: the counts run in the dump's snapshot transaction while pg_dump
 * streams, on one backend without parallel workers or JIT, so they do not take
 * the cores pg_dump compresses on (a parallel count of the 2 GB bench table took
 * three processes for 2.5 s, a serial one without JIT 0.7 s of one).
 */
export async function tableCounts(client: pg.Client, options: { besideDump?: boolean } = {}): Promise<Record<string, number>> {
  if (options.besideDump) await client.query('SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off');
  const { rows } = await client.query<{ schemaname: string; relname: string }>(
    `SELECT schemaname, relname FROM pg_stat_user_tables ORDER BY schemaname, relname`,
  );
  const counts: Record<string, number> = {};
  for (const row of rows) {
    const name = `${pg.escapeIdentifier(row.schemaname)}.${pg.escapeIdentifier(row.relname)}`;
    const { rows: count } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${name}`);
    counts[`${row.schemaname}.${row.relname}`] = Number(count[0]!.n);
  }
  return counts;
}

/** A `pg_restore --verbose` progress line ("pg_restore: creating TABLE ..."), as opposed to an error, a warning or their detail. */
const progressLine = /^pg_restore: (?!error:|warning:|detail:|hint:)/;

/**
 * Runs pg_restore --verbose: each progress line goes to `onStep`, the rest of
 * stderr (errors, warnings, the failed command) into the error. Killed when
 * `signal` aborts.
 */
function runPgRestore(args: string[], env: NodeJS.ProcessEnv, onStep: (step: string) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('pg_restore', ['--verbose', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'], signal, killSignal: 'SIGKILL' });
    const problems: string[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => {
      if (progressLine.test(line)) onStep(line.slice('pg_restore: '.length));
      else if (problems.length < 50) problems.push(line);
    });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`pg_restore exited with ${code}: ${problems.join('\n').trim().slice(0, 2000)}`))));
  });
}

/**
 * Downloads the manifest's object into `file`: checks its SHA-256 (of what is
 * stored), and decrypts it on the way when it is encrypted, so `file` is the
 * plain pg_dump archive. A mismatch, or an object the cipher refuses, is final.
 */
export async function fetchBackupFile(
  deps: { s3: S3Client; ageIdentity?: () => string | undefined },
  manifest: Pick<BackupManifest, 'bucket' | 'key' | 'sha256' | 'encryption'>,
  file: string,
  signal: AbortSignal,
  onBytes: (bytes: number) => void,
): Promise<void> {
  const where = `s3://${manifest.bucket}/${manifest.key}`;
  const object = await deps.s3.send(new GetObjectCommand({ Bucket: manifest.bucket, Key: manifest.key }), { abortSignal: signal });
  const hash = createHash('sha256');
  let downloaded = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      downloaded += chunk.length;
      onBytes(downloaded);
      callback(null, chunk);
    },
  });
  const body = object.Body as Readable;
  if (manifest.encryption) {
    body.once('error', (error) => hashing.destroy(error));
    const plain = await decryptedStream(body.pipe(hashing), deps.ageIdentity?.(), where, manifest.encryption.recipients);
    await pipeline(plain, createWriteStream(file), { signal });
  } else {
    await pipeline(body, hashing, createWriteStream(file), { signal });
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== manifest.sha256) {
    throw ApplicationFailure.nonRetryable(`${where} has SHA-256 ${sha256}, the manifest says ${manifest.sha256}: the backup is corrupt`, ErrorType.IntegrityCheckFailed);
  }
}

/** What a restore reports while it works: the phase and the latest figure. */
export type RestoreStep = { phase: 'downloading'; bytes: number } | { phase: 'restoring'; step: string };

/**
 * Restores the manifest's dump into `targetUrl`'s database, which must exist
 * and be empty, then compares every table's row count with the manifest.
 * `ownership`: keep owners and grants (a real restore); a verification drops
 * them, since the scratch database needs none.
 */
export async function restoreDumpInto(
  deps: { s3: S3Client; ageIdentity?: () => string | undefined },
  input: { manifest: BackupManifest; targetUrl: string; ownership: boolean },
  signal: AbortSignal,
  /** The activity's heartbeat: it gets the phase and latest figure every 2 s, and at once on a new phase, a restore step, or the download's total. */
  heartbeat: (step: RestoreStep) => void,
): Promise<{ tables: number; rows: number }> {
  const { manifest } = input;
  const dir = await mkdtemp(join(tmpdir(), 'ops-restore-'));
  const file = join(dir, 'backup.dump');
  // Every 2 s as well, so a long silent step (an index build) still heartbeats.
  let latest: RestoreStep = { phase: 'downloading', bytes: 0 };
  const beating = setInterval(() => heartbeat(latest), 2000);
  const report = (step: RestoreStep, settled = false) => {
    const phaseChanged = step.phase !== latest.phase;
    latest = step;
    if (settled || phaseChanged || step.phase === 'restoring') heartbeat(latest);
  };
  try {
    let downloaded = 0;
    await fetchBackupFile(deps, manifest, file, signal, (bytes) => report({ phase: 'downloading', bytes: (downloaded = bytes) }));
    report({ phase: 'downloading', bytes: downloaded }, true);
    const target = new URL(input.targetUrl).pathname.slice(1);
    try {
      // A parallel restore (the reason for the scratch file): tables load and indexes build side by side.
      const jobs = restoreJobs();
      const ownership = input.ownership ? [] : ['--no-owner', '--no-privileges'];
      await runPgRestore([...ownership, '--exit-on-error', `--jobs=${jobs}`, `--dbname=${decodeURIComponent(target)}`, file], libpqEnv(input.targetUrl), (step) => report({ phase: 'restoring', step }), signal);
    } catch (error) {
      if (signal.aborted) throw error;
      throw ApplicationFailure.nonRetryable(`pg_restore could not restore ${manifest.key}: ${(error as Error).message}`, ErrorType.IntegrityCheckFailed);
    }
    const client = new pg.Client({ connectionString: input.targetUrl });
    await client.connect();
    const restored = await tableCounts(client).finally(() => client.end());
    const source = manifest.tables;
    const differences = Object.keys({ ...source, ...restored })
      .filter((table) => source[table] !== restored[table])
      .map((table) => `${table}: dumped ${source[table] ?? 'missing'}, restored ${restored[table] ?? 'missing'}`);
    if (differences.length > 0) {
      throw ApplicationFailure.nonRetryable(`restored ${manifest.key} differs from ${manifest.database}: ${differences.join('; ')}`, ErrorType.IntegrityCheckFailed);
    }
    return { tables: Object.keys(restored).length, rows: Object.values(restored).reduce((sum, count) => sum + count, 0) };
  } finally {
    clearInterval(beating);
    await rm(dir, { recursive: true, force: true });
  }
}
