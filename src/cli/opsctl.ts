import type { S3Client } from '@aws-sdk/client-s3';
import { ServiceError, type Client, type Connection } from '@temporalio/client';
import { Command, CommanderError } from 'commander';
import type pg from 'pg';
import { createPgPool } from '../clients/postgres.js';
import { createS3Client } from '../clients/s3.js';
import { connectTemporalClient } from '../clients/temporal.js';
import { ConfigError, loadConfig, type AppConfig } from '../config/index.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerBackupCommands } from './commands/backups.js';
import { registerComplianceCommands } from './commands/compliance.js';
import { registerIncidentCommands } from './commands/incidents.js';
import { registerMaintenanceCommands } from './commands/maintenance.js';
import { registerMonitorCommands } from './commands/monitor.js';
import { registerOnCallCommands } from './commands/oncall.js';
import { registerRemediationCommands } from './commands/remediation.js';
import { registerReportCommands } from './commands/reports.js';
import { registerSloCommands } from './commands/slo.js';
import { registerRolloutCommands } from './commands/rollouts.js';
import { registerScheduleCommands } from './commands/schedules.js';
import { EXIT, UserError } from './output.js';

/**
 * opsctl, the operator CLI. Clients are created on first use, so `--help`
 * and a usage error never need a database or Temporal.
 */
const program = new Command('opsctl')
  .description('operate ops-automation: incidents, on-call, backups, database maintenance, rollouts, maintenance windows, schedules, the audit trail, the deployment monitor, compliance reports')
  .option('--json', 'print JSON for scripts instead of tables')
  .exitOverride();

let config: AppConfig | undefined;
let pool: pg.Pool | undefined;
let s3: S3Client | undefined;
let temporal: Promise<{ client: Client; connection: Connection }> | undefined;
const context = {
  config: () => (config ??= loadConfig()),
  pool: () => (pool ??= createPgPool(context.config().env.DATABASE_URL, 'opsctl')),
  temporal: async () => {
    temporal ??= connectTemporalClient(context.config().env).catch((error: unknown) => {
      throw new UserError(`cannot reach Temporal at ${context.config().env.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS): ${(error as Error).message}`, EXIT.unavailable);
    });
    return (await temporal).client;
  },
  s3: () => (s3 ??= createS3Client(context.config().env)),
  bucket: () => context.config().env.S3_BUCKET,
  taskQueue: () => context.config().env.OPS_TASK_QUEUE,
  schedulePrefix: () => context.config().env.OPS_SCHEDULE_PREFIX,
  heartbeat: () => Boolean(context.config().env.OPS_HEARTBEAT_URL),
  policy: () => context.config().policy,
  json: () => Boolean(program.opts<{ json?: boolean }>().json),
};

registerIncidentCommands(program, context);
registerBackupCommands(program, context);
registerMaintenanceCommands(program, context);
registerOnCallCommands(program, context);
registerRolloutCommands(program, context);
registerRemediationCommands(program, context);
registerReportCommands(program, context);
registerSloCommands(program, context);
registerScheduleCommands(program, context);
registerAuditCommands(program, context);
registerMonitorCommands(program, context);
registerComplianceCommands(program, context);

function connectionProblem(error: unknown): string | undefined {
  if (error instanceof ServiceError) return `Temporal refused or could not answer: ${error.message}`;
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === '3D000' || code === '28P01') {
    return `cannot reach PostgreSQL (DATABASE_URL): ${(error as Error).message}`;
  }
  return undefined;
}

try {
  await program.parseAsync(process.argv);
  // A command that found something wrong (a runbook that did not help, an unhealthy deployment) has set its own code.
  process.exitCode ??= EXIT.ok;
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (error instanceof UserError) {
    process.stderr.write(`opsctl: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else if (error instanceof ConfigError) {
    process.stderr.write(`opsctl: ${error.message}\n`);
    process.exitCode = EXIT.usage;
  } else if (connectionProblem(error)) {
    process.stderr.write(`opsctl: ${connectionProblem(error)}\n`);
    process.exitCode = EXIT.unavailable;
  } else {
    process.stderr.write(`opsctl: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = EXIT.failure;
  }
} finally {
  await pool?.end();
  s3?.destroy();
  if (temporal) await (await temporal.catch(() => undefined))?.connection.close();
}
