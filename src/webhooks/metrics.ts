import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The webhook server's Prometheus metrics, on a registry of its own (no global state). */
export function createWebhookMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ops_webhooks_' });
  const requests = new Counter({
    name: 'ops_http_requests_total',
    help: 'HTTP requests answered by the intake, by route, method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'ops_http_request_duration_seconds',
    help: 'Time from request to response, by route.',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const alertsAccepted = new Counter({
    name: 'ops_intake_alerts_accepted_total',
    help: 'Alerts handed durably to Temporal, by intake route.',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  return { registry, requests, duration, alertsAccepted };
}

export type WebhookMetrics = ReturnType<typeof createWebhookMetrics>;
