import { ApplicationFailure, proxyActivities, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { createNotifyActivities } from '../activities/notify.js';
import type { createReportActivities } from '../activities/reports.js';
import { ErrorType } from '../src/domain/errors.js';
import { reportWindow, type ReportData, type ReportPeriod, type ReportWindow } from '../src/domain/report.js';
import { OpsKind, OpsStatus } from '../src/domain/search-attributes.js';
import { notification, quickApiCall } from './activity-profiles.js';

/**
 * reportWorkflow: the daily (previous UTC day) or weekly (previous Monday to
 * Sunday) operations report. Figures come from Prometheus (availability,
 * error ratio, latency quantiles, SLO attainment and burn) and PostgreSQL
 * (incidents, MTTA/MTTR, backups, rollouts); the Markdown and a
 * self-contained HTML page with inline SVG charts go to S3 under
 * `<prefix>/<period>/<date>.{md,html}`, a summary to Slack, the HTML by email.
 *   temporal workflow start --type reportWorkflow --task-queue ops --input '{"period": "weekly"}'
 */
export interface ReportInput {
  period?: ReportPeriod;
  /** The report is the one due at this time (ISO); default now. */
  at?: string;
  /** Default: the policy's reports.services. */
  services?: string[];
  /** Where the report goes besides S3; default both (each only when configured). */
  destinations?: Array<'slack' | 'email'>;
  /** Default: the policy's reports.recipients. */
  recipients?: string[];
  requestedBy?: string;
}

export interface ReportResult {
  window: ReportWindow;
  bucket: string;
  markdownKey: string;
  htmlKey: string;
  link: string;
  summary: string;
  slack?: { channel: string; ts: string };
  email?: { messageId: string; to: string[] };
  data: ReportData;
}

const reports = proxyActivities<ReturnType<typeof createReportActivities>>({ ...quickApiCall, startToCloseTimeout: '5m' });
const notify = proxyActivities<ReturnType<typeof createNotifyActivities>>(notification);

export async function reportWorkflow(input: ReportInput = {}): Promise<ReportResult> {
  const period = input.period ?? 'daily';
  if (period !== 'daily' && period !== 'weekly') throw ApplicationFailure.nonRetryable(`period must be "daily" or "weekly", not ${JSON.stringify(period)}`, ErrorType.InvalidInput);
  const window = reportWindow(period, input.at ?? new Date().toISOString());
  upsertSearchAttributes([
    { key: OpsKind, value: 'report' },
    { key: OpsStatus, value: 'running' },
  ]);
  upsertMemo({ summary: `${period} report for ${window.date}` });

  const settings = await reports.reportSettings();
  const services = input.services ?? settings.services;
  const [serviceFigures, slos, operations] = await Promise.all([
    reports.collectServiceFigures({ window, services }),
    reports.collectSloFigures({ window }),
    reports.collectOperationsFigures({ window }),
  ]);
  const data: ReportData = { window, generatedAt: new Date().toISOString(), services: serviceFigures, slos, operations };
  const published = await reports.publishReport({ data });

  const destinations = input.destinations ?? ['slack', 'email'];
  const heading = `${period === 'daily' ? 'Daily' : 'Weekly'} operations report ${window.date}`;
  let slack: ReportResult['slack'];
  if (destinations.includes('slack') && settings.slack) {
    slack = await notify.postOpsMessage({
      text: `*${heading}*: ${published.summary}\n${published.link}`,
      idempotencyKey: `report:${published.htmlKey}`,
      ...(settings.slackChannel ? { channel: settings.slackChannel } : {}),
    });
  }
  const recipients = input.recipients ?? settings.recipients;
  let email: ReportResult['email'];
  if (destinations.includes('email') && recipients.length > 0) {
    const sent = await reports.emailReport({ htmlKey: published.htmlKey, subject: heading, to: recipients, summary: `${published.summary}\n\n${published.link}` });
    email = { messageId: sent.messageId, to: recipients };
  }

  upsertSearchAttributes([{ key: OpsStatus, value: 'succeeded' }]);
  upsertMemo({ summary: `${heading}: ${published.summary}` });
  return { window, ...published, ...(slack ? { slack } : {}), ...(email ? { email } : {}), data };
}
