import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { TemporalConnection } from '../../src/clients/temporal.js';
import type pg from 'pg';
import { createLogger } from '../../src/logging/logger.js';
import type { IntakeDeps } from '../../src/webhooks/intake.js';
import { createRejectionRecorder } from '../../src/webhooks/rejected-deliveries.js';
import { buildWebhookServer, type WebhookServer } from '../../src/webhooks/server.js';

/**
 * The webhook server with its alert routes on a free loopback port, quiet,
 * recording refusals in the test database. Defaults: no grouping rules,
 * medium default severity.
 */
export async function startIntakeServer(options: {
  temporal: Client;
  temporalConnection: TemporalConnection;
  pool: pg.Pool;
  intake: Pick<IntakeDeps, 'taskQueue' | 'webhookToken'> & Partial<Omit<IntakeDeps, 'temporal' | 'alertsAccepted' | 'recordRejection'>>;
  readinessTimeoutMs?: number;
}): Promise<{ app: WebhookServer; base: string }> {
  const logger = createLogger({ level: 'silent' });
  const app = buildWebhookServer({
    temporal: options.temporal,
    temporalConnection: options.temporalConnection,
    logger,
    ...(options.readinessTimeoutMs ? { readinessTimeoutMs: options.readinessTimeoutMs } : {}),
    intake: {
      grouping: [],
      severity: { defaultSeverity: 'medium', overrides: [] },
      recordRejection: createRejectionRecorder(options.pool, logger),
      ...options.intake,
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}
