import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Transporter } from 'nodemailer';
import type pg from 'pg';
import { writeAuditEvent } from '../src/db/audit.js';
import { ErrorType } from '../src/domain/errors.js';

/**
 * Mails an HTML page stored in S3 (a report), once: a send already in the
 * audit trail under the same idempotency key (a retry after the mail went
 * out) is not repeated, and the Message-ID comes from the object, so a mail
 * client sees any copy as the same mail.
 */
export interface StoredPageMail {
  bucket: string;
  key: string;
  versionId?: string;
  subject: string;
  to: string[];
  text: string;
  /** The audit action (`report.email`); also names what is mailed in the "not configured" refusal. */
  action: string;
  what: string;
}

export async function mailStoredPage(deps: { pool: pg.Pool; s3: S3Client; smtp: Transporter | undefined; smtpFrom: string }, mail: StoredPageMail): Promise<{ messageId: string; sent: boolean }> {
  if (!deps.smtp) throw ApplicationFailure.nonRetryable(`${mail.what} has recipients but email is not configured (set SMTP_URL)`, ErrorType.InvalidInput);
  const messageId = `<${`${mail.key}${mail.versionId ? `.${mail.versionId}` : ''}`.replace(/[^A-Za-z0-9.-]/g, '.')}@ops-automation>`;
  const idempotencyKey = `${mail.action.replace('.', '-')}:${mail.key}:${mail.versionId ? `${mail.versionId}:` : ''}${[...mail.to].sort().join(',')}`;
  const already = await deps.pool.query('SELECT 1 FROM audit_events WHERE idempotency_key = $1', [idempotencyKey]);
  if (already.rowCount) return { messageId, sent: false };
  const object = await deps.s3.send(new GetObjectCommand({ Bucket: mail.bucket, Key: mail.key, ...(mail.versionId ? { VersionId: mail.versionId } : {}) }));
  const html = (await object.Body?.transformToString('utf8')) ?? '';
  await deps.smtp.sendMail({ from: deps.smtpFrom, to: mail.to, subject: mail.subject, text: mail.text, html, messageId });
  await writeAuditEvent(
    deps.pool,
    { actor: 'system', action: mail.action, target: mail.to.join(','), outcome: 'succeeded', details: { htmlKey: mail.key, messageId }, idempotencyKey },
    Context.current().info.workflowExecution,
  );
  return { messageId, sent: true };
}
