import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Context } from '@temporalio/activity';
import type pg from 'pg';
import type { Transporter } from 'nodemailer';
import type { Policy } from '../src/config/policy.js';
import { budgetLeft, burnRate, reportObjectKey, type DayFigure, type OperationsFigures, type ReportData, type ReportWindow, type ServiceFigures, type SloFigures } from '../src/domain/report.js';
import { SEVERITIES, type Severity } from '../src/domain/severity.js';
import { renderReportHtml } from '../src/reports/html.js';
import { renderReportMarkdown, reportSummary } from '../src/reports/markdown.js';
import { writeAuditEvent } from '../src/db/audit.js';
import { listOpenFindings, type OpenFinding } from '../src/db/security-findings.js';
import { checksSince } from '../src/db/deployment-checks.js';
import { instantQuery } from './prometheus.js';
import { bindDeps } from './bind-deps.js';
import { mailStoredPage } from './mail-stored-page.js';

/**
 * The report's sources and outputs: figures from Prometheus (per service and
 * per SLO) and from our PostgreSQL (incidents, backups, rollouts), then the
 * Markdown and HTML in S3 and the HTML by email. A query without data gives
 * `undefined`, which the report prints as "no data".
 */
export interface ReportDeps {
  prometheusUrl: string;
  pool: pg.Pool;
  s3: S3Client;
  bucket: string;
  smtp: Transporter | undefined;
  smtpFrom: string;
  policy: Pick<Policy, 'reports' | 'slos'>;
  slack?: unknown;
}

const DAY_MS = 86_400_000;

function fill(template: string, values: Record<string, string>): string {
  let query = template;
  for (const [name, value] of Object.entries(values)) query = query.replaceAll(`$${name}`, value);
  return query;
}

/** Runs queries a few at a time (Prometheus is shared), each at its own evaluation time. */
async function values(prometheusUrl: string, queries: Array<{ query: string; at: string }>): Promise<Array<number | undefined>> {
  const results: Array<number | undefined> = new Array(queries.length);
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < queries.length; index = next++) {
      const { query, at } = queries[index]!;
      const samples = (await instantQuery(prometheusUrl, query, new Date(at))).filter((sample) => Number.isFinite(sample.value));
      results[index] = samples.length === 1 ? samples[0]!.value : samples.length === 0 ? undefined : samples.reduce((sum, sample) => sum + sample.value, 0);
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  return results;
}

const dayOf = (end: string) => new Date(Date.parse(end) - DAY_MS).toISOString().slice(0, 10);

/** The report settings the workflow needs (it cannot read the policy file). */
export async function reportSettings(deps: ReportDeps): Promise<{ services: string[]; recipients: string[]; slack: boolean; slackChannel?: string }> {
  return { services: deps.policy.reports.services, recipients: deps.policy.reports.recipients, slack: deps.slack !== undefined, ...(deps.policy.reports.slackChannel ? { slackChannel: deps.policy.reports.slackChannel } : {}) };
}

/** Availability, error ratio and latency quantiles over the period, and per day for the charts. */
export async function collectServiceFigures(deps: ReportDeps, input: { window: ReportWindow; services: string[] }): Promise<ServiceFigures[]> {
  const { window } = input;
  const q = deps.policy.reports.queries;
  const figures: ServiceFigures[] = [];
  for (const service of input.services) {
    const period = { service, window: window.range };
    const daily = { service, window: '1d' };
    const asked = [
      { query: fill(q.availability, period), at: window.end },
      { query: fill(q.errorRatio, period), at: window.end },
      ...['0.5', '0.95', '0.99'].map((quantile) => ({ query: fill(q.latency, { ...period, quantile }), at: window.end })),
      ...window.chartDays.flatMap((at) => [
        { query: fill(q.errorRatio, daily), at },
        { query: fill(q.latency, { ...daily, quantile: '0.95' }), at },
        { query: fill(q.latency, { ...daily, quantile: '0.99' }), at },
      ]),
    ];
    const answers = await values(deps.prometheusUrl, asked);
    const byDay = (offset: number): DayFigure[] => window.chartDays.map((at, index) => ({ day: dayOf(at), ...defined(answers[5 + index * 3 + offset]) }));
    figures.push({
      service,
      ...definedAs('availability', answers[0]),
      ...definedAs('errorRatio', answers[1]),
      ...definedAs('p50', answers[2]),
      ...definedAs('p95', answers[3]),
      ...definedAs('p99', answers[4]),
      errorRatioByDay: byDay(0),
      p95ByDay: byDay(1),
      p99ByDay: byDay(2),
    });
    Context.current().heartbeat({ service });
  }
  return figures;
}

/** Attainment and budget over each SLO's window ending with the period, the period's burn rate, and budget left per day. */
export async function collectSloFigures(deps: ReportDeps, input: { window: ReportWindow }): Promise<SloFigures[]> {
  const { window } = input;
  const figures: SloFigures[] = [];
  for (const slo of deps.policy.slos) {
    const windowDays = Math.round(slo.window / DAY_MS);
    const bad = (range: string) =>
      slo.kind === 'availability'
        ? fill(deps.policy.reports.queries.errorRatio, { service: slo.service, window: range })
        : fill(deps.policy.reports.queries.slowRatio, { service: slo.service, window: range, threshold: String(slo.threshold) });
    const sloRange = `${windowDays}d`;
    const answers = await values(deps.prometheusUrl, [
      { query: bad(sloRange), at: window.end },
      { query: bad(window.range), at: window.end },
      ...window.chartDays.map((at) => ({ query: bad(sloRange), at })),
    ]);
    const [overWindow, overPeriod] = answers;
    figures.push({
      name: slo.name,
      service: slo.service,
      kind: slo.kind,
      objective: slo.objective,
      ...(slo.threshold !== undefined ? { threshold: slo.threshold } : {}),
      windowDays,
      ...(overWindow !== undefined ? { attainment: 1 - overWindow, budgetLeft: budgetLeft(slo.objective, overWindow) } : {}),
      ...(overPeriod !== undefined ? { burnRate: burnRate(slo.objective, overPeriod) } : {}),
      budgetLeftByDay: window.chartDays.map((at, index) => {
        const ratio = answers[2 + index];
        return { day: dayOf(at), ...(ratio !== undefined ? { value: budgetLeft(slo.objective, ratio) } : {}) };
      }),
    });
  }
  return figures;
}

/** Incidents, backups and rollouts of the period from our own tables. */
export async function collectOperationsFigures(deps: ReportDeps, input: { window: ReportWindow }): Promise<OperationsFigures> {
  const { start, end, chartDays } = input.window;
  const incidents = await deps.pool.query<{ severity: Severity; opened: number; acknowledged: number; resolved: number; mtta_ms: number | null; mttr_ms: number | null }>(
    `SELECT severity, count(*)::int AS opened,
            count(acknowledged_at)::int AS acknowledged, count(resolved_at)::int AS resolved,
            (sum(extract(epoch FROM acknowledged_at - opened_at) * 1000))::float8 AS mtta_ms,
            (sum(extract(epoch FROM resolved_at - opened_at) * 1000))::float8 AS mttr_ms
       FROM incidents WHERE opened_at >= $1 AND opened_at < $2 GROUP BY severity`,
    [start, end],
  );
  const bySeverity = Object.fromEntries(SEVERITIES.map((severity) => [severity, 0])) as Record<Severity, number>;
  let opened = 0;
  let acknowledged = 0;
  let resolved = 0;
  let ackSum = 0;
  let resolveSum = 0;
  for (const row of incidents.rows) {
    bySeverity[row.severity] = row.opened;
    opened += row.opened;
    acknowledged += row.acknowledged;
    resolved += row.resolved;
    ackSum += row.mtta_ms ?? 0;
    resolveSum += row.mttr_ms ?? 0;
  }
  const openAtEnd = await deps.pool.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM incidents WHERE opened_at < $1 AND (resolved_at IS NULL OR resolved_at >= $1)`,
    [end],
  );
  const noisiest = await deps.pool.query<{ alertname: string; alerts: number; incidents: number }>(
    `SELECT coalesce(a.alertname, '(none)') AS alertname, count(*)::int AS alerts, count(DISTINCT a.incident_id)::int AS incidents
       FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id
      WHERE i.opened_at >= $1 AND i.opened_at < $2
      GROUP BY 1 ORDER BY alerts DESC, alertname LIMIT 5`,
    [start, end],
  );
  const perDay = await deps.pool.query<{ day: string; count: number }>(
    `SELECT to_char(date_trunc('day', opened_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, count(*)::int AS count
       FROM incidents WHERE opened_at >= $1 AND opened_at < $2 GROUP BY 1`,
    [new Date(Date.parse(chartDays[0]!) - DAY_MS).toISOString(), chartDays[chartDays.length - 1]],
  );
  const backups = await deps.pool.query<{ database: string; succeeded: number; last_success: Date | null; last_verified: Date | null; last_bytes: string | null }>(
    `SELECT database,
            count(*) FILTER (WHERE finished_at >= $1 AND finished_at < $2)::int AS succeeded,
            max(finished_at) AS last_success, max(verified_at) AS last_verified,
            (array_agg(bytes ORDER BY finished_at DESC))[1]::text AS last_bytes
       FROM backups WHERE finished_at < $2 GROUP BY database ORDER BY database`,
    [start, end],
  );
  const rollouts = await deps.pool.query<{ started: number; succeeded: number; rolled_back: number; failed: number }>(
    `SELECT count(DISTINCT workflow_id) FILTER (WHERE action = 'rollout.checked')::int AS started,
            count(DISTINCT workflow_id) FILTER (WHERE action = 'rollout.done')::int AS succeeded,
            count(DISTINCT workflow_id) FILTER (WHERE action = 'rollout.restore-image')::int AS rolled_back,
            count(DISTINCT workflow_id) FILTER (WHERE action = 'rollout.failed')::int AS failed
       FROM audit_events WHERE action LIKE 'rollout.%' AND occurred_at >= $1 AND occurred_at < $2`,
    [start, end],
  );
  const counts = new Map(perDay.rows.map((row) => [row.day, row.count]));
  return {
    incidents: {
      opened,
      bySeverity,
      acknowledged,
      resolved,
      ...(acknowledged > 0 ? { mttaMs: Math.round(ackSum / acknowledged) } : {}),
      ...(resolved > 0 ? { mttrMs: Math.round(resolveSum / resolved) } : {}),
      openAtEnd: openAtEnd.rows[0]!.count,
      noisiest: noisiest.rows,
      openedByDay: chartDays.map((at) => ({ day: dayOf(at), value: counts.get(dayOf(at)) ?? 0 })),
    },
    backups: backups.rows.map((row) => ({
      database: row.database,
      succeeded: row.succeeded,
      ...(row.last_success ? { lastSuccess: row.last_success.toISOString() } : {}),
      ...(row.last_verified ? { lastVerified: row.last_verified.toISOString() } : {}),
      ...(row.last_bytes ? { lastBytes: Number(row.last_bytes) } : {}),
    })),
    rollouts: { started: rollouts.rows[0]!.started, succeeded: rollouts.rows[0]!.succeeded, rolledBack: rollouts.rows[0]!.rolled_back, failed: rollouts.rows[0]!.failed },
    deployments: (await checksSince(deps.pool, start, undefined, end)).map((period) => ({
      environment: period.environment,
      deployment: `${period.namespace}/${period.deployment}`,
      checks: period.checks,
      healthyRatio: period.healthyRatio,
      averageScore: period.averageScore,
      minScore: period.minScore,
      minReadyRatio: period.minReadyRatio,
      maxRestarts: period.maxRestarts,
      lastState: period.lastState,
    })),
    security: securityFigures(await listOpenFindings(deps.pool, end), end),
  };
}

function securityFigures(open: OpenFinding[], end: string): NonNullable<OperationsFigures['security']> {
  const bySeverity: Record<string, number> = {};
  for (const finding of open) bySeverity[finding.severity] = (bySeverity[finding.severity] ?? 0) + 1;
  return {
    open: open.map((finding) => ({
      severity: finding.severity,
      vulnerability: finding.vulnerability,
      package: finding.package,
      workload: finding.workload,
      image: finding.image,
      firstSeenAt: finding.firstSeenAt,
      ageDays: Math.max(0, Math.floor((Date.parse(end) - Date.parse(finding.firstSeenAt)) / DAY_MS)),
    })),
    bySeverity,
  };
}

/** Renders the report and stores it as <prefix>/<period>/<date>.{md,html}; the keys are the idempotency keys. */
export async function publishReport(deps: ReportDeps, input: { data: ReportData }): Promise<{ bucket: string; markdownKey: string; htmlKey: string; link: string; summary: string; bytes: number }> {
  const { data } = input;
  const markdownKey = reportObjectKey(deps.policy.reports.prefix, data.window, 'md');
  const htmlKey = reportObjectKey(deps.policy.reports.prefix, data.window, 'html');
  const markdown = renderReportMarkdown(data);
  const html = renderReportHtml(data);
  await deps.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: markdownKey, Body: markdown, ContentType: 'text/markdown; charset=utf-8' }));
  await deps.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: htmlKey, Body: html, ContentType: 'text/html; charset=utf-8' }));
  const { linkBase } = deps.policy.reports;
  const link = linkBase ? `${linkBase.replace(/\/+$/, '')}/${htmlKey}` : `s3://${deps.bucket}/${htmlKey}`;
  await writeAuditEvent(
    deps.pool,
    { actor: 'system', action: 'report.publish', target: `s3://${deps.bucket}/${htmlKey}`, outcome: 'succeeded', details: { markdownKey, htmlKey }, idempotencyKey: `report-publish:${htmlKey}:${data.generatedAt}` },
    Context.current().info.workflowExecution,
  );
  return { bucket: deps.bucket, markdownKey, htmlKey, link, summary: reportSummary(data), bytes: Buffer.byteLength(markdown) + Buffer.byteLength(html) };
}

/** Mails the stored HTML report once per report and recipient list (mail-stored-page.ts). */
export async function emailReport(deps: ReportDeps, input: { htmlKey: string; subject: string; to: string[]; summary: string }): Promise<{ messageId: string; sent: boolean }> {
  return mailStoredPage(deps, { bucket: deps.bucket, key: input.htmlKey, subject: input.subject, to: input.to, text: input.summary, action: 'report.email', what: 'the report' });
}

export function createReportActivities(deps: ReportDeps) {
  return bindDeps(deps, { reportSettings, collectServiceFigures, collectSloFigures, collectOperationsFigures, publishReport, emailReport });
}

function defined(value: number | undefined): { value?: number } {
  return value === undefined ? {} : { value };
}

function definedAs<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}
