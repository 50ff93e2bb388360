import { createHash, createHmac } from 'node:crypto';
import type { Env } from '../config/env.js';
import { sameSecret } from '../webhooks/auth.js';

/**
 * One-click acknowledgement links in email pages: a token that is an HMAC
 * over the incident, the person and an expiry (24 h), so the webhook server
 * can trust the link without a lookup. It works once (ack_tokens_used).
 */
export interface AckClaims {
  /** The incident: `<workflow ID>/<first run ID>`. */
  incident: string;
  person: string;
  /** Unix seconds. */
  expires: number;
}

export const ACK_TOKEN_TTL_SECONDS = 24 * 3600;

const encode = (text: string) => Buffer.from(text).toString('base64url');
const mac = (secret: string, body: string) => createHmac('sha256', secret).update(`ack:${body}`).digest('base64url');

/** The key for ack links: OPS_ACK_SECRET, else one derived from the intake's own secret; none without either. */
export function ackSecretOf(env: Pick<Env, 'OPS_ACK_SECRET' | 'OPS_WEBHOOK_TOKEN' | 'OPS_WEBHOOK_HMAC_SECRET'>): string | undefined {
  if (env.OPS_ACK_SECRET) return env.OPS_ACK_SECRET;
  const base = env.OPS_WEBHOOK_TOKEN ?? env.OPS_WEBHOOK_HMAC_SECRET;
  return base ? createHmac('sha256', base).update('ops-automation ack links').digest('hex') : undefined;
}

export function signAckToken(secret: string, claims: AckClaims): string {
  const body = encode(JSON.stringify({ i: claims.incident, p: claims.person, e: claims.expires }));
  return `${body}.${mac(secret, body)}`;
}

export type AckTokenCheck = { ok: true; claims: AckClaims } | { ok: false; reason: 'forged' | 'expired' };

export function verifyAckToken(secret: string, token: string, nowSeconds: number): AckTokenCheck {
  const [body, signature, extra] = token.split('.');
  if (!body || !signature || extra !== undefined || !sameSecret(signature, mac(secret, body))) return { ok: false, reason: 'forged' };
  let parsed: { i?: unknown; p?: unknown; e?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof parsed;
  } catch {
    return { ok: false, reason: 'forged' };
  }
  if (typeof parsed.i !== 'string' || typeof parsed.p !== 'string' || typeof parsed.e !== 'number') return { ok: false, reason: 'forged' };
  if (parsed.e < nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { incident: parsed.i, person: parsed.p, expires: parsed.e } };
}

/** What the used-token table keeps: a hash, never the token itself. */
export function ackTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
