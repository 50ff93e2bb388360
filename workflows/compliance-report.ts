import { ApplicationFailure, proxyActivities, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { createComplianceActivities, PublishedCompliance } from '../activities/compliance.js';
import { complianceWindow, type ComplianceWindow } from '../src/domain/compliance.js';
import { ErrorType } from '../src/domain/errors.js';
import { OpsKind, OpsStatus } from '../src/domain/search-attributes.js';
import { notification, quickApiCall } from './activity-profiles.js';

/**
 * complianceReportWorkflow (monthly, from its schedule): evidence of the
 * previous calendar month (UTC) from our own records (backups and restore
 * drills per database, rollouts with scan and approver, incident response
 * times against the severity targets, runbooks and their guardrails, changes
 * outside approval windows, the audit trail's hash chains with their heads
 * anchored in the report), judged control by control, written as Markdown and
 * HTML to an S3 Object Lock bucket and mailed to `compliance.recipients`.
 *   temporal workflow start --type complianceReportWorkflow --task-queue ops --input '{"month": "2026-11"}'
 */
export interface ComplianceReportInput {
  /** YYYY-MM; default the month before the current one. */
  month?: string;
  /** Default: the policy's compliance.recipients; [] sends nothing. */
  recipients?: string[];
  requestedBy?: string;
}

export interface ComplianceReportResult extends PublishedCompliance {
  window: ComplianceWindow;
  email?: { messageId: string; to: string[] };
}

const compliance = proxyActivities<ReturnType<typeof createComplianceActivities>>({ ...quickApiCall, startToCloseTimeout: '5m' });
const mail = proxyActivities<ReturnType<typeof createComplianceActivities>>(notification);

export async function complianceReportWorkflow(input: ComplianceReportInput = {}): Promise<ComplianceReportResult> {
  const generatedAt = new Date().toISOString();
  let window: ComplianceWindow;
  try {
    window = complianceWindow({ ...(input.month !== undefined ? { month: input.month } : {}), at: generatedAt });
  } catch (error) {
    throw ApplicationFailure.nonRetryable((error as Error).message, ErrorType.InvalidInput);
  }
  upsertSearchAttributes([
    { key: OpsKind, value: 'compliance-report' },
    { key: OpsStatus, value: 'running' },
  ]);
  upsertMemo({ summary: `Compliance report for ${window.month}` });

  const settings = await compliance.complianceSettings();
  const evidence = await compliance.collectComplianceEvidence({ window, generatedAt });
  const published = await compliance.publishComplianceReport({ evidence });

  const recipients = input.recipients ?? settings.recipients;
  let email: ComplianceReportResult['email'];
  if (recipients.length > 0) {
    const sent = await mail.emailComplianceReport({
      htmlKey: published.htmlKey,
      ...(published.versions.html ? { version: published.versions.html } : {}),
      subject: `Compliance report ${window.month}: ${published.controls.filter((control) => control.passed).length}/${published.controls.length} controls passed`,
      to: recipients,
      summary: `${published.summary}\n\ns3://${published.bucket}/${published.htmlKey} (locked until ${published.retainUntil})`,
    });
    email = { messageId: sent.messageId, to: recipients };
  }

  const passed = published.controls.every((control) => control.passed);
  upsertSearchAttributes([{ key: OpsStatus, value: passed ? 'succeeded' : 'controls-failed' }]);
  upsertMemo({ summary: `Compliance report ${window.month}: ${published.summary}` });
  return { window, ...published, ...(email ? { email } : {}) };
}
