import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createSlackClient } from '../../src/clients/slack.js';
import { createSmtpTransport } from '../../src/clients/smtp.js';
import { createPgPool } from '../../src/clients/postgres.js';
import { parsePolicy } from '../../src/config/policy.js';
import { migrate } from '../../src/db/migrate.js';
import { failureMessage } from '../../src/domain/failures.js';
import { reportWorkflow, type ReportInput } from '../../workflows/report.js';
import { FakeSlack } from '../support/fake-slack.js';
import { opsctlAsync } from '../support/opsctl.js';
import { HistoricalPrometheus } from '../support/prometheus.js';
import { expectedAvailability, expectedErrorRatio, expectedQuantile, expectedSlowRatio, writeOpenMetrics, type DayProfile, type MetricsModel } from '../support/report-metrics.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { connectStack, seededDatabase, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * reportWorkflow against a real Prometheus holding fourteen days of metrics
 * written by the test (promtool blocks), and a database of its own seeded
 * with incidents, backups and rollouts: every figure is known in advance and
 * checked, a service without data reads "no data", and the report lands in
 * S3, Slack and a mailbox.
 */
const DAY = 86_400_000;
const HOUR = 3_600_000;
const MINUTE = 60_000;
const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
const firstDay = today - 14 * DAY;
const yesterday = today - DAY;
const iso = (ms: number) => new Date(ms).toISOString();

const normal: DayProfile = { requests: 100, errors: 1, buckets: [50, 90, 98, 100, 100] };
const model: MetricsModel = {
  firstDay,
  days: 14,
  services: {
    // 1% errors; 5% three days ago; slower two days ago.
    api: (day) => (day === 11 ? { ...normal, errors: 5 } : day === 12 ? { ...normal, buckets: [20, 60, 90, 99, 100] } : normal),
    // No errors, all under 100 ms; down for three hours yesterday.
    web: (day) => ({ requests: 40, errors: 0, buckets: [40, 40, 40, 40, 40], ...(day === 13 ? { downSamples: 36 } : {}) }),
  },
};

describe('reports', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let pool: pg.Pool;
  const prometheus = new HistoricalPrometheus(mkdtempSync(join(tmpdir(), 'ops-report-prom-')));
  const slack = new FakeSlack();
  const mail = new SmtpSink();
  const taskQueue = uniqueTaskQueue('report');
  const prefix = `reports-${taskQueue.slice(-8)}`;

  const run = (input: ReportInput) => clients.client.workflow.execute(reportWorkflow, { taskQueue, workflowId: `report-${taskQueue.slice(-8)}-${input.period}`, args: [input] });
  const object = async (key: string) => (await (await clients.s3.send(new GetObjectCommand({ Bucket: clients.stack.s3.bucket, Key: key }))).Body!.transformToString('utf8'));

  beforeAll(async () => {
    clients = await connectStack();
    const dir = mkdtempSync(join(tmpdir(), 'ops-report-data-'));
    writeOpenMetrics(model, join(dir, 'metrics.om'));
    prometheus.importOpenMetrics(join(dir, 'metrics.om'));
    await prometheus.start();
    await Promise.all([slack.start(), mail.start()]);

    // A database of the test's own: the report's incident, backup and rollout figures are only these rows.
    const url = await seededDatabase(`report_${taskQueue.slice(-8).replace(/-/g, '_')}`, 'SELECT 1');
    pool = createPgPool(url, 'ops-report-test');
    await migrate(pool);
    await seedOperations(pool);

    const policy = parsePolicy(
      {
        reports: { services: ['api', 'web', 'payments'], prefix, recipients: ['lead@example.com', 'sre@example.com'], slackChannel: '#ops-reports', linkBase: 'https://reports.example.com' },
        slos: [
          { name: 'api-availability', service: 'api', kind: 'availability', objective: 0.99, window: '30d' },
          { name: 'api-latency', service: 'api', kind: 'latency', objective: 0.95, threshold: 0.5, window: '30d' },
          { name: 'payments-availability', service: 'payments', kind: 'availability', objective: 0.999 },
        ],
      },
      'test',
    );
    worker = await startBackgroundWorker(
      taskQueue,
      createActivities(
        clients.activityDeps({ pool, policy, taskQueue, prometheusUrl: prometheus.url, slack: createSlackClient('xoxb-test-token', slack.url), slackChannel: '#ops', smtp: createSmtpTransport(mail.url) }),
      ),
    );
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await prometheus.stop();
    await Promise.all([slack.stop(), mail.stop()]);
    await pool?.end();
    await clients?.close();
  });

  it('builds the daily report from measured data only, and delivers it to S3, Slack and email', async () => {
    const result = await run({ period: 'daily', at: iso(today + 8 * HOUR) });
    const { data } = result;
    expect(result.window).toMatchObject({ period: 'daily', date: iso(yesterday).slice(0, 10), start: iso(yesterday), end: iso(today) });

    // Services: every figure as the model says, the service without series as no data.
    const [api, web, payments] = data.services;
    expect(api!.availability).toBe(1);
    expect(api!.errorRatio).toBeCloseTo(0.01, 12);
    expect(api!.p50).toBeCloseTo(0.1, 12);
    expect(api!.p95).toBeCloseTo(0.40625, 12);
    expect(api!.p99).toBeCloseTo(0.75, 12);
    expect(web!.availability).toBeCloseTo(0.875, 12);
    expect(web!.errorRatio).toBe(0);
    expect([web!.p50, web!.p95, web!.p99].map((value) => value!.toFixed(6))).toEqual(['0.050000', '0.095000', '0.099000']);
    expect(payments).toEqual({
      service: 'payments',
      errorRatioByDay: expect.any(Array),
      p95ByDay: expect.any(Array),
      p99ByDay: expect.any(Array),
    });
    expect(payments!.errorRatioByDay.every((day) => day.value === undefined)).toBe(true);
    // Per day: the 5% day and the slow day show where the model put them.
    expect(api!.errorRatioByDay.map((day) => [day.day, Number(day.value!.toFixed(6))])).toEqual(
      Array.from({ length: 7 }, (_, index) => [iso(today - (7 - index) * DAY).slice(0, 10), index === 4 ? 0.05 : 0.01]),
    );
    expect(api!.p95ByDay[5]!.value).toBeCloseTo(expectedQuantile(model, 'api', today - DAY, 1, 0.95), 12);
    expect(api!.p99ByDay[5]!.value).toBeCloseTo(1, 12);

    // SLOs over 30 days (fourteen of which have data), and the day's burn.
    const [availability, latency, noData] = data.slos;
    const bad = expectedErrorRatio(model, 'api', today, 30);
    expect(availability).toMatchObject({ name: 'api-availability', objective: 0.99, windowDays: 30 });
    expect(availability!.attainment).toBeCloseTo(1 - bad, 12);
    expect(availability!.budgetLeft).toBeCloseTo(1 - bad / 0.01, 10);
    expect(availability!.burnRate).toBeCloseTo(1, 10);
    const slow = expectedSlowRatio(model, 'api', today, 30, '0.5');
    expect(latency!.attainment).toBeCloseTo(1 - slow, 12);
    expect(latency!.budgetLeft).toBeCloseTo(1 - slow / 0.05, 10);
    expect(latency!.burnRate).toBeCloseTo(0.02 / 0.05, 10);
    expect(latency!.budgetLeftByDay.map((day) => day.value!.toFixed(6))).toEqual(
      Array.from({ length: 7 }, (_, index) => (1 - expectedSlowRatio(model, 'api', today - (6 - index) * DAY, 30, '0.5') / 0.05).toFixed(6)),
    );
    expect(noData).toEqual({ name: 'payments-availability', service: 'payments', kind: 'availability', objective: 0.999, windowDays: 30, budgetLeftByDay: expect.any(Array) });

    // Operations: the seeded rows, counted.
    expect(data.operations.incidents).toMatchObject({
      opened: 3,
      bySeverity: { critical: 1, high: 1, medium: 1, low: 0 },
      acknowledged: 2,
      resolved: 2,
      mttaMs: 10 * MINUTE,
      mttrMs: 82.5 * MINUTE,
      openAtEnd: 3,
      noisiest: [
        { alertname: 'HighErrorRate', alerts: 3, incidents: 1 },
        { alertname: 'HighLatency', alerts: 2, incidents: 1 },
        { alertname: 'DiskFull', alerts: 1, incidents: 1 },
      ],
    });
    expect(data.operations.incidents.openedByDay.map((day) => day.value)).toEqual([0, 0, 0, 0, 1, 0, 3]);
    expect(data.operations.backups).toEqual([
      { database: 'default', succeeded: 0, lastSuccess: iso(today - 3 * DAY + 2 * HOUR), lastBytes: 1024 },
      { database: 'orders', succeeded: 1, lastSuccess: iso(yesterday + 2 * HOUR + 10 * MINUTE), lastVerified: iso(yesterday + 2 * HOUR + 30 * MINUTE), lastBytes: 1_610_612_736 },
    ]);
    expect(data.operations.rollouts).toEqual({ started: 2, succeeded: 1, rolledBack: 1, failed: 1 });
    expect(data.operations.deployments).toEqual([
      { environment: 'production', deployment: 'shop/api', checks: 2, healthyRatio: 0.5, averageScore: 70, minScore: 40, minReadyRatio: 0, maxRestarts: 3, lastState: 'down' },
    ]);
    // Security findings open at the period's end, most severe then oldest first, aged to that end.
    expect(data.operations.security!.bySeverity).toEqual({ CRITICAL: 1, HIGH: 2 });
    expect(data.operations.security!.open.map((finding) => [finding.severity, finding.vulnerability, finding.workload, finding.ageDays])).toEqual([
      ['CRITICAL', 'CVE-2026-2000', 'Deployment shop/api', 2],
      ['HIGH', 'CVE-2026-3000', 'Deployment shop/cart', 40],
      ['HIGH', 'CVE-2026-1000', 'Deployment shop/api', 10],
    ]);

    // The Markdown says the same, with "no data" where there is none.
    const markdown = await object(`${prefix}/daily/${result.window.date}.md`);
    expect(result.markdownKey).toBe(`${prefix}/daily/${result.window.date}.md`);
    expect(markdown).toContain(`# Daily operations report, ${result.window.date}`);
    expect(markdown).toContain('| api | 100.000% | 1.00% | 100 ms | 406 ms | 750 ms |');
    expect(markdown).toContain('| web | 87.500% | 0.00% | 50 ms | 95 ms | 99 ms |');
    expect(markdown).toContain('| payments | no data | no data | no data | no data | no data |');
    expect(markdown).toContain('| payments-availability | payments | 99.90% | 30d | no data | no data | no data |');
    expect(markdown).toContain('| 3 | 1 | 1 | 1 | 0 | 2 | 2 | 10 min | 1 h 23 min | 3 |');
    expect(markdown).toContain('| orders | 1 | ');
    expect(markdown).toContain('| 2 | 1 | 1 | 1 |');
    expect(markdown).toContain('| production | shop/api | 2 | 50.0% | 70 | 40 | 0% | 3 | down |');
    expect(markdown).toContain('## Security findings\n\nOpen: 1 CRITICAL, 2 HIGH.');
    expect(markdown).toContain('| CRITICAL | CVE-2026-2000 | openssl | Deployment shop/api | registry/shop/api:1.0 | 2 |');
    expect(markdown).not.toContain('CVE-2026-4000');

    // The HTML page: every section, every chart, the figures in the charts, nothing fetched from elsewhere.
    const html = await object(result.htmlKey);
    for (const section of ['summary', 'services', 'slos', 'incidents', 'backups', 'rollouts', 'deployments', 'security']) expect(html).toContain(`<section id="${section}">`);
    for (const chart of ['error-ratio', 'latency', 'error-budget', 'incidents']) expect(html).toContain(`<figure data-chart="${chart}">`);
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).not.toMatch(/<script|<link |src="http/);
    const errorChart = html.slice(html.indexOf('data-chart="error-ratio"'), html.indexOf('data-chart="latency"'));
    expect([...errorChart.matchAll(/data-series="api" data-day="([^"]+)" data-value="([^"]+)"/g)].map((match) => Number(Number(match[2]).toFixed(6)))).toEqual([0.01, 0.01, 0.01, 0.01, 0.05, 0.01, 0.01]);
    expect(errorChart).not.toContain('data-series="payments"');
    expect(errorChart).toContain('payments (no data)');
    const incidentChart = html.slice(html.indexOf('data-chart="incidents"'));
    expect([...incidentChart.matchAll(/<rect [^>]*data-value="(\d+)"/g)].map((match) => Number(match[1]))).toEqual([0, 0, 0, 0, 1, 0, 3]);
    expect(html).toContain('<td class="no-data">no data</td>');

    // Slack: one summary in the report channel, linking to the page; email: the page itself.
    const posted = slack.inChannel('#ops-reports');
    expect(posted).toHaveLength(1);
    expect(posted[0]!.text).toContain(`*Daily operations report ${result.window.date}*: 3 incidents (1 critical, 1 high, 1 medium), MTTA 10 min, MTTR 1 h 23 min, 3 open`);
    expect(posted[0]!.text).toContain(`https://reports.example.com/${result.htmlKey}`);
    expect(mail.messages).toHaveLength(1);
    expect(mail.messages[0]).toMatchObject({ to: ['lead@example.com', 'sre@example.com'], subject: `Daily operations report ${result.window.date}` });
    expect(mail.messages[0]!.raw).toContain('text/html');
    expect(result.email).toMatchObject({ to: ['lead@example.com', 'sre@example.com'] });
    const audit = await pool.query(`SELECT action, target FROM audit_events WHERE action LIKE 'report.%' ORDER BY id`);
    expect(audit.rows).toEqual([
      { action: 'report.publish', target: `s3://${clients.stack.s3.bucket}/${result.htmlKey}` },
      { action: 'report.email', target: 'lead@example.com,sre@example.com' },
    ]);
  });

  it('builds the weekly report over the last full Monday-to-Sunday week', async () => {
    const result = await run({ period: 'weekly', at: iso(today + 8 * HOUR), destinations: [] });
    const end = Date.parse(result.window.end);
    expect(new Date(end).getUTCDay()).toBe(1);
    expect(Date.parse(result.window.start)).toBe(end - 7 * DAY);
    expect(result.htmlKey).toBe(`${prefix}/weekly/${result.window.date}.html`);
    const api = result.data.services[0]!;
    expect(api.errorRatio).toBeCloseTo(expectedErrorRatio(model, 'api', end, 7), 12);
    expect(api.availability).toBe(1);
    expect(api.p95).toBeCloseTo(expectedQuantile(model, 'api', end, 7, 0.95), 12);
    expect(result.data.services[1]!.availability).toBeCloseTo(expectedAvailability(model, 'web', end, 7), 12);
    expect(result.data.slos[0]!.burnRate).toBeCloseTo(expectedErrorRatio(model, 'api', end, 7) / 0.01, 10);
    expect(result).not.toHaveProperty('slack');
    expect(result).not.toHaveProperty('email');
  });

  it('is run by opsctl report run, which writes the page locally too', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ops-report-out-')), 'weekly.html');
    const result = await opsctlAsync(['--json', 'report', 'run', 'weekly', '--at', iso(today + 8 * HOUR), '--no-deliver', '--out', out, '--by', 'carol'], { OPS_TASK_QUEUE: taskQueue });
    expect(result.status, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout) as { htmlKey: string; out: string; window: { period: string } };
    expect(parsed).toMatchObject({ out, window: { period: 'weekly' }, htmlKey: expect.stringMatching(new RegExp(`^${prefix}/weekly/`)) });
    expect(readFileSync(out, 'utf8')).toBe(await object(parsed.htmlKey));
    const bad = await opsctlAsync(['report', 'run', 'monthly'], { OPS_TASK_QUEUE: taskQueue });
    expect([bad.status, bad.stderr]).toEqual([2, "error: command-argument value 'monthly' is invalid for argument 'period'. expected daily or weekly\n"]);
  });

  it('refuses a period it does not know, naming it', async () => {
    const error = await run({ period: 'monthly' as never }).catch((caught: unknown) => caught);
    expect(failureMessage(error)).toBe('period must be "daily" or "weekly", not "monthly"');
  });
});

/** Incidents, alerts, backups and rollout audit rows with known times. */
async function seedOperations(pool: pg.Pool): Promise<void> {
  const incident = async (id: string, severity: string, opened: number, acknowledged?: number, resolved?: number, alerts: string[] = []) => {
    await pool.query(
      `INSERT INTO incidents (id, workflow_id, run_id, dedup_key, source, title, service, severity, status, opened_at, acknowledged_at, resolved_at)
       VALUES ($1, $1, 'run', $1, 'alertmanager', $1, 'api', $2, $3, $4, $5, $6)`,
      [id, severity, resolved ? 'resolved' : acknowledged ? 'acknowledged' : 'triggered', iso(opened), acknowledged ? iso(acknowledged) : null, resolved ? iso(resolved) : null],
    );
    for (const [index, alertname] of alerts.entries()) {
      await pool.query(
        `INSERT INTO incident_alerts (incident_id, fingerprint, alertname, status, severity, labels, first_seen_at, updated_at) VALUES ($1, $2, $3, 'firing', $4, '{}', $5, $5)`,
        [id, `${id}-${index}`, alertname, severity, iso(opened)],
      );
    }
  };
  await incident('yesterday-critical', 'critical', yesterday + 10 * HOUR, yesterday + 10 * HOUR + 5 * MINUTE, yesterday + 10 * HOUR + 45 * MINUTE, ['HighErrorRate', 'HighErrorRate', 'HighErrorRate']);
  await incident('yesterday-high', 'high', yesterday + 12 * HOUR, yesterday + 12 * HOUR + 15 * MINUTE, yesterday + 14 * HOUR, ['HighLatency', 'HighLatency']);
  await incident('yesterday-medium', 'medium', yesterday + 20 * HOUR, undefined, undefined, ['DiskFull']);
  await incident('older-open', 'low', today - 3 * DAY + HOUR, undefined, undefined, ['CertificateExpiringSoon']);
  // Resolved after the period ended: open at its end.
  await incident('tomorrow-resolved', 'low', today - 30 * DAY, today - 30 * DAY + HOUR, today + HOUR);

  const backup = (database: string, finished: number, bytes: number, verified?: number) =>
    pool.query(
      `INSERT INTO backups (database, bucket, object_key, manifest_key, bytes, sha256, server_version, started_at, finished_at, workflow_id, verified_at)
       VALUES ($1, 'b', $2, $3, $4, 'x', '16', $5, $5, 'w', $6)`,
      [database, `${database}-${finished}`, `${database}-${finished}.json`, bytes, iso(finished), verified ? iso(verified) : null],
    );
  await backup('orders', yesterday + 2 * HOUR + 10 * MINUTE, 1_610_612_736, yesterday + 2 * HOUR + 30 * MINUTE);
  await backup('default', today - 3 * DAY + 2 * HOUR, 1024);

  const audit = (workflow: string, action: string, at: number) =>
    pool.query(`INSERT INTO audit_events (occurred_at, actor, action, target, outcome, workflow_id, idempotency_key) VALUES ($1, 'system', $2, 'k8s', 'succeeded', $3, $4)`, [
      iso(at),
      action,
      workflow,
      `${workflow}:${action}`,
    ]);
  for (const action of ['rollout.checked', 'rollout.image-set', 'rollout.done']) await audit('rollout-shop-api', action, yesterday + 9 * HOUR);
  for (const action of ['rollout.checked', 'rollout.image-set', 'rollout.failed', 'rollout.restore-image']) await audit('rollout-shop-cart', action, yesterday + 11 * HOUR);
  await audit('rollout-shop-old', 'rollout.checked', today - 5 * DAY);

  // Deployment monitor checks: two in the period (one healthy, one down), one before it.
  const monitorCheck = (at: number, ready: number, restarts: number, score: number, state: string) =>
    pool.query(
      `INSERT INTO deployment_checks (checked_at, environment, namespace, deployment, desired, ready, available, updated, restarts, score, state)
       VALUES ($1, 'production', 'shop', 'api', 2, $2, $2, 2, $3, $4, $5)`,
      [iso(at), ready, restarts, score, state],
    );
  await monitorCheck(yesterday + HOUR, 2, 0, 100, 'healthy');
  await monitorCheck(yesterday + 2 * HOUR, 0, 3, 40, 'down');
  await monitorCheck(yesterday - HOUR, 2, 0, 0, 'down');

  // Security findings: open ones by severity and age; one resolved before the period ended is not listed, one resolved after it is.
  const finding = (workload: string, image: string, id: string, severity: string, firstSeen: number, resolved?: number) =>
    pool.query(
      `INSERT INTO security_findings (workload, image, vulnerability, package, severity, first_seen_at, last_seen_at, resolved_at) VALUES ($1, $2, $3, 'openssl', $4, $5, $5, $6)`,
      [workload, image, id, severity, iso(firstSeen), resolved ? iso(resolved) : null],
    );
  await finding('Deployment shop/api', 'registry/shop/api:1.0', 'CVE-2026-1000', 'HIGH', today - 10 * DAY);
  await finding('Deployment shop/api', 'registry/shop/api:1.0', 'CVE-2026-2000', 'CRITICAL', today - 2 * DAY - HOUR);
  await finding('Deployment shop/cart', 'registry/shop/cart:2.0', 'CVE-2026-3000', 'HIGH', today - 40 * DAY, today + 2 * HOUR);
  await finding('Deployment shop/cart', 'registry/shop/cart:1.9', 'CVE-2026-4000', 'CRITICAL', today - 50 * DAY, today - 20 * DAY);
}
