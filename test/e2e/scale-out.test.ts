import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/stack/net.js';
import { dropClusterDatabases, startTemporalClusterOnFreePorts, type RunningTemporalCluster } from '../../scripts/stack/temporal-cluster.js';
import { ensureTemporalServer } from '../../scripts/stack/temporal-cluster-tools.js';
import { AlertStream } from '../chaos/alert-stream.js';
import { OpsProcess } from '../chaos/chaos-stack.js';
import { checkInvariants, timedKill, type WorkerKill } from '../chaos/invariants.js';
import { pagingPolicyYaml } from '../chaos/paging-policy.js';
import { FakeSlack } from '../support/fake-slack.js';
import { fakePagerDuty, HttpRecorder } from '../support/http-recorder.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { stackEnv, testStack } from '../support/stack.js';

const TOKEN = 'scale-out-intake-token-0123456789';
const LEVELS = 3;
const LEVEL_SECONDS = 10;
const STORM_MS = 40_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * Scale-out on a Temporal cluster of the real server: two worker processes on
 * one task queue and two webhook servers, an alert storm spread over both
 * webhook servers (a sender retries at the other, as behind a load balancer)
 * while ladders page Slack, email, PagerDuty and a webhook. In the middle of
 * it one worker and one webhook server are SIGKILLed and stay dead, then the
 * cluster's history service and then its matching service are killed and
 * restarted. Afterwards every accepted alert is in exactly one incident,
 * every level of every ladder paged each channel once (or again under the
 * same key where its worker died right after sending it and the channel has
 * no lookup), nothing failed, and every incident still answers an
 * acknowledgement.
 */
describe('scale-out on a Temporal cluster', () => {
  const slack = new FakeSlack();
  const smtp = new SmtpSink();
  const pagerduty = fakePagerDuty();
  const webhook = new HttpRecorder(() => ({ status: 200, body: {} }));
  const database = `temporal_scale_${Date.now().toString(36)}`;
  let cluster: RunningTemporalCluster;
  let dir: string;

  beforeAll(async () => {
    await Promise.all([slack.start(), smtp.start(), pagerduty.start('/v2/enqueue'), webhook.start('/page')]);
    slack.channelId('scale-incidents');
    dir = join(testStack().runDir, `scale-out-${Date.now().toString(36)}`);
    mkdirSync(dir, { recursive: true });
    // A cluster of its own, so the test can take its services away without touching the other suites.
    const tools = await ensureTemporalServer();
    cluster = await startTemporalClusterOnFreePorts({ tools, adminUrl: testStack().adminDatabaseUrl, database, namespace: 'default', logDir: dir, maxConns: 6 });
  });

  afterAll(async () => {
    await cluster?.stop();
    await dropClusterDatabases(testStack().adminDatabaseUrl, database);
    await Promise.all([slack.stop(), smtp.stop(), pagerduty.stop(), webhook.stop()]);
  });

  it('loses no alert and repeats no page when a worker, a webhook server, then history and matching die mid-storm', { timeout: 600_000 }, async () => {
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, pagingPolicyYaml({ webhookUrl: webhook.url, levels: LEVELS, levelSeconds: LEVEL_SECONDS }));
    const env = (webhookPort: number): Record<string, string> => ({
      ...stackEnv(testStack()),
      TEMPORAL_ADDRESS: cluster.address,
      SLACK_TOKEN: 'xoxb-scale-out',
      SLACK_API_URL: slack.url,
      SLACK_CHANNEL: '#scale-incidents',
      SMTP_URL: smtp.url,
      PAGERDUTY_ROUTING_KEY: 'd'.repeat(32),
      PAGERDUTY_EVENTS_URL: pagerduty.url,
      OPS_TASK_QUEUE: 'scale-out',
      OPS_CONFIG: policyFile,
      OPS_WORKFLOW_BUNDLE: testStack().workflowBundlePath,
      OPS_WORKER_METRICS_PORT: '0',
      OPS_WEBHOOK_PORT: String(webhookPort),
      OPS_WEBHOOK_HOST: '127.0.0.1',
      OPS_WEBHOOK_TOKEN: TOKEN,
      OPS_LOG_LEVEL: 'info',
    });
    const ports = [await freePort(), await freePort()];
    const workerReady = (log: string) => log.includes('"worker running"');
    const workers = ports.map((port, index) => new OpsProcess(`worker-${index + 1}`, 'workers/main.ts', env(port), dir, workerReady));
    const intakeUrls = ports.map((port) => `http://127.0.0.1:${port}`);
    const intakes = ports.map(
      (port, index) => new OpsProcess(`webhooks-${index + 1}`, 'src/webhooks/main.ts', env(port), dir, async () => (await fetch(`${intakeUrls[index]}/healthz`).catch(() => undefined))?.ok === true),
    );
    await Promise.all([...workers, ...intakes].map((part) => part.start()));

    const connection = await Connection.connect({ address: cluster.address });
    const client = new Client({ connection });
    try {
      const started = Date.now();
      const stream = new AlertStream(intakeUrls, TOKEN, () => started + STORM_MS + 120_000);
      const faults: string[] = [];
      const workerKills: WorkerKill[] = [];
      await Promise.all([
        stream.run(250, STORM_MS),
        (async () => {
          await sleep(started + 10_000 - Date.now());
          await timedKill(workerKills, () => Promise.all([workers[0]!.kill(), intakes[0]!.kill()]));
          faults.push(`${new Date().toISOString()} worker-1 and webhooks-1 SIGKILLed`);
          await sleep(started + 20_000 - Date.now());
          await cluster.restart('history');
          faults.push(`${new Date().toISOString()} history SIGKILLed and restarted`);
          await sleep(started + 28_000 - Date.now());
          await cluster.restart('matching');
          faults.push(`${new Date().toISOString()} matching SIGKILLed and restarted`);
        })(),
      ]);
      expect(faults).toHaveLength(3);
      await stream.settled();

      const report = await checkInvariants({
        client,
        stack: testStack(),
        receivers: { slack, smtp, pagerduty, webhook },
        stream,
        workerKills,
        levels: LEVELS,
        settleMs: (LEVELS * LEVEL_SECONDS + 120) * 1000,
        say: () => undefined,
      });
      const table = report.rows.map((row) => `${row.check}: ${row.count} (${row.violations} violations)`).join('\n');
      expect(report.violations, `${table}\n${report.details.join('\n')}\nfaults: ${faults.join('; ')}`).toBe(0);
      const count = (check: string) => report.rows.find((row) => row.check.startsWith(check))?.count ?? 0;
      // Every alert of the storm was taken in, and every ladder climbed all its levels.
      expect(count('alerts accepted')).toBe(stream.alerts.length);
      expect(count('incidents open')).toBeGreaterThanOrEqual(40);
      expect(count('webhook pages received')).toBe(count('incidents open') * LEVELS);
    } finally {
      await connection.close();
      await Promise.all([...workers, ...intakes].map((part) => part.stop()));
    }
  });
});
