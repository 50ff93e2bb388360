import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, readFileSync, openSync, closeSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Upload } from '@aws-sdk/lib-storage';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { libpqEnv, restoreJobs } from '../activities/dump-restore.js';
import { createS3Client } from '../src/clients/s3.js';
import { ephemeralStackEnv, startEphemeralStack } from '../scripts/stack/ephemeral-stack.js';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { dropDatabase, ensureDatabase } from '../scripts/stack/postgres.js';
import { waitForTaskQueuePoller } from '../scripts/stack/temporal.js';
import { REPO_ROOT } from '../scripts/stack/paths.js';
import type { databaseBackupWorkflow } from '../workflows/database-backup.js';
import { commandCpuSeconds, cpuDuring, cpuSeconds, threadCpuSeconds, threadCpuSince } from './process-cpu.js';
import { runBenchmark, startNodeProcess, type Figures } from './harness.js';
import { peakRssMiB } from './process-memory.js';
import { describeBackupPhases } from './backup-phases.js';
import { describeDumpScheduling, dumpSchedulingDuring } from './dump-scheduling.js';
import { backupWorkflowId, restoreWorkflowId } from '../src/domain/workflow-ids.js';
import type { databaseRestoreWorkflow } from '../workflows/database-restore.js';

/**
 * The backup benchmark (npm run bench:backup): for a generated database of
 * BENCH_BACKUP_GB (default 2) and a quarter of that, in one run:
 *   - pg_dump -Fc > /dev/null: the limit, nothing can be faster;
 *   - databaseBackupWorkflow's dump (verify off) through a real worker process
 *     into MinIO: pg_dump streamed into a multipart upload;
 *   - the same backup with the dump on a dedicated data worker (compiled
 *     workers/data-worker.ts on OPS_DATA_TASK_QUEUE), whose peak RSS is the
 *     memory a host that only runs backups needs;
 *   - the old way: pg_dump to a local file, then upload the file;
 *   - for the large database: the same backup encrypted with age, and the
 *     time to restore it into a new database with databaseRestoreWorkflow
 *     (RTO) beside `pg_restore --jobs` of the same dump from a local file.
 * Prints wall times, the CPU seconds of pg_dump and of the worker (what the
 * streaming takes from the two cores pg_dump shares with it), how each dump's
 * wall time splits into on a CPU, waiting for one and blocked
 * (dump-scheduling.ts), how each backup's splits into before, during and after
 * its dump activity (backup-phases.ts), the workers' peak RSS at each size, and ends with
 * `ratio_encrypted=`, `rto_s=`, `pg_restore_s=` and then
 * `ratio=<backup / pg_dump alone>` for the large database.
 * Targets: ratio and ratio_encrypted <= 1.15, faster than the old way, data worker peak RSS < 200 MB.
 * BENCH_CPU_PROFILE_DIR has the workers write CPU profiles there.
 * Generated databases are kept (ops_bench_backup_*) so a second run skips the
 * minutes it takes to write them; drop them with DROP DATABASE when done.
 */

const LARGE_GB = Number(process.env.BENCH_BACKUP_GB ?? 2);
/** The restore's parallelism, as the restore workflow chooses it. */
const RESTORE_JOBS = restoreJobs();
const TASK_QUEUE = 'bench-backup';
const say = (line: string) => process.stdout.write(`${line}\n`);
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

/** Rows of about 200 bytes: ids, timestamps, numbers and text that compresses like real data (about 3:1). */
async function generate(adminUrl: string, name: string, gigabytes: number): Promise<string> {
  const url = await ensureDatabase(adminUrl, name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const size = async () => Number((await client.query<{ n: string }>(`SELECT pg_database_size(current_database()) AS n`)).rows[0]!.n);
    const target = gigabytes * 1024 ** 3;
    if ((await size()) >= target * 0.95) return url;
    say(`generating ${gigabytes} GB in ${name} (kept for later runs) ...`);
    await client.query(`DROP TABLE IF EXISTS events, accounts`);
    await client.query(`CREATE TABLE accounts (id int PRIMARY KEY, name text, email text, created_at timestamptz)`);
    await client.query(`INSERT INTO accounts SELECT n, 'account ' || n, 'user' || n || '@example.com', now() - n * interval '1 minute' FROM generate_series(1, 100000) n`);
    await client.query(`CREATE TABLE events (id bigint, account_id int, at timestamptz, kind text, amount numeric(12,2), payload text)`);
    let next = 1;
    const chunk = 500_000;
    while ((await size()) < target) {
      await client.query(
        `INSERT INTO events SELECT n, 1 + n % 100000, now() - n * interval '1 second', (ARRAY['login','purchase','refund','view'])[1 + n % 4],
                (n % 10000) / 100.0, md5(n::text) || ' ' || repeat(chr((97 + n % 26)::int), 40) || ' ' || md5((n * 7)::text)
           FROM generate_series($1::bigint, $2::bigint) n`,
        [next, next + chunk - 1],
      );
      next += chunk;
      say(`  ... ${mib(await size())} MiB`);
    }
    await client.query(`ALTER TABLE events ADD PRIMARY KEY (id)`);
    await client.query(`VACUUM ANALYZE`);
    return url;
  } finally {
    await client.end();
  }
}


async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

/** `fn`'s wall time, the CPU of `pid` and its children over it, and how the pg_dump `pid` starts spent its time. */
async function measuredDump<T>(pid: number, fn: () => Promise<T>) {
  const { scheduling, value } = await dumpSchedulingDuring(pid, () => timed(() => cpuDuring(pid, fn)));
  return { ...value, scheduling };
}

function pgDumpTo(url: string, fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('pg_dump', ['--format=custom', '--no-password'], { env: libpqEnv(url), stdio: ['ignore', fd, 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_dump exited with ${code}`))));
  });
}

/** The node arguments of a package.json script that runs `node ...`, so the bench starts a worker exactly as its npm script does. */
function nodeScriptArgs(name: string): string[] {
  const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const [command, ...args] = scripts[name]!.split(' ');
  if (command !== 'node') throw new Error(`${name} should run node, not ${command}`);
  return args;
}

/** The all-in-one worker as `npm run start:worker` runs it (under tsx, with its Node flags). */
function startWorker(env: Record<string, string>): ChildProcess {
  return startNodeProcess(nodeScriptArgs('start:worker'), env);
}

/** The data worker as it is deployed: `npm run start:data-worker`'s own command (compiled, with its Node flags). */
function startDataWorker(env: Record<string, string>): ChildProcess {
  return startNodeProcess(nodeScriptArgs('start:data-worker'), env);
}

/**
 * The large database's backup again, encrypted to an age recipient; then that
 * backup restored into a new database by databaseRestoreWorkflow (decrypting on
 * the way), against `pg_restore --jobs` of the plain dump already on disk.
 */
async function encryptedAndRestored(context: {
  stack: Awaited<ReturnType<typeof startEphemeralStack>>['stack'];
  client: Client;
  connection: Connection;
  scratch: string;
  url: string;
  database: string;
  file: string;
  workers: ChildProcess[];
}): Promise<{ encrypted: number; rto: number; pgRestore: number }> {
  const { stack, client, connection, scratch, url, database, file, workers } = context;
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  const policy = join(scratch, 'policy-encrypted.yaml');
  writeFileSync(policy, `databases:\n  ${database}: { url: "${url}" }\nbackups: { retention: {}, encryption: { recipients: [${recipient}] } }\n`);
  const queue = `${TASK_QUEUE}-encrypted`;
  const worker = startWorker({
    ...ephemeralStackEnv(stack),
    OPS_TASK_QUEUE: queue,
    OPS_LOG_LEVEL: 'warn',
    OPS_WORKER_METRICS_PORT: '0',
    OPS_WORKFLOW_BUNDLE: stack.workflowBundlePath,
    OPS_CONFIG: policy,
    OPS_BACKUP_AGE_IDENTITY: identity,
  });
  workers.push(worker);
  try {
    await waitForTaskQueuePoller(connection, stack.namespace, queue);
    const encrypted = await timed(() =>
      cpuDuring(worker.pid!, () =>
        client.workflow.execute<typeof databaseBackupWorkflow>('databaseBackupWorkflow', { taskQueue: queue, workflowId: backupWorkflowId(database), args: [{ database, verify: false, requestedBy: 'bench' }] }),
      ),
    );
    say(`  backup encrypted (age)       ${encrypted.seconds.toFixed(1)} s, ${mib(encrypted.value.value.manifest.bytes)} MiB stored; CPU: pg_dump ${encrypted.value.children.toFixed(1)} s, worker ${encrypted.value.self.toFixed(1)} s`);

    const into = `ops_bench_rto_${Date.now().toString(36)}`;
    const rto = await timed(() =>
      client.workflow.execute<typeof databaseRestoreWorkflow>('databaseRestoreWorkflow', {
        taskQueue: queue,
        workflowId: restoreWorkflowId(into),
        args: [{ database, into, backup: encrypted.value.value.manifest.key, requestedBy: 'bench' }],
      }),
    );
    await dropDatabase(stack.adminDatabaseUrl, into);
    say(`  restore into a new database  ${rto.seconds.toFixed(1)} s (databaseRestoreWorkflow: download, decrypt, pg_restore --jobs=${RESTORE_JOBS}, row counts, rename)`);

    const plain = `ops_bench_pg_restore_${Date.now().toString(36)}`;
    const target = await ensureDatabase(stack.adminDatabaseUrl, plain);
    const pgRestore = await timed(
      () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn('pg_restore', ['--exit-on-error', `--jobs=${RESTORE_JOBS}`, `--dbname=${plain}`, file], { env: libpqEnv(target), stdio: ['ignore', 'ignore', 'inherit'] });
          child.once('error', reject);
          child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_restore exited with ${code}`))));
        }),
    );
    await dropDatabase(stack.adminDatabaseUrl, plain);
    say(`  pg_restore --jobs=${RESTORE_JOBS} alone      ${pgRestore.seconds.toFixed(1)} s (from the dump on local disk)`);
    return { encrypted: encrypted.seconds, rto: rto.seconds, pgRestore: pgRestore.seconds };
  } finally {
    worker.kill('SIGTERM');
  }
}

async function once(): Promise<Figures> {
  const { stack, pids, stop } = await startEphemeralStack('bench', say);
  /** CPU seconds so far of what serves the dump beside pg_dump and the worker: PostgreSQL's processes and MinIO. */
  const servers = () => ({ postgres: commandCpuSeconds('postgres'), minio: pids.minio ? cpuSeconds(pids.minio).self : 0 });
  const serversSince = (before: ReturnType<typeof servers>) => {
    const now = servers();
    return `PostgreSQL ${(now.postgres - before.postgres).toFixed(1)} s, MinIO ${(now.minio - before.minio).toFixed(1)} s`;
  };
  const scratch = mkdtempSync(join(tmpdir(), 'ops-bench-backup-'));
  const workers: ChildProcess[] = [];
  try {
    const sizes = [
      { name: 'large', gigabytes: LARGE_GB },
      { name: 'small', gigabytes: LARGE_GB / 4 },
    ];
    const urls: Record<string, string> = {};
    for (const size of sizes) urls[size.name] = await generate(stack.adminDatabaseUrl, `ops_bench_backup_${String(size.gigabytes).replace('.', '_')}g`, size.gigabytes);

    const s3 = createS3Client({ S3_ENDPOINT: stack.s3.endpoint, S3_REGION: stack.s3.region, S3_ACCESS_KEY_ID: stack.s3.accessKeyId, S3_SECRET_ACCESS_KEY: stack.s3.secretAccessKey });
    const connection = await Connection.connect({ address: stack.temporalAddress });
    const client = new Client({ connection, namespace: stack.namespace });
    let extra: { encrypted: number; rto: number; pgRestore: number } | undefined;
    const results: Record<string, { pgDump: number; backup: number; oldWay: number; bytes: number; rss: number; idleRss: number; split: number; dataRss: number; dataIdleRss: number }> = {};

    for (const size of sizes) {
      const url = urls[size.name]!;
      const database = `bench-${size.name}`;
      say(`\n${size.name}: ${size.gigabytes} GB database`);
      // Warm the page cache once so no measurement pays for the first read.
      await pgDumpTo(url, openSync('/dev/null', 'w'));

      const devNull = openSync('/dev/null', 'w');
      const aloneServers = servers();
      const alone = await measuredDump(process.pid, () => pgDumpTo(url, devNull));
      closeSync(devNull);
      say(`  pg_dump -Fc > /dev/null      ${alone.seconds.toFixed(1)} s, pg_dump CPU ${alone.value.children.toFixed(1)} s, ${serversSince(aloneServers)}`);
      say(`                               ${describeDumpScheduling(alone.scheduling)}`);

      // A fresh worker per size, so each peak RSS is that size's own.
      const policy = join(scratch, `policy-${size.name}.yaml`);
      writeFileSync(policy, `databases:\n  ${database}: { url: "${url}" }\nbackups: { retention: {} }\n`);
      const worker = startWorker({
        ...ephemeralStackEnv(stack),
        OPS_TASK_QUEUE: `${TASK_QUEUE}-${size.name}`,
        OPS_LOG_LEVEL: 'warn',
        OPS_WORKER_METRICS_PORT: '0',
        OPS_WORKFLOW_BUNDLE: stack.workflowBundlePath,
        OPS_CONFIG: policy,
      });
      workers.push(worker);
      await waitForTaskQueuePoller(connection, stack.namespace, `${TASK_QUEUE}-${size.name}`);
      const idleRss = peakRssMiB(worker.pid!);
      const backupServers = servers();
      const workerThreads = threadCpuSeconds(worker.pid!);
      const backup = await measuredDump(worker.pid!, () =>
        client.workflow.execute<typeof databaseBackupWorkflow>('databaseBackupWorkflow', {
          taskQueue: `${TASK_QUEUE}-${size.name}`,
          workflowId: backupWorkflowId(database),
          args: [{ database, verify: false, requestedBy: 'bench' }],
        }),
      );
      const rss = peakRssMiB(worker.pid!);
      const workerThreadsUsed = threadCpuSince(workerThreads, threadCpuSeconds(worker.pid!), 1, 's');
      worker.kill('SIGTERM');
      say(`  backup workflow (to MinIO)   ${backup.seconds.toFixed(1)} s, ${mib(backup.value.value.manifest.bytes)} MiB dump, worker peak RSS ${rss.toFixed(0)} MiB (${idleRss.toFixed(0)} MiB before the backup)`);
      say(`                               CPU: pg_dump ${backup.value.children.toFixed(1)} s, worker ${backup.value.self.toFixed(1)} s, ${serversSince(backupServers)}`);
      say(`                               worker's threads: ${workerThreadsUsed}`);
      say(`                               ${await describeBackupPhases(client, backupWorkflowId(database))}`);
      say(`                               ${describeDumpScheduling(backup.scheduling)}`);

      // The same backup, its dump on the dedicated data worker.
      const splitQueue = `${TASK_QUEUE}-${size.name}-split`;
      const dataQueue = `${TASK_QUEUE}-${size.name}-data`;
      const common = { ...ephemeralStackEnv(stack), OPS_LOG_LEVEL: 'warn', OPS_WORKER_METRICS_PORT: '0', OPS_CONFIG: policy, OPS_DATA_TASK_QUEUE: dataQueue };
      const main = startWorker({ ...common, OPS_TASK_QUEUE: splitQueue, OPS_WORKFLOW_BUNDLE: stack.workflowBundlePath });
      const data = startDataWorker(common);
      workers.push(main, data);
      await waitForTaskQueuePoller(connection, stack.namespace, splitQueue);
      await waitForTaskQueuePoller(connection, stack.namespace, dataQueue, { what: 'the data worker', activities: true });
      const dataIdleRss = peakRssMiB(data.pid!);
      const splitServers = servers();
      const dataThreads = threadCpuSeconds(data.pid!);
      const split = await measuredDump(data.pid!, () =>
        client.workflow.execute<typeof databaseBackupWorkflow>('databaseBackupWorkflow', { taskQueue: splitQueue, workflowId: backupWorkflowId(database), args: [{ database, verify: false, requestedBy: 'bench' }] }),
      );
      const dataRss = peakRssMiB(data.pid!);
      const dataThreadsUsed = threadCpuSince(dataThreads, threadCpuSeconds(data.pid!), 1, 's');
      main.kill('SIGTERM');
      data.kill('SIGTERM');
      say(`  backup on a data worker      ${split.seconds.toFixed(1)} s, data worker peak RSS ${dataRss.toFixed(0)} MiB (${dataIdleRss.toFixed(0)} MiB before the backup)`);
      say(`                               CPU: pg_dump ${split.value.children.toFixed(1)} s, data worker ${split.value.self.toFixed(1)} s, ${serversSince(splitServers)}`);
      say(`                               data worker's threads: ${dataThreadsUsed}`);
      say(`                               ${await describeBackupPhases(client, backupWorkflowId(database))}`);
      say(`                               ${describeDumpScheduling(split.scheduling)}`);

      const file = join(scratch, 'dump.bin');
      const oldWay = await timed(async () => {
        const fd = openSync(file, 'w');
        try {
          await pgDumpTo(url, fd);
        } finally {
          closeSync(fd);
        }
        await new Upload({ client: s3, params: { Bucket: stack.s3.bucket, Key: `old-way/${database}.dump`, Body: createReadStream(file) }, partSize: 8 * 1024 * 1024, queueSize: 4 }).done();
      });
      say(`  old way (file, then upload)  ${oldWay.seconds.toFixed(1)} s (${mib(statSync(file).size)} MiB file)`);
      if (size.name === 'large') extra = await encryptedAndRestored({ stack, client, connection, scratch, url, database, file, workers });
      rmSync(file, { force: true });
      results[size.name] = { pgDump: alone.seconds, backup: backup.seconds, oldWay: oldWay.seconds, bytes: backup.value.value.manifest.bytes, rss, idleRss, split: split.seconds, dataRss, dataIdleRss };
    }
    await connection.close();
    s3.destroy();

    const large = results.large!;
    const small = results.small!;
    say('');
    say(`faster than the old way: large ${large.backup < large.oldWay ? 'yes' : 'NO'} (${(large.backup / large.oldWay).toFixed(3)}), small ${small.backup < small.oldWay ? 'yes' : 'NO'} (${(small.backup / small.oldWay).toFixed(3)})`);
    say(`worker peak RSS: large ${large.rss.toFixed(0)} MiB, small ${small.rss.toFixed(0)} MiB (all-in-one worker under tsx)`);
    say(`data worker peak RSS: large ${large.dataRss.toFixed(0)} MiB, small ${small.dataRss.toFixed(0)} MiB (target < 200 MB = ${(200e6 / 1024 / 1024).toFixed(0)} MiB at both: ${Math.max(large.dataRss, small.dataRss) < 200e6 / 1024 / 1024 ? 'met' : 'NOT met'})`);
    const ratio = (value: number) => Number(value.toFixed(3));
    return {
      'ratio on the data worker': ratio(large.split / large.pgDump),
      'ratio small': ratio(small.backup / small.pgDump),
      'ratio small on the data worker': ratio(small.split / small.pgDump),
      ratio_encrypted: ratio(extra!.encrypted / large.pgDump),
      rto_s: Number(extra!.rto.toFixed(1)),
      pg_restore_s: Number(extra!.pgRestore.toFixed(1)),
      ratio: ratio(large.backup / large.pgDump),
    };
  } finally {
    for (const worker of workers) worker.kill('SIGTERM');
    rmSync(scratch, { recursive: true, force: true });
    await stop();
  }
}

runBenchmark('bench:backup', once, { compiled: 'the compiled data worker', temporal: false }).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
