import { createHash } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type pg from 'pg';
import type { Transporter } from 'nodemailer';
import { ensureBucket, ObjectLockMissingError } from '../src/clients/s3.js';
import { writeAuditEvent } from '../src/db/audit.js';
import { collectEvidence, type EvidencePolicy } from '../src/db/compliance-evidence.js';
import { complianceSummary, evaluateControls, type ComplianceEvidence, type ComplianceWindow, type ControlResult } from '../src/domain/compliance.js';
import { ErrorType } from '../src/domain/errors.js';
import { renderComplianceHtml } from '../src/reports/compliance-html.js';
import { renderComplianceMarkdown } from '../src/reports/compliance-markdown.js';
import { bindDeps } from './bind-deps.js';
import { mailStoredPage } from './mail-stored-page.js';

/**
 * The compliance report's evidence from our records, its Markdown and HTML in
 * a bucket with S3 Object Lock (each object retained for the policy's
 * retention, in its mode), and the HTML by email.
 */
export interface ComplianceDeps {
  pool: pg.Pool;
  s3: S3Client;
  bucket: string;
  smtp: Transporter | undefined;
  smtpFrom: string;
  policy: EvidencePolicy;
}

export interface PublishedCompliance {
  bucket: string;
  markdownKey: string;
  htmlKey: string;
  /** The locked versions: a later report of the same month is a new version beside them. */
  versions: { markdown?: string; html?: string };
  retainUntil: string;
  mode: 'COMPLIANCE' | 'GOVERNANCE';
  controls: ControlResult[];
  summary: string;
}

export async function complianceSettings(deps: ComplianceDeps): Promise<{ recipients: string[] }> {
  return { recipients: deps.policy.compliance.recipients };
}

export async function collectComplianceEvidence(deps: ComplianceDeps, input: { window: ComplianceWindow; generatedAt: string }): Promise<ComplianceEvidence> {
  return { ...(await collectEvidence(deps.pool, deps.policy, input.window)), generatedAt: input.generatedAt };
}

const complianceBucket = (deps: ComplianceDeps) => deps.policy.compliance.bucket ?? `${deps.bucket}-compliance`;

/** Puts one locked object, unless the very same content is already there (a retried attempt). */
async function putLocked(deps: ComplianceDeps, key: string, body: string, contentType: string, retainUntil: Date): Promise<string | undefined> {
  const md5 = createHash('md5').update(body).digest();
  const bucket = complianceBucket(deps);
  try {
    const head = await deps.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    if (head.ETag?.replaceAll('"', '') === md5.toString('hex')) return head.VersionId;
  } catch (error) {
    if (!(error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)) throw error;
  }
  const put = await deps.s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentType: contentType,
      // Object Lock puts must carry an integrity header.
      ContentMD5: md5.toString('base64'),
      ObjectLockMode: deps.policy.compliance.mode,
      ObjectLockRetainUntilDate: retainUntil,
    }),
  );
  return put.VersionId;
}

export async function publishComplianceReport(deps: ComplianceDeps, input: { evidence: ComplianceEvidence }): Promise<PublishedCompliance> {
  const { evidence } = input;
  const { prefix, retention, mode, backupMaxGap } = deps.policy.compliance;
  const bucket = complianceBucket(deps);
  try {
    await ensureBucket(deps.s3, bucket, { objectLock: true });
  } catch (error) {
    if (error instanceof ObjectLockMissingError) throw ApplicationFailure.nonRetryable(error.message, ErrorType.InvalidInput);
    throw error;
  }
  const controls = evaluateControls(evidence, { backupMaxGapMs: backupMaxGap });
  const markdownKey = `${prefix}/${evidence.window.month}.md`;
  const htmlKey = `${prefix}/${evidence.window.month}.html`;
  // Retained from when the report was generated: a retried attempt locks the same date.
  const retainUntil = new Date(Date.parse(evidence.generatedAt) + retention);
  const markdown = await putLocked(deps, markdownKey, renderComplianceMarkdown(evidence, controls), 'text/markdown; charset=utf-8', retainUntil);
  const html = await putLocked(deps, htmlKey, renderComplianceHtml(evidence, controls), 'text/html; charset=utf-8', retainUntil);
  const summary = complianceSummary(controls);
  await writeAuditEvent(
    deps.pool,
    {
      actor: 'system',
      action: 'compliance.publish',
      target: `s3://${bucket}/${htmlKey}`,
      outcome: 'succeeded',
      details: { markdownKey, htmlKey, versions: { markdown, html }, retainUntil: retainUntil.toISOString(), mode, summary },
      idempotencyKey: `compliance-publish:${htmlKey}:${evidence.generatedAt}`,
    },
    Context.current().info.workflowExecution,
  );
  return {
    bucket,
    markdownKey,
    htmlKey,
    versions: { ...(markdown ? { markdown } : {}), ...(html ? { html } : {}) },
    retainUntil: retainUntil.toISOString(),
    mode,
    controls,
    summary,
  };
}

/** Mails the stored HTML once per report version and recipient list (mail-stored-page.ts). */
export async function emailComplianceReport(deps: ComplianceDeps, input: { htmlKey: string; version?: string; subject: string; to: string[]; summary: string }): Promise<{ messageId: string; sent: boolean }> {
  return mailStoredPage(deps, {
    bucket: complianceBucket(deps),
    key: input.htmlKey,
    ...(input.version ? { versionId: input.version } : {}),
    subject: input.subject,
    to: input.to,
    text: input.summary,
    action: 'compliance.email',
    what: 'the compliance report',
  });
}

export function createComplianceActivities(deps: ComplianceDeps) {
  return bindDeps(deps, { complianceSettings, collectComplianceEvidence, publishComplianceReport, emailComplianceReport });
}
