import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { IncomingAlert } from '../domain/alerts.js';

/**
 * Alertmanager's webhook payload, version "4", as Alertmanager sends it.
 * Fields we do not use are kept (looseObject), never a reason to refuse.
 */

const labelSet = z.record(z.string(), z.string({ error: 'expected a string label value' }));
const rfc3339 = z.iso.datetime({ offset: true, error: 'expected an RFC 3339 time' });

const alertSchema = z.looseObject({
  status: z.enum(['firing', 'resolved'], { error: 'expected "firing" or "resolved"' }),
  labels: labelSet,
  annotations: labelSet.default({}),
  startsAt: rfc3339,
  endsAt: rfc3339.optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().min(1).optional(),
});

export const alertmanagerPayloadSchema = z.looseObject({
  version: z.literal('4', { error: 'expected "4" (Alertmanager webhook payload version)' }),
  groupKey: z.string().min(1, 'must not be empty'),
  truncatedAlerts: z.number().int().min(0).default(0),
  status: z.enum(['firing', 'resolved'], { error: 'expected "firing" or "resolved"' }),
  receiver: z.string(),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: labelSet.default({}),
  externalURL: z.string().default(''),
  alerts: z.array(alertSchema).min(1, 'must hold at least one alert').max(10_000, 'holds more than 10000 alerts'),
});

export type AlertmanagerPayload = z.infer<typeof alertmanagerPayloadSchema>;

/** Alertmanager's "zero" endsAt for an alert still firing. */
const ZERO_TIME = /^0001-01-01T/;

/** Alertmanager fingerprints alerts by their label set; without one we do the same. */
function fingerprintOf(labels: Record<string, string>): string {
  const canonical = Object.keys(labels)
    .sort()
    .map((key) => `${key}\u0000${labels[key]}`)
    .join('\u0001');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

export function alertsFromAlertmanager(payload: AlertmanagerPayload): IncomingAlert[] {
  return payload.alerts.map((alert) => ({
    fingerprint: alert.fingerprint ?? fingerprintOf(alert.labels),
    status: alert.status,
    labels: alert.labels,
    annotations: alert.annotations,
    startsAt: alert.startsAt,
    ...(alert.endsAt && !ZERO_TIME.test(alert.endsAt) ? { endsAt: alert.endsAt } : {}),
    ...(alert.generatorURL ? { generatorURL: alert.generatorURL } : {}),
  }));
}
