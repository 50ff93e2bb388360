import { createClients } from '../clients/index.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { createLogger } from '../logging/logger.js';
import { buildWebhookServer } from './server.js';

/** The webhook server process: intake in, signalWithStart out; it never waits on a workflow. */
async function main(): Promise<void> {
  const { env } = loadConfig();
  const logger = createLogger({ level: env.OPS_LOG_LEVEL, name: 'ops-webhooks' });
  const clients = await createClients(env, 'ops-webhooks');
  const app = buildWebhookServer({ temporal: clients.temporal, temporalConnection: clients.temporalConnection, logger });

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

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`ops-webhooks: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`ops-webhooks: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
