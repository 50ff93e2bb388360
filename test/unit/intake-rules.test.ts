import { describe, expect, it } from 'vitest';
import { checkBearer, checkSignature, signBody } from '../../src/webhooks/auth.js';
import { alertmanagerDedupKey, eventIncidentKey, groupAlerts, ruleDedupKey } from '../../src/webhooks/dedup.js';
import { alertFromEvent, eventDedupKey, eventSchema } from '../../src/webhooks/events-payload.js';
import { parseMatcher, type Matcher } from '../../src/domain/matchers.js';

describe('authentication', () => {
  const secret = 'a-secret-of-enough-length';
  it('accepts the right bearer token only', () => {
    expect(checkBearer('Bearer abc', 'abc')).toEqual({ ok: true, method: 'bearer' });
    expect(checkBearer('Bearer abd', 'abc')).toEqual({ ok: false, reason: 'invalid bearer token' });
    expect(checkBearer(undefined, 'abc')).toEqual({ ok: false, reason: 'missing Authorization: Bearer token' });
    expect(checkBearer('Bearer abc', undefined).ok).toBe(false);
  });

  it('accepts a signature over timestamp.body inside the 5-minute window, with rotation', () => {
    const body = '{"a":1}';
    const now = 1_800_000_000;
    expect(checkSignature(signBody(secret, now - 299, body), body, secret, now).ok).toBe(true);
    expect(checkSignature(signBody(secret, now + 301, body), body, secret, now)).toEqual({
      ok: false,
      reason: 'signature timestamp is outside the 5-minute window',
    });
    const rotated = `${signBody('an-old-secret-of-some-length', now, body)},v1=${signBody(secret, now, body).split('v1=')[1]}`;
    expect(checkSignature(rotated, body, secret, now).ok).toBe(true);
    expect(checkSignature('v1=abc', body, secret, now).ok).toBe(false);
  });
});

describe('dedup keys', () => {
  it('are readable, stable, and differ by group', () => {
    const key = alertmanagerDedupKey('{}:{alertname="A", service="x"}', { service: 'x', alertname: 'A' });
    expect(key).toMatch(/^am-A-x-[0-9a-f]{12}$/);
    expect(alertmanagerDedupKey('{}:{alertname="A", service="x"}', { alertname: 'A', service: 'x' })).toBe(key);
    expect(alertmanagerDedupKey('{}:{alertname="A", service="y"}', { alertname: 'A', service: 'x' })).not.toBe(key);
    expect(eventIncidentKey('disk-db-1')).toBe('ev-disk-db-1');
    expect(eventIncidentKey('has spaces/and "quotes"')).toMatch(/^ev-has-spaces-and-quotes-[0-9a-f]{12}$/);
  });

  it('group by the first matching rule, else the sender grouping', () => {
    const rule = { name: 'svc', matchers: [parseMatcher('alertname="Disk"') as Matcher], by: ['alertname', 'service'] };
    const alert = (fingerprint: string, labels: Record<string, string>) => ({ fingerprint, status: 'firing' as const, labels, annotations: {} });
    const groups = groupAlerts(
      [alert('1', { alertname: 'Disk', service: 'a' }), alert('2', { alertname: 'Disk', service: 'b' }), alert('3', { alertname: 'Cpu' })],
      [rule],
      'fallback',
    );
    expect([...groups.keys()]).toEqual([ruleDedupKey(rule, { alertname: 'Disk', service: 'a' }), ruleDedupKey(rule, { alertname: 'Disk', service: 'b' }), 'fallback']);
  });

  it('derive a stable key for a trigger without dedup_key', () => {
    const event = eventSchema.parse({ event_action: 'trigger', payload: { summary: 's', source: 'x', severity: 'info' } });
    expect(eventDedupKey(event)).toBe(eventDedupKey(structuredClone(event)));
    expect(alertFromEvent(event, 'k', '2026-01-01T00:00:00Z')).toMatchObject({ fingerprint: 'k', status: 'firing', labels: { severity: 'info', source: 'x' } });
  });
});
