import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Field names whose values are secrets wherever they appear in a log record.
 * Secrets come from the environment and must never reach logs.
 */
const REDACTED_PATHS = [
  'token',
  'password',
  'secret',
  'authorization',
  'apiKey',
  'routingKey',
  '*.token',
  '*.password',
  '*.secret',
  '*.authorization',
  '*.apiKey',
  '*.routingKey',
  'headers.authorization',
  'headers["x-ops-signature"]',
  'req.headers.authorization',
  'req.headers["x-ops-signature"]',
];

/** One structured JSON logger per process; children add a `component` field. */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? 'ops-automation',
    level: options.level ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
