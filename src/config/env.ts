import { existsSync } from 'node:fs';
import { z } from 'zod';
import { ageIdentities } from '../domain/backup-encryption.js';
import { isAgeIdentity } from './age-keys.js';
import { ConfigError } from './config-error.js';

/** Variables whose values are never echoed in an error message. */
const SECRET_VARIABLES = new Set([
  'S3_SECRET_ACCESS_KEY',
  'SLACK_TOKEN',
  'PAGERDUTY_ROUTING_KEY',
  'OPS_WEBHOOK_TOKEN',
  'OPS_WEBHOOK_HMAC_SECRET',
  'TEMPORAL_API_KEY',
  'SMTP_URL',
  'DATABASE_URL',
  'SLACK_SIGNING_SECRET',
  'PAGERDUTY_WEBHOOK_SECRET',
  'OPS_ACK_SECRET',
  'OPS_HEARTBEAT_URL',
  'OPS_BACKUP_AGE_IDENTITY',
]);

const hostPort = z
  .string()
  .regex(/^[^\s:/]+:\d{1,5}$/, 'expected host:port, for example localhost:7233');

const port = z.coerce
  .number({ error: 'expected a port number' })
  .int('expected a whole port number')
  .min(0, 'expected a port from 0 to 65535')
  .max(65535, 'expected a port from 0 to 65535');

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

const postgresUrl = z.url({
  protocol: /^postgres(ql)?$/,
  error: 'expected a postgres:// or postgresql:// URL',
});

const smtpUrl = z.url({ protocol: /^smtps?$/, error: 'expected an smtp:// or smtps:// URL' });

const existingFile = z.string().refine((path) => existsSync(path), 'file does not exist');

const nonEmpty = z.string().trim().min(1, 'must not be empty');

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
  error: 'expected one of trace, debug, info, warn, error, fatal, silent',
});

/** The text of an age identity file: every non-comment line an identity age can use. */
const ageIdentityText = z.string().superRefine((text, context) => {
  const identities = ageIdentities(text);
  if (identities.length === 0) context.addIssue({ code: 'custom', message: 'expected one or more AGE-SECRET-KEY-1... lines (an age identity file)' });
  identities.forEach((identity, index) => {
    // Never the key itself in the message.
    if (!isAgeIdentity(identity)) context.addIssue({ code: 'custom', message: `identity ${index + 1} is not an age identity: expected AGE-SECRET-KEY-1... as age-keygen writes it, its checksum intact` });
  });
});

/** The environment contract of ../shared/design.md; defaults are the embedded stack. */
const envSchema = z.object({
  TEMPORAL_ADDRESS: hostPort.default('localhost:7233'),
  TEMPORAL_NAMESPACE: nonEmpty.default('default'),
  TEMPORAL_API_KEY: nonEmpty.optional(),
  TEMPORAL_TLS: bool.optional(),
  TEMPORAL_TLS_CERT: existingFile.optional(),
  TEMPORAL_TLS_KEY: existingFile.optional(),
  TEMPORAL_UI_URL: httpUrl.default('http://localhost:8233'),
  OPS_TASK_QUEUE: nonEmpty.default('ops'),
  /** Where backups run their dump and restore, when a dedicated data worker serves them (workers/data-worker.ts); default the main queue. */
  OPS_DATA_TASK_QUEUE: nonEmpty.optional(),
  /** Schedule IDs start with this; apply deletes only undeclared schedules under it (two deployments in one namespace use two). */
  OPS_SCHEDULE_PREFIX: z.string().regex(/^[a-z0-9][a-z0-9-]*-$/, 'expected lower-case letters, digits and "-", ending in "-" (for example ops-)').default('ops-'),
  DATABASE_URL: postgresUrl.default('postgres://postgres@127.0.0.1:5432/ops_automation'),
  S3_ENDPOINT: httpUrl.default('http://127.0.0.1:9000'),
  S3_REGION: nonEmpty.default('us-east-1'),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name (3-63 of a-z 0-9 . -)')
    .default('ops-automation'),
  S3_ACCESS_KEY_ID: nonEmpty.default('minioadmin'),
  S3_SECRET_ACCESS_KEY: nonEmpty.default('minioadmin'),
  SLACK_TOKEN: nonEmpty.optional(),
  SLACK_API_URL: httpUrl.default('https://slack.com/api/'),
  SLACK_CHANNEL: nonEmpty.default('#ops-incidents'),
  /** Verifies Slack's interactivity and slash-command requests (the app's Signing Secret). */
  SLACK_SIGNING_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Verifies PagerDuty Webhooks v3 (the subscription's secret). */
  PAGERDUTY_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Signs the one-click acknowledgement links of email pages; default derived from OPS_WEBHOOK_TOKEN. */
  OPS_ACK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Where people reach the webhook server, for links in pages (email acknowledgement). */
  OPS_PUBLIC_URL: httpUrl.default('http://localhost:8080'),
  /** The dead man's switch: called every minute by the ops-heartbeat schedule (its URL carries a token). */
  OPS_HEARTBEAT_URL: httpUrl.optional(),
  /** The worker's own files (the journal of pages sent while our database was down); a volume that outlives the process. */
  OPS_STATE_DIR: nonEmpty.default('.ops/state'),
  SMTP_URL: smtpUrl.optional(),
  SMTP_FROM: nonEmpty.default('ops-automation <ops@localhost>'),
  PAGERDUTY_ROUTING_KEY: nonEmpty.optional(),
  PAGERDUTY_EVENTS_URL: httpUrl.default('https://events.pagerduty.com/v2/enqueue'),
  KUBECONFIG: existingFile.optional(),
  PROMETHEUS_URL: httpUrl.default('http://127.0.0.1:9090'),
  OPS_WEBHOOK_PORT: port.default(8080),
  OPS_WEBHOOK_HOST: nonEmpty.default('0.0.0.0'),
  OPS_WEBHOOK_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  OPS_WEBHOOK_HMAC_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  OPS_WORKER_METRICS_PORT: port.default(9464),
  /** The worker's memory budget in MB; sizes its workflow cache and task slots (default: the cgroup's limit). */
  OPS_WORKER_MEMORY_MB: z.coerce.number({ error: 'expected a number of MB' }).int('expected a whole number of MB').min(256, 'expected at least 256 (MB)').optional(),
  /**
   * Whether the worker answers the stack trace query (the Web UI's "Stack Trace" tab): the SDK's promise
   * hook behind it costs a fifth of a busy worker's CPU, so it is off unless asked for (patches/; the
   * workflow threads read it from the environment when they start).
   */
  OPS_WORKFLOW_STACK_TRACES: z.enum(['on', 'off'], { error: 'expected on or off' }).default('off'),
  /** The age identity (secret key) that decrypts encrypted backups for verification, drills and restores. */
  OPS_BACKUP_AGE_IDENTITY: ageIdentityText.optional(),
  OPS_CONFIG: existingFile.optional(),
  OPS_WORKFLOW_BUNDLE: existingFile.optional(),
  OPS_LOG_LEVEL: logLevel.default('info'),
});

export type Env = z.infer<typeof envSchema>;

/**
 * Parses the process environment. Empty strings count as unset, so `FOO=` in a
 * compose file means "use the default". Throws a ConfigError whose message is
 * one line naming every bad variable.
 */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const relevant: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = source[key];
    if (value !== undefined && value !== '') relevant[key] = value;
  }
  const parsed = envSchema.safeParse(relevant);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const variable = String(issue.path[0]);
    const shown = SECRET_VARIABLES.has(variable) ? '' : ` (got "${relevant[variable]}")`;
    return `${variable}: ${issue.message}${shown}`;
  });
  throw new ConfigError(`Invalid environment: ${problems.join('; ')}`);
}
