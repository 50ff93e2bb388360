import type { Client } from '@temporalio/client';
import type { TemporalConnection } from '../clients/temporal.js';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError } from 'fastify';
import type { Logger } from '../logging/logger.js';
import { registerIntakeRoutes, type IntakeDeps } from './intake.js';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.js';
import { registerOnCallRoutes, type OnCallRouteDeps } from './oncall-routes.js';
import { registerAckRoutes, type AckRouteDeps } from './ack-routes.js';
import { registerPagerDutyRoutes, type PagerDutyRouteDeps } from './pagerduty-routes.js';
import { registerSlackRoutes, type SlackRouteDeps } from './slack-routes.js';
import { registerOpsStateMetrics, type OpsStateSources } from './ops-state-metrics.js';

/** Largest body any route accepts; bigger deliveries get 413 before they are read whole. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface WebhookServerDeps {
  temporal: Client;
  /** The client's connection, whose health check answers /readyz. */
  temporalConnection: TemporalConnection;
  logger: Logger;
  metrics?: WebhookMetrics;
  /** How long /readyz waits for Temporal before answering 503. */
  readinessTimeoutMs?: number;
  /** Our tables and schedules as gauges in /metrics; absent in tests of the server alone. */
  opsState?: Omit<OpsStateSources, 'temporal'>;
  /** The alert routes; absent in tests of the server alone. */
  intake?: Omit<IntakeDeps, 'temporal' | 'alertsAccepted'>;
  /** Schedules as calendar feeds; absent in tests of the server alone. */
  oncall?: OnCallRouteDeps;
  /** Slack's buttons and slash commands; absent in tests of the server alone. */
  slack?: Omit<SlackRouteDeps, 'temporal' | 'logger'>;
  /** PagerDuty's webhooks; absent in tests of the server alone. */
  pagerduty?: Omit<PagerDutyRouteDeps, 'temporal' | 'logger'>;
  /** One-click acknowledgement from email pages; absent in tests of the server alone. */
  ack?: Omit<AckRouteDeps, 'temporal' | 'logger'>;
}

/**
 * The HTTP intake: health, readiness and metrics here; the alert routes are
 * registered on the returned instance. Routes speak JSON only, bodies are
 * capped at 1 MiB, and a client error is always a 4xx naming the problem.
 */
export function buildWebhookServer(deps: WebhookServerDeps) {
  const metrics = deps.metrics ?? createWebhookMetrics();
  if (deps.opsState) registerOpsStateMetrics(metrics.registry, { ...deps.opsState, temporal: deps.temporal });
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'webhooks' }) as FastifyBaseLogger,
    // Requests are counted in /metrics; a log line each would drown the log in an alert storm.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Acknowledgement tokens and schedule names are path parameters longer than Fastify's default of 100.
    routerOptions: { maxParamLength: 2048 },
    // Behind a proxy the client address comes from X-Forwarded-For.
    trustProxy: true,
  });

  // JSON only: without a parser for text/plain, any other type is answered 415.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error, route: request.routeOptions.url }, 'request failed');
      return reply.code(status).send({ error: 'internal error', status });
    }
    return reply.code(status).send({ error: error.message, status });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url}`, status: 404 }),
  );

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.duration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const timeoutMs = deps.readinessTimeoutMs ?? 2000;
    try {
      const connection = deps.temporalConnection;
      await connection.withDeadline(Date.now() + timeoutMs, () => connection.healthService.check({}));
      return { status: 'ready', temporal: 'reachable' };
    } catch (error) {
      return reply.code(503).send({ status: 'not ready', temporal: `unreachable: ${(error as Error).message}` });
    }
  });

  if (deps.intake) registerIntakeRoutes(app, { ...deps.intake, temporal: deps.temporal, alertsAccepted: metrics.alertsAccepted });
  if (deps.oncall) registerOnCallRoutes(app, deps.oncall);
  if (deps.slack) registerSlackRoutes(app, { ...deps.slack, temporal: deps.temporal, logger: deps.logger });
  if (deps.pagerduty) registerPagerDutyRoutes(app, { ...deps.pagerduty, temporal: deps.temporal, logger: deps.logger });
  if (deps.ack) registerAckRoutes(app, { ...deps.ack, temporal: deps.temporal, logger: deps.logger });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  return app;
}

export type WebhookServer = ReturnType<typeof buildWebhookServer>;
