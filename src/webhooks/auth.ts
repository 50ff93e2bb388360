import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Intake authentication: a bearer token, or (generic events) an HMAC-SHA256
 * signature of `timestamp + "." + body` in `X-Ops-Signature: t=<unix>,v1=<hex>`
 * with a 5-minute replay window. Every comparison takes constant time.
 */

export const SIGNATURE_HEADER = 'x-ops-signature';
export const REPLAY_WINDOW_SECONDS = 300;

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function bearerTokenOf(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

export type AuthResult = { ok: true; method: 'bearer' | 'hmac' } | { ok: false; reason: string };

export function checkBearer(authorization: string | undefined, token: string | undefined): AuthResult {
  if (!token) return { ok: false, reason: 'bearer authentication is not configured (OPS_WEBHOOK_TOKEN)' };
  const given = bearerTokenOf(authorization);
  if (!given) return { ok: false, reason: 'missing Authorization: Bearer token' };
  return sameSecret(given, token) ? { ok: true, method: 'bearer' } : { ok: false, reason: 'invalid bearer token' };
}

export function signBody(secret: string, timestamp: number, rawBody: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')}`;
}

/** Verifies the signature header; several v1 values are allowed, for secret rotation. */
export function checkSignature(header: string | undefined, rawBody: string, secret: string | undefined, nowSeconds: number): AuthResult {
  if (!secret) return { ok: false, reason: 'signature authentication is not configured (OPS_WEBHOOK_HMAC_SECRET)' };
  if (!header) return { ok: false, reason: `missing ${SIGNATURE_HEADER} header` };
  const parts = header.split(',').map((part) => part.trim().split('=') as [string, string | undefined]);
  const timestampText = parts.find(([key]) => key === 't')?.[1];
  const signatures = parts.filter(([key, value]) => key === 'v1' && value).map(([, value]) => value!);
  if (!timestampText || !/^\d+$/.test(timestampText) || signatures.length === 0) {
    return { ok: false, reason: `malformed ${SIGNATURE_HEADER} header (expected t=<unix>,v1=<hex>)` };
  }
  const timestamp = Number(timestampText);
  if (Math.abs(nowSeconds - timestamp) > REPLAY_WINDOW_SECONDS) {
    return { ok: false, reason: 'signature timestamp is outside the 5-minute window' };
  }
  const expected = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
  return signatures.some((signature) => sameSecret(signature.toLowerCase(), expected))
    ? { ok: true, method: 'hmac' }
    : { ok: false, reason: 'signature does not match the body' };
}
