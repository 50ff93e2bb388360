import type { ChildProcess } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { OpsKind, OpsService, OpsSeverity, OpsStatus } from '../src/domain/search-attributes.js';
import type { AlertBatch } from '../src/domain/alerts.js';
import { alertmanagerDedupKey } from '../src/webhooks/dedup.js';
import { alertsSignal, statusQuery, INCIDENT_WORKFLOW, type IncidentWorkflow } from '../workflows/incident-contract.js';
import { ephemeralStackEnv, startEphemeralStack } from '../scripts/stack/ephemeral-stack.js';
import { freePort, waitFor } from '../scripts/stack/net.js';
import { waitForTaskQueuePoller } from '../scripts/stack/temporal.js';
import { runBenchmark, startNodeProcess, type Figures, type RunContext } from './harness.js';
import { peakRssMiB } from './process-memory.js';
import { WORKER_V8_FLAGS } from '../workers/memory-budget.js';
import { cpuSeconds, threadCpuSeconds, threadCpuSince } from './process-cpu.js';
import { incidentWorkflowId } from '../src/domain/workflow-ids.js';

/**
 * The alert storm (npm run bench:intake): 20,000 alerts in Alertmanager-style
 * batches of 10 over 200 groups (100,000 over 1,000 with --temporal dev|cluster|both), sent by 32 concurrent senders through the
 * intake (the compiled webhook server, as deployed), and in the same run the same
 * signalWithStart calls made directly by a bare Temporal client, the limit.
 * Both paths are warmed up first with 1,000 deliveries each.
 * Prints both rates, p50/p99 latency, the worker's peak RSS, checks that the
 * storm made exactly one incident per group holding every fingerprint once, and
 * ends with `ratio=<intake rate / bare client rate>` (`ratio_dev=`, `ratio_cluster=`
 * with --temporal both). BENCH_CPU_PROFILE_DIR has the worker and the intake
 * write CPU profiles there.
 */

/** 20,000 alerts over 200 groups; with --temporal (the back-end comparison) 100,000 over 1,000. */
let GROUPS = 200;
let ALERTS_PER_GROUP = 100;
function sizeStorm(raisedLoad: boolean): void {
  GROUPS = Number(process.env.BENCH_GROUPS ?? (raisedLoad ? 1000 : 200));
  ALERTS_PER_GROUP = Number(process.env.BENCH_ALERTS_PER_GROUP ?? 100);
}
const BATCH = 10;
/** The warm-up: 1,000 deliveries per path over 20 groups. */
const WARMUP_GROUPS = 20;
const WARMUP_ALERTS_PER_GROUP = 500;
const SENDERS = 32;
const TOKEN = 'bench-intake-token-0123456789';
const TASK_QUEUE = 'bench-intake';

const say = (line: string) => process.stdout.write(`${line}\n`);

interface Delivery {
  group: number;
  payload: Record<string, unknown>;
  alerts: AlertBatch['alerts'];
}

/** Alertmanager payloads, round-robin over the groups as a storm arrives. */
function storm(prefix: string, groups = GROUPS, alertsPerGroup = ALERTS_PER_GROUP): Delivery[] {
  const deliveries: Delivery[] = [];
  const perGroup = alertsPerGroup / BATCH;
  for (let round = 0; round < perGroup; round += 1) {
    for (let group = 0; group < groups; group += 1) {
      const alerts = Array.from({ length: BATCH }, (_, index) => {
        const number = round * BATCH + index;
        return {
          status: 'firing' as const,
          labels: { alertname: `${prefix}Alert${group}`, service: `svc-${group}`, instance: `i-${number}`, severity: number % 7 === 0 ? 'critical' : 'warning' },
          annotations: { summary: `${prefix} storm alert ${group}/${number}` },
          startsAt: '2026-11-23T10:00:00.000Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus/graph',
          fingerprint: `${prefix}-g${group}-a${number}`,
        };
      });
      deliveries.push({
        group,
        alerts: alerts.map(({ endsAt: _endsAt, ...alert }) => alert),
        payload: {
          version: '4',
          groupKey: `{}:{alertname="${prefix}Alert${group}"}`,
          truncatedAlerts: 0,
          status: 'firing',
          receiver: 'ops',
          groupLabels: { alertname: `${prefix}Alert${group}` },
          commonLabels: {},
          commonAnnotations: {},
          externalURL: 'http://alertmanager:9093',
          alerts,
        },
      });
    }
  }
  return deliveries;
}

/** The incidents a storm's deliveries open. */
function idsOf(deliveries: Delivery[]): string[] {
  return [...new Set(deliveries.map((delivery) => incidentWorkflowId(alertmanagerDedupKey(String(delivery.payload.groupKey), delivery.payload.groupLabels as Record<string, string>))))];
}

async function runSenders(deliveries: Delivery[], send: (delivery: Delivery) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      while (next < deliveries.length) {
        const delivery = deliveries[next++]!;
        const begin = performance.now();
        await send(delivery);
        latencies.push(performance.now() - begin);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  const alerts = deliveries.reduce((sum, delivery) => sum + delivery.alerts.length, 0);
  return { seconds, rate: alerts / seconds, deliveriesPerSecond: deliveries.length / seconds, p50: at(0.5), p99: at(0.99) };
}

/** The kernel's high-water mark of the process's resident memory. */

async function waitForIncidents(client: Client, ids: string[], expectedAlerts: number, timeoutMs: number) {
  const fingerprints: string[] = [];
  await waitFor(
    'the worker to apply every alert',
    async () => {
      fingerprints.length = 0;
      for (const id of ids) {
        const status = await client.workflow.getHandle(id).query(statusQuery);
        fingerprints.push(...status.alerts.map((alert) => alert.fingerprint));
      }
      return fingerprints.length >= expectedAlerts;
    },
    timeoutMs,
    2000,
  );
  return fingerprints;
}

/** Workflow tasks completed per signal received, over the first 20 incidents: 1 when each delivery was applied on its own. */
async function workflowTasksPerSignal(client: Client, ids: string[]): Promise<number> {
  let tasks = 0;
  let signals = 0;
  for (const id of ids.slice(0, 20)) {
    for (const event of (await client.workflow.getHandle(id).fetchHistory()).events ?? []) {
      if (event.workflowTaskCompletedEventAttributes) tasks += 1;
      if (event.workflowExecutionSignaledEventAttributes) signals += 1;
    }
  }
  return signals === 0 ? 0 : tasks / signals;
}

async function once({ temporal, raisedLoad }: RunContext): Promise<Figures> {
  sizeStorm(raisedLoad);
  const { stack, pids, stop } = await startEphemeralStack('bench', say, { temporal, clusterMaxConns: 20 });
  const children: ChildProcess[] = [];
  try {
    const webhookPort = await freePort();
    const env = { ...ephemeralStackEnv(stack), OPS_TASK_QUEUE: TASK_QUEUE, OPS_LOG_LEVEL: 'warn', OPS_WEBHOOK_TOKEN: TOKEN };
    // Compiled, with the Node flags they are deployed with (Dockerfile, docker-compose.yml); the prebuilt
    // bundle, as in production: the peak RSS is the worker's, not webpack's.
    const worker = startNodeProcess([...WORKER_V8_FLAGS, 'dist/workers/main.js'], { ...env, OPS_WORKER_METRICS_PORT: '0', OPS_WORKFLOW_BUNDLE: stack.workflowBundlePath });
    const webhooks = startNodeProcess(['dist/src/webhooks/main.js'], { ...env, OPS_WEBHOOK_PORT: String(webhookPort), OPS_WEBHOOK_HOST: '127.0.0.1' });
    children.push(worker, webhooks);
    const base = `http://127.0.0.1:${webhookPort}`;
    // CPU seconds per process, to show where each path's time goes on the shared cores.
    const cpuNow = () => {
      const own = process.cpuUsage();
      return {
        intake: cpuSeconds(webhooks.pid!).self,
        worker: cpuSeconds(worker.pid!).self,
        temporal: pids.temporal.reduce((sum, pid) => sum + cpuSeconds(pid).self, 0),
        sender: (own.user + own.system) / 1e6,
      };
    };
    const cpuSince = (before: ReturnType<typeof cpuNow>) => {
      const after = cpuNow();
      return Object.fromEntries(Object.entries(after).map(([key, value]) => [key, value - before[key as keyof typeof before]])) as ReturnType<typeof cpuNow>;
    };
    await waitFor('the webhook server', async () => (await fetch(`${base}/readyz`)).ok, 60_000);

    const connection = await Connection.connect({ address: stack.temporalAddress });
    const client = new Client({ connection });
    await waitForTaskQueuePoller(connection, 'default', TASK_QUEUE);

    const bare = async (delivery: Delivery) => {
      const payload = delivery.payload as { groupKey: string; groupLabels: Record<string, string> };
      const dedupKey = alertmanagerDedupKey(payload.groupKey, payload.groupLabels);
      const first = delivery.alerts[0]!;
      await client.workflow.signalWithStart<IncidentWorkflow, [AlertBatch]>(INCIDENT_WORKFLOW, {
        workflowId: incidentWorkflowId(dedupKey),
        taskQueue: TASK_QUEUE,
        args: [{ dedupKey, source: 'alertmanager' }],
        signal: alertsSignal,
        signalArgs: [{ source: 'alertmanager', receivedAt: new Date().toISOString(), alerts: delivery.alerts, externalURL: 'http://alertmanager:9093', receiver: 'ops' }],
        typedSearchAttributes: [
          { key: OpsKind, value: 'incident' },
          { key: OpsStatus, value: 'triggered' },
          { key: OpsSeverity, value: 'medium' },
          { key: OpsService, value: first.labels.service ?? 'unknown' },
        ],
        memo: { summary: `MEDIUM ${first.annotations.summary}` },
      });
    };
    const intakeIds = new Set<string>();
    // Senders like Alertmanager's: plain HTTP/1.1 with kept-alive connections, one per sender.
    const agent = new Agent({ keepAlive: true, maxSockets: SENDERS });
    const viaIntake = (delivery: Delivery) =>
      new Promise<void>((resolve, reject) => {
        const body = JSON.stringify(delivery.payload);
        const outgoing = httpRequest(
          `${base}/webhooks/alertmanager`,
          {
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${TOKEN}` },
          },
          (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (text += chunk));
            response.on('end', () => {
              if (response.statusCode !== 202) return reject(new Error(`intake answered ${response.statusCode}: ${text}`));
              for (const id of (JSON.parse(text) as { incidents: string[] }).incidents) intakeIds.add(id);
              resolve();
            });
          },
        );
        outgoing.on('error', reject);
        outgoing.end(body);
      });

    // Long enough for V8 to have optimized both paths' code, as in a server that has run for a while: after 64
    // deliveries an eighth of the intake's CPU in the storm still went to TurboFan compiling (perf record).
    say(`warming up both paths (${WARMUP_GROUPS * (WARMUP_ALERTS_PER_GROUP / BATCH)} deliveries each) ...`);
    const warmBare = storm('warmbare', WARMUP_GROUPS, WARMUP_ALERTS_PER_GROUP);
    await runSenders(warmBare, bare);
    await runSenders(storm('warmintake', WARMUP_GROUPS, WARMUP_ALERTS_PER_GROUP), viaIntake);
    // The storms start with the worker idle, not still applying the warm-up.
    await waitForIncidents(client, [...intakeIds, ...idsOf(warmBare)], 2 * WARMUP_GROUPS * WARMUP_ALERTS_PER_GROUP, 600_000);
    intakeIds.clear();

    const total = GROUPS * ALERTS_PER_GROUP;
    say(`bare client: ${total} alerts in ${total / BATCH} signalWithStart calls, ${SENDERS} senders ...`);
    const bareStorm = storm('bare');
    const bareCpu = cpuNow();
    const limit = await runSenders(bareStorm, bare);
    const bareCpuUsed = cpuSince(bareCpu);
    const bareIds = idsOf(bareStorm);
    say('  waiting for the worker to apply them ...');
    await waitForIncidents(client, bareIds, total, 600_000);

    say(`intake: the same storm as ${total / BATCH} Alertmanager deliveries over HTTP, ${SENDERS} senders ...`);
    const intakeCpu = cpuNow();
    const threadsBefore = { intake: threadCpuSeconds(webhooks.pid!), worker: threadCpuSeconds(worker.pid!) };
    const intake = await runSenders(storm('storm'), viaIntake);
    const intakeCpuUsed = cpuSince(intakeCpu);
    const threadsAfter = { intake: threadCpuSeconds(webhooks.pid!), worker: threadCpuSeconds(worker.pid!) };
    say('  waiting for the worker to apply them ...');
    const fingerprints = await waitForIncidents(client, [...intakeIds], total, 600_000);
    const unique = new Set(fingerprints);
    const bareBatching = await workflowTasksPerSignal(client, bareIds);
    const intakeBatching = await workflowTasksPerSignal(client, [...intakeIds]);

    const rss = peakRssMiB(worker.pid!);
    const format = (result: Awaited<ReturnType<typeof runSenders>>) =>
      `${result.rate.toFixed(0)} alerts/s (${result.deliveriesPerSecond.toFixed(0)} deliveries/s, ${result.seconds.toFixed(1)}s), latency p50 ${result.p50.toFixed(1)} ms p99 ${result.p99.toFixed(1)} ms`;
    say('');
    say(`bare client  ${format(limit)}`);
    say(`intake       ${format(intake)}`);
    // Per delivery, so the two paths compare although they ran for different times.
    const perDelivery = (used: ReturnType<typeof cpuNow>, seconds: number) => {
      const deliveries = total / BATCH;
      const parts = Object.entries(used).map(([name, value]) => `${name} ${((value * 1000) / deliveries).toFixed(2)}`);
      const sum = Object.values(used).reduce((a, b) => a + b, 0);
      return `${parts.join(', ')}; all ${((sum * 1000) / deliveries).toFixed(2)} ms (${((sum / seconds) * 100).toFixed(0)}% of one core)`;
    };
    say(`CPU per delivery, ms, while sending (the worker keeps applying after):`);
    say(`  bare client  ${perDelivery(bareCpuUsed, limit.seconds)}`);
    say(`  intake       ${perDelivery(intakeCpuUsed, intake.seconds)}`);
    // Which threads the intake storm's CPU went to: the JS main thread, the SDK's Rust runtime, V8's helpers.
    say(`  intake's threads   ${threadCpuSince(threadsBefore.intake, threadsAfter.intake, (total / BATCH) / 1000, 'ms per delivery')}`);
    say(`  worker's threads   ${threadCpuSince(threadsBefore.worker, threadsAfter.worker, (total / BATCH) / 1000, 'ms per delivery')}`);
    // A path that sends faster than the worker applies leaves several signals waiting per incident, and one
    // workflow task applies them together: less work per delivery for the worker and the server.
    say(`workflow tasks per delivery (20 incidents each): bare client ${bareBatching.toFixed(2)}, intake ${intakeBatching.toFixed(2)}`);
    say(`worker peak RSS ${rss.toFixed(0)} MiB`);
    say(`incidents from the storm: ${intakeIds.size} (expected ${GROUPS}); fingerprints held: ${fingerprints.length}, distinct ${unique.size} (expected ${total})`);
    const correct = intakeIds.size === GROUPS && fingerprints.length === total && unique.size === total;
    say(`storm outcome: ${correct ? 'correct' : 'WRONG'}`);
    await connection.close();
    if (!correct) process.exitCode = 1;
    return { worker_peak_rss_mib: Math.round(rss), ratio: Number((intake.rate / limit.rate).toFixed(3)) };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))));
    await stop();
  }
}

runBenchmark('bench:intake', once, { compiled: 'the compiled webhook server and worker' }).catch((error: unknown) => {
  process.stderr.write(`bench:intake failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

