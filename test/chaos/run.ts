import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { backupWorkflowId } from '../../src/domain/workflow-ids.js';
import { freePort } from '../../scripts/stack/net.js';
import { OPS_DIR } from '../../scripts/stack/paths.js';
import { FakeSlack } from '../support/fake-slack.js';
import { fakePagerDuty, HttpRecorder } from '../support/http-recorder.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { AlertStream } from './alert-stream.js';
import { OpsProcess, startChaosStack } from './chaos-stack.js';
import { checkInvariants, timedKill, type Receivers, type WorkerKill } from './invariants.js';
import { pagingPolicyYaml } from './paging-policy.js';

/**
 * The chaos run (npm run chaos; not part of npm test): a steady alert stream
 * through our intake into incidents whose ladders page Slack, email,
 * PagerDuty and a webhook, a backup running, while faults are injected one
 * after another and overlapping: the worker SIGKILLed (once while our
 * database is down), the Temporal server restarted on its database file, our
 * PostgreSQL stopped for 60 s, Slack answering 500 and then 429 with
 * Retry-After for 60 s each, MinIO stopped mid-upload. Afterwards it checks
 * the invariants (see invariants.ts), prints a table of faults and one of
 * counts, and ends with `violations=<n>`.
 *
 * CHAOS_STREAM_SECONDS (default 200) stretches or shrinks the schedule.
 */

const STREAM_SECONDS = Number(process.env.CHAOS_STREAM_SECONDS ?? 200);
const scale = STREAM_SECONDS / 200;
const at = (seconds: number) => seconds * scale * 1000;
const TASK_QUEUE = 'chaos';
const LEVELS = 3;
const LEVEL_SECONDS = 15;
const WEBHOOK_TOKEN = 'chaos-intake-token-0123456789';
const ROUTING_KEY = 'c'.repeat(32);
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export interface FaultRecord {
  fault: string;
  fromS: number;
  toS: number;
  note: string;
}

async function main() {
  const runDir = join(OPS_DIR, 'chaos', `${Date.now().toString(36)}`);
  mkdirSync(runDir, { recursive: true });
  say(`chaos run in ${runDir}`);

  const slack = new FakeSlack();
  const smtp = new SmtpSink();
  const pagerduty = fakePagerDuty();
  const webhook = new HttpRecorder(() => ({ status: 200, body: {} }));
  await Promise.all([slack.start(), smtp.start(), pagerduty.start('/v2/enqueue'), webhook.start('/page')]);
  slack.channelId('chaos-incidents');

  const stack = await startChaosStack(runDir, say);
  const policyFile = join(runDir, 'policy.yaml');
  writeFileSync(
    policyFile,
    pagingPolicyYaml({ webhookUrl: webhook.url, levels: LEVELS, levelSeconds: LEVEL_SECONDS, extra: ['databases:', '  chaos-source: { urlFromEnv: CHAOS_SOURCE_URL }'] }),
  );
  const webhookPort = await freePort();
  const env: Record<string, string> = {
    TEMPORAL_ADDRESS: stack.temporalAddress,
    DATABASE_URL: stack.databaseUrl,
    CHAOS_SOURCE_URL: stack.sourceUrl,
    S3_ENDPOINT: stack.s3.endpoint,
    S3_REGION: 'us-east-1',
    S3_BUCKET: stack.s3.bucket,
    S3_ACCESS_KEY_ID: stack.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: stack.s3.secretAccessKey,
    SLACK_TOKEN: 'xoxb-chaos',
    SLACK_API_URL: slack.url,
    SLACK_CHANNEL: '#chaos-incidents',
    SMTP_URL: smtp.url,
    PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
    PAGERDUTY_EVENTS_URL: pagerduty.url,
    OPS_TASK_QUEUE: TASK_QUEUE,
    OPS_CONFIG: policyFile,
    OPS_WORKFLOW_BUNDLE: stack.workflowBundlePath,
    OPS_WORKER_METRICS_PORT: '0',
    OPS_WEBHOOK_PORT: String(webhookPort),
    OPS_WEBHOOK_HOST: '127.0.0.1',
    OPS_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    OPS_LOG_LEVEL: 'info',
  };
  const worker = new OpsProcess('worker', 'workers/main.ts', env, runDir, (log) => log.includes('"worker running"'));
  const intakeUrl = `http://127.0.0.1:${webhookPort}`;
  const intake = new OpsProcess('webhooks', 'src/webhooks/main.ts', env, runDir, async () => (await fetch(`${intakeUrl}/healthz`).catch(() => undefined))?.ok === true);
  await Promise.all([worker.start(), intake.start()]);

  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection });
  const faults: FaultRecord[] = [];
  const started = Date.now();
  const seconds = (time: number) => Math.round((time - started) / 100) / 10;
  const inject = async (fault: string, startAt: number, action: () => Promise<string>) => {
    await sleep(started + startAt - Date.now());
    const from = Date.now();
    try {
      const note = await action();
      faults.push({ fault, fromS: seconds(from), toS: seconds(Date.now()), note });
    } catch (error) {
      faults.push({ fault, fromS: seconds(from), toS: seconds(Date.now()), note: `INJECTION FAILED: ${(error as Error).message.split('\n')[0]}` });
    }
  };
  const workerKills: WorkerKill[] = [];
  const killWorker = async (downMs: number) => {
    await timedKill(workerKills, () => worker.kill());
    await sleep(downMs);
    const restart = Date.now();
    await worker.start();
    return `back (polling) ${((Date.now() - restart) / 1000).toFixed(1)}s after its restart`;
  };

  const streamEnd = started + at(200);
  const stream = new AlertStream(intakeUrl, WEBHOOK_TOKEN, () => streamEnd + 120_000);
  say(`streaming alerts for ${Math.round(at(200) / 1000)}s while faults are injected ...`);
  const backup = await client.workflow.start('databaseBackupWorkflow', {
    taskQueue: TASK_QUEUE,
    workflowId: backupWorkflowId('chaos-source'),
    args: [{ database: 'chaos-source', verify: true, requestedBy: 'chaos' }],
  });
  const backupStartBytes = stack.s3Proxy.forwardedBytes;

  await Promise.all([
    stream.run(700, at(200)),
    inject('MinIO stopped mid-upload (30 s)', at(2), async () => {
      // Mid-upload as a fact: 8 MiB of the dump have gone through the proxy.
      await stack.s3Proxy.whenForwarded(backupStartBytes + 8 * 1024 * 1024);
      const through = ((stack.s3Proxy.forwardedBytes - backupStartBytes) / 1024 / 1024).toFixed(0);
      await stack.minio.stop();
      await sleep(30_000);
      await stack.minio.start();
      return `stopped after ${through} MiB of the upload`;
    }),
    inject('worker SIGKILL', at(30), () => killWorker(3000)),
    inject('ops PostgreSQL stopped (60 s)', at(50), async () => {
      await stack.postgres.stop();
      await sleep(60_000);
      await stack.postgres.start();
      return 'fast shutdown, then started on the same data';
    }),
    inject('worker SIGKILL while PostgreSQL is down', at(70), () => killWorker(3000)),
    inject('Slack 500, then 429 Retry-After (60 s each)', at(80), async () => {
      slack.failUntil({ kind: 'http', status: 500 }, Date.now() + 60_000);
      await sleep(60_000);
      slack.failUntil({ kind: 'rate-limit', retryAfterSeconds: 5 }, Date.now() + 60_000);
      await sleep(60_000);
      return 'every API call refused';
    }),
    inject('Temporal server restart', at(100), async () => {
      await stack.temporal.stop();
      const down = Date.now();
      await stack.temporal.start();
      return `SIGTERM, same SQLite file; answering again after ${((Date.now() - down) / 1000).toFixed(1)}s`;
    }),
    inject('worker SIGKILL during Slack 429s', at(160), () => killWorker(3000)),
  ]);
  say(`faults done at ${seconds(Date.now())}s; waiting for the senders and the ladders to settle ...`);
  await stream.settled();

  const receivers: Receivers = { slack, smtp, pagerduty, webhook };
  const report = await checkInvariants({ client, stack, receivers, stream, backup, workerKills, levels: LEVELS, settleMs: (LEVELS * LEVEL_SECONDS + 150) * 1000, say });

  say('');
  say('| fault | from s | to s | note |');
  say('| --- | --- | --- | --- |');
  for (const fault of faults) say(`| ${fault.fault} | ${fault.fromS} | ${fault.toS} | ${fault.note} |`);
  say('');
  say('| check | count | violations |');
  say('| --- | --- | --- |');
  for (const row of report.rows) say(`| ${row.check} | ${row.count} | ${row.violations} |`);
  const injectionFailures = faults.filter((fault) => fault.note.startsWith('INJECTION FAILED')).length;
  if (injectionFailures > 0) say(`| faults that could not be injected | ${injectionFailures} | ${injectionFailures} |`);
  say('');
  for (const detail of report.details.slice(0, 20)) say(`  ${detail}`);

  await connection.close();
  await Promise.all([worker.stop(), intake.stop()]);
  await stack.close();
  await Promise.all([slack.stop(), smtp.stop(), pagerduty.stop(), webhook.stop()]);
  say(`violations=${report.violations + injectionFailures}`);
  process.exit(report.violations + injectionFailures === 0 ? 0 : 1);
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos run failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
