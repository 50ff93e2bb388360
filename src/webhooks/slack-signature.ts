import { createHmac } from 'node:crypto';
import { sameSecret, type AuthResult } from './auth.js';

/**
 * Slack's request signing (v0): `X-Slack-Signature: v0=<hex HMAC-SHA256(signing
 * secret, "v0:" + X-Slack-Request-Timestamp + ":" + raw body)>`, refused when
 * the timestamp is more than five minutes from now.
 */
export const SLACK_SIGNATURE_HEADER = 'x-slack-signature';
export const SLACK_TIMESTAMP_HEADER = 'x-slack-request-timestamp';
const WINDOW_SECONDS = 300;

export function slackSignature(secret: string, timestamp: number | string, rawBody: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

export function checkSlackSignature(
  headers: Record<string, string | string[] | undefined>,
  rawBody: string,
  secret: string | undefined,
  nowSeconds: number,
): AuthResult {
  if (!secret) return { ok: false, reason: 'Slack requests are not accepted: SLACK_SIGNING_SECRET is not set' };
  const timestamp = String(headers[SLACK_TIMESTAMP_HEADER] ?? '');
  const signature = String(headers[SLACK_SIGNATURE_HEADER] ?? '');
  if (!/^\d+$/.test(timestamp)) return { ok: false, reason: `missing or malformed ${SLACK_TIMESTAMP_HEADER}` };
  if (!/^v0=[0-9a-f]{64}$/i.test(signature)) return { ok: false, reason: `missing or malformed ${SLACK_SIGNATURE_HEADER} (expected v0=<hex>)` };
  if (Math.abs(nowSeconds - Number(timestamp)) > WINDOW_SECONDS) return { ok: false, reason: 'Slack request timestamp is more than 5 minutes off' };
  return sameSecret(signature.toLowerCase(), slackSignature(secret, timestamp, rawBody))
    ? { ok: true, method: 'hmac' }
    : { ok: false, reason: 'Slack signature does not match the body' };
}
