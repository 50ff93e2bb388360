import { createClients } from '../clients/index.js';
import { installRuntime } from '../clients/temporal-runtime.js';
import { loadConfig } from '../config/index.js';
import { runEntrypoint } from '../config/entrypoint.js';
import { ackSecretOf } from '../incidents/ack-token.js';
import { createLogger } from '../logging/logger.js';
import { createRejectionRecorder } from './rejected-deliveries.js';
import { createReplayGuard } from './replay-guard.js';
import { buildWebhookServer } from './server.js';

/** The webhook server process: intake in, signalWithStart out; it never waits on a workflow. */
async function main(): Promise<void> {
  const { env, policy } = loadConfig();
  const logger = createLogger({ level: env.OPS_LOG_LEVEL, name: 'ops-webhooks' });
  if (!env.OPS_WEBHOOK_TOKEN && !env.OPS_WEBHOOK_HMAC_SECRET) {
    logger.warn('neither OPS_WEBHOOK_TOKEN nor OPS_WEBHOOK_HMAC_SECRET is set: every delivery will be refused with 401');
  }
  // Its Temporal client is the SDK's native one: the runtime carries that client's logs into ours.
  installRuntime(logger, 0);
  const clients = await createClients(env, 'ops-webhooks', { kubernetes: false });
  const replayGuard = createReplayGuard(clients.pool);
  const app = buildWebhookServer({
    temporal: clients.temporal,
    temporalConnection: clients.temporalConnection,
    logger,
    opsState: { pool: clients.pool, schedulePrefix: env.OPS_SCHEDULE_PREFIX },
    intake: {
      taskQueue: env.OPS_TASK_QUEUE,
      webhookToken: env.OPS_WEBHOOK_TOKEN,
      hmacSecret: env.OPS_WEBHOOK_HMAC_SECRET,
      grouping: policy.grouping.rules,
      severity: { defaultSeverity: policy.incidents.defaultSeverity, overrides: policy.severity.overrides },
      recordRejection: createRejectionRecorder(clients.pool, logger),
    },
    oncall: { pool: clients.pool, policy, webhookToken: env.OPS_WEBHOOK_TOKEN },
    slack: { pool: clients.pool, policy, signingSecret: env.SLACK_SIGNING_SECRET, slack: clients.slack, replayGuard },
    pagerduty: { pool: clients.pool, policy, webhookSecret: env.PAGERDUTY_WEBHOOK_SECRET, replayGuard },
    ack: { pool: clients.pool, secret: ackSecretOf(env) },
  });

  const stop = async (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down: finishing requests in flight');
    await app.close();
    await clients.close();
    logger.info('webhook server stopped');
  };
  process.once('SIGINT', (signal) => void stop(signal));
  process.once('SIGTERM', (signal) => void stop(signal));

  const address = await app.listen({ port: env.OPS_WEBHOOK_PORT, host: env.OPS_WEBHOOK_HOST });
  logger.info({ address }, 'webhook server listening');
}

runEntrypoint('ops-webhooks', main);
