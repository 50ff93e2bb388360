import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { IncomingAlert } from '../domain/alerts.js';

/**
 * Generic events shaped like PagerDuty's Events API v2: trigger, acknowledge
 * and resolve by dedup_key; a trigger carries payload.summary, source and
 * severity. Unknown fields are kept.
 */

const payloadSchema = z.looseObject({
  summary: z.string().min(1, 'must not be empty').max(1024, 'is longer than 1024 characters'),
  source: z.string().min(1, 'must not be empty'),
  severity: z.enum(['critical', 'error', 'warning', 'info'], { error: 'expected critical, error, warning or info' }),
  timestamp: z.iso.datetime({ offset: true, error: 'expected an RFC 3339 time' }).optional(),
  component: z.string().optional(),
  group: z.string().optional(),
  class: z.string().optional(),
  custom_details: z.unknown().optional(),
});

export const eventSchema = z
  .looseObject({
    routing_key: z.string().optional(),
    event_action: z.enum(['trigger', 'acknowledge', 'resolve'], { error: 'expected trigger, acknowledge or resolve' }),
    dedup_key: z.string().min(1, 'must not be empty').max(255, 'is longer than 255 characters').optional(),
    payload: payloadSchema.optional(),
    client: z.string().optional(),
    client_url: z.string().optional(),
    links: z.array(z.looseObject({ href: z.string(), text: z.string().optional() })).optional(),
  })
  .superRefine((event, context) => {
    if (event.event_action === 'trigger' && !event.payload) {
      context.addIssue({ code: 'custom', path: ['payload'], message: 'is required for a trigger' });
    }
    if (event.event_action !== 'trigger' && !event.dedup_key) {
      context.addIssue({ code: 'custom', path: ['dedup_key'], message: `is required for ${event.event_action}` });
    }
  });

export type OpsEvent = z.infer<typeof eventSchema>;

/**
 * The event's dedup key. A trigger without one gets a key derived from what it
 * describes, so a sender retrying the same trigger lands on the same incident.
 */
export function eventDedupKey(event: OpsEvent): string {
  if (event.dedup_key) return event.dedup_key;
  const payload = event.payload!;
  const identity = [payload.source, payload.summary, payload.component, payload.group, payload.class].map((part) => part ?? '').join('\u0000');
  return createHash('sha256').update(identity).digest('hex').slice(0, 32);
}

/** A trigger or resolve as the one alert of its incident, fingerprinted by its dedup key. */
export function alertFromEvent(event: OpsEvent, dedupKey: string, receivedAt: string): IncomingAlert {
  const payload = event.payload;
  const details = (payload?.custom_details ?? {}) as Record<string, unknown>;
  const service = typeof details.service === 'string' ? details.service : (payload?.group ?? payload?.component);
  const labels: Record<string, string> = {
    alertname: payload?.class ?? 'event',
    ...(payload ? { severity: payload.severity, source: payload.source } : {}),
    ...(payload?.component ? { component: payload.component } : {}),
    ...(payload?.group ? { group: payload.group } : {}),
    ...(service ? { service } : {}),
  };
  const generatorURL = event.client_url ?? event.links?.[0]?.href;
  return {
    fingerprint: dedupKey,
    status: event.event_action === 'resolve' ? 'resolved' : 'firing',
    labels,
    annotations: payload ? { summary: payload.summary, ...(event.client ? { client: event.client } : {}) } : {},
    ...(event.event_action === 'trigger' ? { startsAt: payload?.timestamp ?? receivedAt } : {}),
    ...(generatorURL ? { generatorURL } : {}),
  };
}
