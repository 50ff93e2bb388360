/**
 * The SDK's warnings and errors in a test run, one line each: what failed,
 * where, and the innermost message, without the stack traces and object dumps
 * that tests causing failures on purpose (a refused page, a failed scan)
 * would otherwise pour into the log. A real failure still shows, in a line.
 */
type Meta = Record<string, unknown> | undefined;

function innermost(error: unknown): string | undefined {
  let message: string | undefined;
  for (let current: unknown = error, depth = 0; current && typeof current === 'object' && depth < 10; depth += 1) {
    const text = (current as { message?: unknown }).message;
    if (typeof text === 'string' && text) message = text;
    current = (current as { cause?: unknown }).cause;
  }
  return message?.split('\n')[0];
}

export function oneLine(level: string, message: string, meta: Meta): string {
  const where = ['workflowType', 'activityType', 'workflowId', 'taskQueue']
    .map((key) => (meta && typeof meta[key] === 'string' ? `${key}=${meta[key]}` : undefined))
    .filter(Boolean)
    .join(' ');
  const error = innermost(meta?.error ?? meta?.failure ?? meta?.err);
  return `[sdk ${level}] ${message}${where ? ` (${where})` : ''}${error ? `: ${error}` : ''}`;
}

export const quietSdkLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string, meta?: Meta) => console.warn(oneLine('warn', message, meta)),
  error: (message: string, meta?: Meta) => console.error(oneLine('error', message, meta)),
};
